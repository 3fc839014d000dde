"""Bring your own model: the app on a user's own SD folder (saved by save_pretrained, its tokenizer written from
vocab.json + merges.txt) and on a StyleGAN2 converted from an NVlabs pickle, every endpoint called through
gradio_client; and the start-up sentence for every broken folder."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from edits.pipeline import ModelLoadError


# ------------------------------------------------------------------ start-up errors name the file
def _broken_sd(tmp_path, src, name, damage):
    folder = tmp_path / name
    shutil.copytree(src, folder)
    damage(folder)
    return folder


SD_DAMAGE = {
    "empty index": (lambda f: (f / "model_index.json").write_text("{}"), r"model_index.json names no pipeline class"),
    "invalid index": (lambda f: (f / "model_index.json").write_text("{not json"), r"model_index.json is not valid JSON"),
    "index not an object": (lambda f: (f / "model_index.json").write_text("[]"), r"model_index.json holds no JSON object"),
    "index without unet": (lambda f: (f / "model_index.json").write_text(json.dumps(
        {k: v for k, v in json.loads((f / "model_index.json").read_text()).items() if k != "unet"})),
        r"model_index.json lists no unet"),
    "no unet folder": (lambda f: shutil.rmtree(f / "unet"), r"has no unet/ subfolder"),
    "no unet config": (lambda f: (f / "unet" / "config.json").unlink(), r"unet has no config.json"),
    "invalid vae config": (lambda f: (f / "vae" / "config.json").write_text(""), r"vae/config.json is not valid JSON"),
    "no unet weights": (lambda f: [p.unlink() for p in (f / "unet").glob("*.safetensors")],
                        r"unet has no weights \(no .safetensors or .bin file\)"),
    "no text encoder weights": (lambda f: [p.unlink() for p in (f / "text_encoder").glob("*.safetensors")],
                                r"text_encoder has no weights"),
    "no tokenizer files": (lambda f: [p.unlink() for p in (f / "tokenizer").glob("*.json")],
                           r"tokenizer has neither tokenizer.json nor vocab.json"),
    "no scheduler config": (lambda f: (f / "scheduler" / "scheduler_config.json").unlink(),
                            r"scheduler has no scheduler_config.json"),
}


@pytest.mark.parametrize("case", list(SD_DAMAGE))
def test_a_broken_sd_folder_names_what_is_wrong(tmp_path, tiny_sd_64_dir, case):
    from edits.pipeline import load_diffusion

    damage, message = SD_DAMAGE[case]
    folder = _broken_sd(tmp_path, tiny_sd_64_dir, "pipe", damage)
    with pytest.raises(ModelLoadError, match=message) as e:
        load_diffusion(folder, device="cpu")
    assert "\n" not in str(e.value)


def test_the_app_exits_with_the_sentence(tmp_path, tiny_sd_64_dir, capsys):
    import app

    folder = _broken_sd(tmp_path, tiny_sd_64_dir, "pipe", lambda f: shutil.rmtree(f / "unet"))
    for flag in ("--diffusion-model", "--hspace-model"):
        with pytest.raises(SystemExit) as e:
            app.main([flag, str(folder)])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "has no unet/ subfolder" in err and err.count("\n") == 1


def _gan_folder(tmp_path):
    from nets.stylegan import Generator, StyleGANConfig, save_generator

    from .conftest import TINY_GAN

    torch.manual_seed(0)
    return save_generator(Generator(StyleGANConfig(**TINY_GAN)), tmp_path / "gan", dtype=torch.float32)


GAN_DAMAGE = {
    "no config": (lambda f: (f / "config.json").unlink(), r"has no config.json \("),
    "no weights": (lambda f: (f / "generator.safetensors").unlink(), r"has no generator.safetensors \("),
    "neither": (lambda f: [(f / n).unlink() for n in ("config.json", "generator.safetensors")],
                r"has no config.json and no generator.safetensors"),
    "invalid config": (lambda f: (f / "config.json").write_text("{"), r"config.json is not valid JSON"),
    "config without shape": (lambda f: (f / "config.json").write_text(json.dumps({"resolution": 16})),
                             r"config.json lacks z_dim, w_dim, n_mlp, channels"),
    "missing decoder": (lambda f: (f / "config.json").write_text(json.dumps(
        {**json.loads((f / "config.json").read_text()), "decoder": "vae"})), r"names a decoder folder 'vae'"),
    "garbage weights": (lambda f: (f / "generator.safetensors").write_bytes(b"\0garbage" * 64),
                        r"generator.safetensors may be incomplete, corrupt"),
    "weights of another shape": (lambda f: (f / "config.json").write_text(json.dumps(
        {**json.loads((f / "config.json").read_text()), "w_dim": 32})), r"could not be read \(RuntimeError"),
}


@pytest.mark.parametrize("case", list(GAN_DAMAGE))
def test_a_broken_gan_folder_names_what_is_wrong(tmp_path, case):
    from edits.gan import load_gan

    folder = _gan_folder(tmp_path)
    load_gan(folder)  # whole, it loads
    damage, message = GAN_DAMAGE[case]
    damage(folder)
    with pytest.raises(ModelLoadError, match=message) as e:
        load_gan(folder)
    assert "\n" not in str(e.value)


def test_no_gan_folder(tmp_path):
    from edits.gan import load_gan

    with pytest.raises(ModelLoadError, match="There is no StyleGAN folder .* `python -m edits.convert stylegan"):
        load_gan(tmp_path / "nowhere")


# ------------------------------------------------------------------ seeds of a converted generator
def _converted(tmp_path):
    from edits.convert import convert_stylegan

    from .test_convert import write_pickle

    write_pickle(tmp_path / "network-snapshot.pkl", tmp_path / "MARKER")
    return convert_stylegan(tmp_path / "network-snapshot.pkl", tmp_path / "converted")


def test_a_converted_generator_draws_seed_n_as_nvlabs_does(tmp_path, tiny_gan):
    import numpy as np

    from edits.gan import load_gan

    folder = _converted(tmp_path)
    assert json.loads((folder / "config.json").read_text())["seed_convention"] == "nvlabs"
    gan = load_gan(folder)
    for n in (0, 7, 2**32 - 1):
        want = torch.from_numpy(np.random.RandomState(n).randn(1, gan.generator.cfg.z_dim)).float()
        assert torch.equal(gan.z_from_seeds([n]), want)
    assert torch.equal(gan.w_from_seed(7), gan.generator.mapping(gan.z_from_seeds([7])))
    # a folder converted before the field existed: its converted_from says NVlabs
    cfg = json.loads((folder / "config.json").read_text())
    del cfg["seed_convention"]
    (folder / "config.json").write_text(json.dumps(cfg))
    assert load_gan(folder).seed_convention == "nvlabs"
    # the embedded models (and any generator saved by training/) keep their torch.Generator seeds
    assert tiny_gan.seed_convention == "torch"
    from edits.pipeline import make_generator

    assert torch.equal(tiny_gan.z_from_seeds([7]), torch.randn(1, tiny_gan.generator.cfg.z_dim,
                                                                generator=make_generator(7)))
    cfg["seed_convention"] = "matlab"
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="seed_convention 'matlab'"):
        load_gan(folder)

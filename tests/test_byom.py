"""Bring your own model: the app on a user's own SD folder (saved by save_pretrained, its tokenizer written from
vocab.json + merges.txt) and on a StyleGAN2 converted from an NVlabs pickle, every endpoint called through
gradio_client; and the start-up sentence for every broken folder."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from edits.compare import METHODS, TITLES
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


# ------------------------------------------------------------------ every endpoint, on the user's models
COLOURS = ("red", "green", "blue")


@pytest.fixture(scope="module")
def converted_gan_dir(tmp_path_factory):
    return _converted(tmp_path_factory.mktemp("nvlabs"))


@pytest.fixture(scope="module")
def colour_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("labels") / "colours.csv"
    path.write_text("seed,label\n" + "\n".join(f"{i},{COLOURS[i % 3]}" for i in range(24)))
    return path


class _Failures(__import__("logging").Handler):
    """Every unexpected error the app logs (friendly() logs them at ERROR with their traceback)."""

    def __init__(self):
        super().__init__(level=__import__("logging").ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(f"{record.getMessage()}: {record.exc_text or ''}"[:2000])


@pytest.fixture()
def launched():
    """launched(argv) -> (blocks, client): the app as `python app.py ARGV` builds it, in-process."""
    import logging

    from gradio_client import Client

    import app
    import demo

    failures, started = _Failures(), []
    logging.getLogger("demo").addHandler(failures)

    def launch(argv):
        blocks = app.create_app(argv)
        blocks.launch(prevent_thread_lock=True, quiet=True, **demo.launch_kwargs())
        started.append(blocks)
        return blocks, Client(blocks.local_url, verbose=False)

    try:
        yield launch
    finally:
        for b in started:
            b.close()
        logging.getLogger("demo").removeHandler(failures)
        assert not failures.records, "internal failures:\n" + "\n".join(failures.records)


def _img(path):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def _refused(client, *args, api_name, match):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as e:
        client.predict(*args, api_name=api_name)
    text = str(e.value)
    assert match in text and "went wrong on our side" not in text, text
    return text


def _first_views(blocks):
    """Every tab's first view (what opening the tab draws), called as the page calls it, for seed 7."""
    from demo import TABS

    views = {f"show_{key}" for key, _, _ in TABS}  # (demo.common.lazy names them so)
    for f in blocks.fns.values():
        name = getattr(f.fn, "__name__", "")
        if name in views:
            values = [getattr(c, "value", None) for c in f.inputs[3:]]
            out = f.fn(name[len("show_"):], 7, None, *values)
            assert out[-1] == 7, name  # drawn for the seed, not skipped


def _sefa(client, **args):
    """/edit_w's keyword arguments with the first SeFa slider set (found by its label)."""
    params = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/edit_w"]["parameters"]
    name = next(p["parameter_name"] for p in params if "(SeFa) #1" in (p.get("label") or ""))
    return {**args, name: 2.0}


def _every_endpoint(client, colour_csv, diffusion_px: int, gan_px: int, h_shipped: bool, w_shipped: bool):
    """Each endpoint once or more: a missing direction first (a sentence that says how to fit one), then the
    visitor's own fits (/fit_h, /fit_w, from a CSV of seed,label), which every other endpoint then uses."""
    from gradio_client import handle_file

    csv = handle_file(str(colour_csv))
    assert _img(client.predict("a red circle", "", 3, 2, 5.0, api_name="/generate")).shape == (diffusion_px,) * 2 + (3,)
    if not h_shipped:
        text = _refused(client, "a circle", 3, "colour", "blue", 1.0, api_name="/edit_h", match="no h-space direction")
        assert "Fit your own direction" in text and "python -m edits.fit hspace" in text
        _refused(client, "h-space (diffusion)", 0, api_name="/atlas", match="fewer than three colour directions")
    if not w_shipped:
        text = _refused(client, 5, 1.0, "colour", "blue", 1.0, api_name="/edit_w", match="no W-space direction")
        assert "Fit your own direction" in text and "SeFa" in text
        _refused(client, "StyleGAN: along a W direction", "", 3, 4, 5, "colour", "blue", api_name="/walk",
                 match="no direction")
    a, b = client.predict(**_sefa(client, seed=5, truncation_psi=1.0, attribute="colour", target=None, strength=1.0),
                          api_name="/edit_w")
    assert _img(a).shape == (gan_px, gan_px, 3) and (_img(a) != _img(b)).any()  # SeFa moves any generator

    out = client.predict("a {size} {shape}", "colour", "my CSV", 16, csv, api_name="/fit_h")
    assert "Fitted 3 direction" in out[2] and len(out[1]) == 3
    files, status, _ = client.predict("colour", "my CSV", 24, csv, api_name="/fit_w")
    assert "Fitted 3 direction" in status and len(files) == 3

    a, b = client.predict("a circle", 3, "colour", "red", 1.0, api_name="/edit_h")
    assert _img(a).shape == _img(b).shape == (diffusion_px, diffusion_px, 3)
    a, b = client.predict(5, 1.0, "colour", "red", 1.0, api_name="/edit_w")
    assert _img(a).shape == _img(b).shape == (gan_px, gan_px, 3)
    for kind in ("Diffusion: along an h-space direction", "StyleGAN: along a W direction"):
        gif, _, walked = client.predict(kind, "a circle", 3, 4, 3, "colour", "red", 1.5, 8, api_name="/walk")
        assert len(walked) == 2
    for space in ("h-space (diffusion)", "W space (StyleGAN)"):
        text, cos, _ = client.predict(space, 1, api_name="/atlas")
        assert "Spearman" in text and cos
    cols = client.predict(3, "large", "red", "circle", "white", "", "colour", "blue", api_name="/compare")
    assert all("distance" in cols[i] for i in (2, 5, 8)), cols  # h and W columns: the visitor's own directions
    table = client.predict(3, "large", "red", "circle", "white", "", "colour", "blue", 1, api_name="/compare_many")
    rows = [r[0] for r in table["data"]]  # W scored from the starting picture too when the GAN has an encoder
    assert rows[:3] == [TITLES[m] for m in METHODS] and rows[3:] in ([], [TITLES["wspace_end_to_end"]]), rows


def _nvlabs_seed_5(client, folder):
    """The W tab's picture of seed 5 is the one NVlabs' generate.py --seeds 5 draws."""
    import numpy as np

    from edits.gan import load_gan

    gan = load_gan(folder)
    z = torch.from_numpy(np.random.RandomState(5).randn(1, gan.generator.cfg.z_dim)).float()
    a, _ = client.predict(5, 1.0, "colour", "red", 0.0, api_name="/edit_w")
    assert (_img(a) == gan.render(gan.generator.mapping(z))[0]).all()


def test_the_app_on_a_users_sd_folder(launched, tiny_sd_64_dir, colour_csv):
    """The issue's user: a tiny random SD saved by save_pretrained, 64 px (h read pooled); the embedded StyleGAN."""
    blocks, client = launched(["--diffusion-model", str(tiny_sd_64_dir), "--steps", "2"])
    _first_views(blocks)
    _every_endpoint(client, colour_csv, 64, 64, h_shipped=False, w_shipped=True)


def test_the_app_on_a_converted_stylegan(launched, converted_gan_dir, colour_csv):
    """A StyleGAN2 converted from an NVlabs pickle, without directions; the embedded diffusion model."""
    blocks, client = launched(["--gan", str(converted_gan_dir), "--steps", "2"])
    _first_views(blocks)
    _every_endpoint(client, colour_csv, 64, 16, h_shipped=True, w_shipped=False)
    client.predict("StyleGAN: between two seeds", "", 3, 4, 3, api_name="/walk")
    _nvlabs_seed_5(client, converted_gan_dir)


def test_the_app_on_both(launched, tiny_sd_64_dir, converted_gan_dir, colour_csv):
    blocks, client = launched(["--diffusion-model", str(tiny_sd_64_dir), "--gan", str(converted_gan_dir),
                               "--steps", "2"])
    _first_views(blocks)
    _every_endpoint(client, colour_csv, 64, 16, h_shipped=False, w_shipped=False)
    _nvlabs_seed_5(client, converted_gan_dir)


def test_cli_fits_go_where_the_app_loads_them(tmp_path, tiny_sd_64_dir, converted_gan_dir, colour_csv, capsys):
    """`python -m edits.fit hspace --model FOLDER` writes FOLDER/directions, `wspace --gan FOLDER --labeler csv`
    FOLDER/directions, and the app loads both, checked against their models; directions of another model stop
    the start with a sentence."""
    import app
    from edits.fit import main
    from toyworld.settings import DIRECTIONS

    sd, gan = tmp_path / "sd", tmp_path / "gan"
    shutil.copytree(tiny_sd_64_dir, sd)
    shutil.copytree(converted_gan_dir, gan)
    two = tmp_path / "two.csv"  # two classes: the fewest samples a CLI fit takes (8)
    two.write_text("\n".join(f"{i},{COLOURS[i % 2]}" for i in range(8)))
    main(["hspace", "--model", str(sd), "--prompt", "a {shape}", "--attribute", "colour", "--labeler", "csv",
          "--labels", str(two), "--samples", "8", "--steps", "2"])
    main(["wspace", "--gan", str(gan), "--attribute", "colour", "--labeler", "csv", "--labels", str(colour_csv),
          "--samples", "24"])
    assert len(list((sd / "directions").glob("*.safetensors"))) == 2
    assert len(list((gan / "directions").glob("*.safetensors"))) == 3
    models = app.load_models(app.parse_args(["--diffusion-model", str(sd), "--gan", str(gan), "--steps", "2"]))
    assert sorted(models.h_directions) == ["colour: green", "colour: red"]
    assert sorted(models.w_directions) == [f"colour: {c}" for c in sorted(COLOURS)]
    assert all(d.pooled and d.meta["samples"] == 8 for d in models.h_directions.values())
    assert models.diffusion.default_steps == 2
    if DIRECTIONS.is_dir() and any(DIRECTIONS.glob("h_*.safetensors")):
        with pytest.raises(ModelLoadError, match="cannot be used: .*belongs to another model"):
            app.load_models(app.parse_args(["--diffusion-model", str(sd), "--h-directions", str(DIRECTIONS)]))
    with pytest.raises(SystemExit):
        main(["wspace", "--gan", str(tmp_path / "nowhere"), "--attribute", "colour"])
    assert "There is no StyleGAN folder" in capsys.readouterr().err

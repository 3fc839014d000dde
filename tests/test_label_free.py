"""The label-free StyleGAN: its training sees pictures only, runs, resumes and exports; encoder shapes; inversion."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nets.stylegan import StyleGANConfig
from edits.wspace import LABEL_FREE_GAN, invert, load_gan
from training import stylegan_label_free as lf

from .conftest import names_in_code


class PicturesOnly:
    """A stand-in data set that has pictures and nothing else: any other attribute access fails the test."""

    def __init__(self, n: int = 16):
        g = torch.Generator().manual_seed(0)
        self._x = torch.rand(n, 3, 64, 64, generator=g) * 2 - 1

    def __len__(self):
        return len(self._x)

    def batch(self, idx):
        return self._x[torch.as_tensor(idx)]

    def __getattr__(self, name):
        raise AssertionError(f"the label-free training asked its data for {name!r}")


def test_images_only_keeps_no_labels():
    data = lf.ImagesOnly(n=8, seed=123)
    assert set(vars(data)) == {"_images"}  # the labels make_dataset caches are dropped on load
    x = data.batch(np.arange(4))
    assert x.shape == (4, 3, 64, 64) and x.dtype == torch.float32 and -1 <= x.min() and x.max() <= 1


def test_training_code_never_names_a_label():
    """No name, attribute, keyword or subscript key in the module's code (docstrings aside) reaches a label."""
    used = names_in_code(lf)
    labels = {"make_pairs", "z_to_scene", "SceneToW", "FACTORS", "PAIR_FACTORS", "caption", "prompt_for", "geom",
              "labels", "fit_code_probe", "colour", "background", "balance_weight", "radius"}
    assert not used & labels, used & labels
    assert "images" in used  # and the one thing it does take from the cached data set


def test_smoke_train_resume_export(tmp_path):
    run = tmp_path / "run"
    r1 = lf.train(run, max_steps=2, batch=4, data=PicturesOnly(), init=tmp_path / "none", log=lambda m: None)
    assert r1["steps"] == 2 and (run / lf.CKPT_NAME).is_file()
    r2 = lf.train(run, max_steps=3, batch=4, data=PicturesOnly(), init=tmp_path / "none", log=lambda m: None)
    assert r2["steps"] == 3  # resumed from the checkpoint, one more step
    out = tmp_path / "out"
    rec = lf.export(run, out, mapping_steps=3, n_codes=16, data=PicturesOnly(), log=lambda m: None)
    assert rec["labels_used_in_training"] is False and rec["stage1_steps"] == 3
    assert json.loads((out / "config.json").read_text())["label_free"] is True
    gan = load_gan(out)
    assert gan.label_free and gan.encoder is not None
    assert gan.render(gan.w_from_seeds([1, 2])).shape == (2, 64, 64, 3)
    # without a checkpoint, training starts from the exported fp16 weights (a fresh optimiser)
    logs = []
    lf.train(tmp_path / "run2", max_steps=1, batch=4, data=PicturesOnly(), init=out, log=logs.append)
    assert any("starting from the exported weights" in m for m in logs)


def test_encoder_and_generator_shapes():
    G, E = lf.make_models()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    w = E(x)
    assert w.shape == (2, StyleGANConfig().w_dim)
    assert G.broadcast(w).shape == (2, G.n_latent, 128) and G.n_latent == 10
    assert G.synthesis(G.broadcast(w)).shape == (2, 3, 64, 64)
    assert G.mapping(torch.randn(2, 128)).shape == (2, 128)


def test_invert_shapes_and_optimisation_redraws_closer(tiny_gan):
    img = tiny_gan.render(tiny_gan.w_from_seeds([3]))[0]  # a picture the generator can draw
    assert tiny_gan.encoder is not None
    w0 = invert(tiny_gan, img, steps=0)  # the (random) encoder's code
    w1 = invert(tiny_gan, img, steps=60)
    assert w0.shape == w1.shape == (1, tiny_gan.w_dim)

    def err(w):
        return np.abs(tiny_gan.render(w)[0].astype(float) - img).mean()

    assert err(w1) < err(w0)


def test_invert_resizes_and_refuses_bad_arrays(tiny_gan):
    from edits.pipeline import InputError

    assert invert(tiny_gan, np.zeros((40, 40, 3), np.uint8), steps=0).shape == (1, tiny_gan.w_dim)
    with pytest.raises(InputError):
        invert(tiny_gan, np.zeros((16, 16), np.uint8))
    with pytest.raises(InputError):
        invert(tiny_gan, np.zeros((16, 16, 3), np.uint8), steps=10_000)


@pytest.mark.skipif(not (LABEL_FREE_GAN / "encoder.safetensors").is_file(), reason="label-free model not exported")
def test_shipped_label_free_round_trip_keeps_colour_and_background():
    """Invert -> generate on 16 rendered scenes. What holds for the shipped (1513-step) model: the redrawing is
    read with the scene's colour and background (measured 16/16 and 15/16); shape and size are not yet (5/16,
    6/16: reconstruction is what limits it, see its model card), so they are not asserted."""
    from edits.compare import Scorer
    from toyworld.world import render, sample_scene

    gan = load_gan(LABEL_FREE_GAN)
    assert gan.label_free and gan.encoder is not None
    rng = np.random.default_rng(5)
    scenes = np.stack([render(sample_scene(rng), 77_000 + i) for i in range(16)])
    scorer = Scorer()
    before, after = scorer(scenes), scorer(gan.render(invert(gan, scenes)))
    for factor, least in (("colour", 0.9), ("background", 0.85)):
        assert np.mean([a[factor] == b[factor] for a, b in zip(before, after)]) >= least, factor


def test_without_an_encoder_uploads_are_refused_and_compare_draws_the_seed(tiny_gan):
    from dataclasses import replace

    from edits.pipeline import InputError
    from edits.wspace import edit_image

    bare = replace(tiny_gan, encoder=None)
    with pytest.raises(InputError, match="no encoder"):
        edit_image(bare, np.zeros((16, 16, 3), np.uint8), [])
    assert invert(bare, np.zeros((16, 16, 3), np.uint8), steps=0).shape == (1, bare.w_dim)  # w_avg

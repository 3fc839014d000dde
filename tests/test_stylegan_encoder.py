"""The encoder trained after its generator (training/stylegan_encoder.py), on a tiny random StyleGAN."""
from __future__ import annotations

import json

import numpy as np
import torch

from nets.stylegan import Generator, StyleGANConfig, save_generator
from training import stylegan_encoder as se

from .conftest import TINY_GAN, names_in_code


class Samples:
    """Stand-in training pictures: the tiny generator's own pictures at other z (pictures only, no codes)."""

    def __init__(self, G, n=64):
        with torch.no_grad():
            self.x = G(torch.randn(n, G.cfg.z_dim, generator=torch.Generator().manual_seed(9)))

    def __len__(self):
        return len(self.x)

    def batch(self, idx):
        return self.x[torch.as_tensor(idx)]


def _latent_error(E, G, n=64, seed=5) -> float:
    """Whitened squared error of E(G(w)) against w on samples the training never drew."""
    mu, sd = se.w_stats(G, n=2000)
    with torch.no_grad():
        w = G.mapping(torch.randn(n, G.cfg.z_dim, generator=torch.Generator().manual_seed(seed)))
        return float(((E(G.synthesis(G.broadcast(w))) - w) / sd).pow(2).mean())


def test_training_brings_the_generators_pictures_back_to_their_codes(tmp_path):
    torch.manual_seed(0)
    G = Generator(StyleGANConfig(**TINY_GAN)).eval()
    cfg = se.EncoderTrainConfig(steps=120, batch=16, seed=1)
    torch.manual_seed(cfg.seed)
    before = _latent_error(se.Encoder(G.cfg), G)  # the untrained encoder the run starts from
    said = []
    E, record = se.train_encoder(G, Samples(G), cfg, log=said.append)
    after = _latent_error(E, G)
    assert after < 0.5 * before, (before, after)
    assert record["curve"][-1]["step"] == 120 and len(said) == len(record["curve"])
    assert all(np.isfinite(list(r.values())).all() for r in record["curve"])

    folder = save_generator(G, tmp_path / "gan", dtype=torch.float32)
    path = se.save_encoder(E, folder, {**record, "labels_used_in_training": False})
    assert path.is_file() and json.loads((folder / "config.json").read_text())["encoder"] == se.ENCODER_FILE
    from edits.wspace import invert, load_gan

    gan = load_gan(folder)  # the app's loader takes the new encoder
    assert gan.encoder is not None
    with torch.no_grad():
        w = gan.generator.mapping(torch.randn(4, G.cfg.z_dim, generator=torch.Generator().manual_seed(7)))
        pictures = ((gan.generator.synthesis(gan.generator.broadcast(w)).clamp(-1, 1) + 1) * 127.5).round()
    images = pictures.permute(0, 2, 3, 1).to(torch.uint8).numpy()
    got = invert(gan, images, steps=0)
    assert got.shape == w.shape and torch.isfinite(got).all()


def test_evaluate_reads_the_redrawings_by_shape(tmp_path):
    """`evaluate`'s per-shape reading adds up to its overall one (a random tiny generator keeps next to nothing)."""
    from nets.encoder import Encoder
    from toyworld.world import FACTORS

    torch.manual_seed(0)
    G = Generator(StyleGANConfig(**TINY_GAN)).eval()
    folder = save_generator(G, tmp_path / "gan", dtype=torch.float32)
    se.save_encoder(Encoder(G.cfg), folder, {"labels_used_in_training": False})
    r = se.evaluate(folder, n=24)
    assert set(r["picture_fidelity_by_shape"]) == set(r["valid_pictures_by_shape"]) == set(FACTORS["shape"])
    assert sum(r["valid_pictures_by_shape"].values()) == r["valid_pictures"] > 0
    assert sum(r["valid_samples_by_shape"].values()) == r["valid_samples"]
    kept = sum((f or 0) * r["valid_pictures_by_shape"][sh] for sh, f in r["picture_fidelity_by_shape"].items())
    assert abs(kept - r["picture_fidelity"] * r["valid_pictures"]) < 1e-3 * r["valid_pictures"]
    assert all(f is None if r["valid_pictures_by_shape"][sh] == 0 else 0 <= f <= 1
               for sh, f in r["picture_fidelity_by_shape"].items())


def test_closeness_is_zero_inside_ws_spread_and_grows_outside():
    mu, sd, g = torch.zeros(8), torch.ones(8), torch.Generator().manual_seed(0)
    assert float(se.closeness(torch.randn(4096, 8, generator=g) * 0.7, mu, sd)) < 0.01
    assert float(se.closeness(torch.randn(256, 8, generator=g) * 3, mu, sd)) > 5


def test_the_training_code_never_names_a_label():
    """Training reads pictures and the generator only; the judge is read by `evaluate`, after training."""
    labels = {"make_pairs", "make_dataset", "z_to_scene", "SceneToW", "FACTORS", "caption", "prompt_for", "labels",
              "colour", "background", "HELDOUT", "read", "judge"}
    for fn in (se.train_encoder, se.w_stats, se.closeness, se.save_encoder):
        used = names_in_code(fn)
        assert not used & labels, (fn.__name__, used & labels)

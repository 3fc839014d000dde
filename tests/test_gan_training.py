"""The pieces of the embedded StyleGAN's training that can be checked small: the paired scenes that make W
additive, the mapping network that draws the codes of the scenes z names, and the GAN in W (the mapping
stage without labels)."""
from __future__ import annotations

import numpy as np
import torch

from toyworld import data as toy_data
from toyworld.world import BACKGROUNDS, FACTORS, HELDOUT


def test_pairs_change_one_factor_only(tmp_path, monkeypatch):
    from training.stylegan_labelled import PAIR_FACTORS, make_pairs

    from training import stylegan_labelled

    monkeypatch.setattr(toy_data, "DATA_CACHE", tmp_path)
    monkeypatch.setattr(stylegan_labelled, "DATA_CACHE", tmp_path)
    base = toy_data.make_dataset(24, seed=5)
    pairs = make_pairs(24, seed=5, pair_seed=1)
    assert pairs["images"].shape == base["images"].shape
    for i in range(24):
        name = PAIR_FACTORS[pairs["factor"][i]]
        assert pairs["new_class"][i] != base[name][i]
        colour = FACTORS["colour"][pairs["new_class"][i] if name == "colour" else base["colour"][i]]
        shape = FACTORS["shape"][pairs["new_class"][i] if name == "shape" else base["shape"][i]]
        assert (colour, shape) not in HELDOUT
        a, b = base["images"][i].astype(int), pairs["images"][i].astype(int)
        assert np.abs(a - b).max() > 20
        if name == "background":  # the corner pixel is background: it moves to the new background's colour
            new_bg = np.array(BACKGROUNDS[FACTORS["background"][pairs["new_class"][i]]])
            assert np.abs(b[0, 0] - new_bg).max() <= 6
        if name == "colour":  # same object, same place: the background pixels do not move
            assert np.array_equal(a[0, 0], b[0, 0])
    again = make_pairs(24, seed=5, pair_seed=1)  # cached, identical
    assert np.array_equal(again["images"], pairs["images"])


def test_mapping_gan_moves_samples_to_the_codes():
    from nets.stylegan import Generator, StyleGANConfig
    from training.stylegan_labelled import train_mapping

    torch.manual_seed(0)
    g = Generator(StyleGANConfig(z_dim=8, w_dim=8, n_mlp=2, resolution=8, img_channels=3, channels={4: 8, 8: 8}))
    codes = torch.randn(2000, 8) * 0.3 + torch.tensor([2.0, -1.0, 0, 0, 1.0, 0, 0, 3.0])

    def gap():
        with torch.no_grad():
            w = g.mapping(torch.randn(2000, 8, generator=torch.Generator().manual_seed(1)))
        return float((w.mean(0) - codes.mean(0)).norm())

    before = gap()
    out = train_mapping(codes, g, steps=600, batch=64, log=lambda *_: None)
    assert gap() < 0.5 * before, (before, gap())
    assert torch.allclose(g.w_avg, g.mean_latent(20_000), atol=1e-5)  # w_avg is the mean of the new samples
    assert set(out) >= {"critic_loss", "mapping_loss", "mapping_steps"}


def test_z_to_scene_draws_the_training_distribution():
    from training.stylegan_labelled import z_to_scene
    from toyworld.world import EXTENT, FACTORS, HELDOUT, RESOLUTION, SIZE_RADIUS

    z = torch.randn(40_000, 32, generator=torch.Generator().manual_seed(0))
    cls, geom = z_to_scene(z)
    colour, shape, size, bg = cls.T
    for k, col in zip(("colour", "size", "background"), (colour, size, bg)):
        freq = torch.bincount(col, minlength=len(FACTORS[k])).float() / len(z)
        assert torch.allclose(freq, torch.full_like(freq, 1 / len(FACTORS[k])), atol=0.015), k
    pairs = {(FACTORS["colour"][c], FACTORS["shape"][s]) for c, s in zip(colour.tolist(), shape.tolist())}
    assert not pairs & set(HELDOUT) and len(pairs) == 32 - len(HELDOUT)
    lo = torch.tensor([SIZE_RADIUS[FACTORS["size"][i]][0] for i in size])
    hi = torch.tensor([SIZE_RADIUS[FACTORS["size"][i]][1] for i in size])
    assert ((geom[:, 2] >= lo) & (geom[:, 2] <= hi)).all()
    margin = (geom[:, 2] * torch.tensor([EXTENT[FACTORS["shape"][i]] for i in shape]) + 1.5) / RESOLUTION
    assert ((geom[:, :2] >= margin[:, None] - 1e-6) & (geom[:, :2] <= 1 - margin[:, None] + 1e-6)).all()
    assert torch.equal(z_to_scene(z[:5] * 3.0)[0], cls[:5])  # read after PixelNorm: the scale of z does not matter


def test_mapping_from_scenes_learns_the_codes_of_the_named_scenes():
    from nets.stylegan import Generator, StyleGANConfig
    from training.stylegan_labelled import train_mapping_from_scenes, z_to_scene

    torch.manual_seed(0)
    cfg = StyleGANConfig(z_dim=16, w_dim=8, n_mlp=2, resolution=8, channels={4: 8, 8: 8})
    G = Generator(cfg)
    z = torch.randn(3000, 16, generator=torch.Generator().manual_seed(1))
    cls, geom = z_to_scene(z)
    table = torch.randn(8, 8)  # each colour's code: a toy encoder that only sees the colour
    codes = table[cls[:, 0]]
    zt = torch.randn(500, 16, generator=torch.Generator().manual_seed(2))

    def error(g):  # the mapping's squared error to the named scenes' codes, relative to the codes' variance
        with torch.no_grad():
            return float((g.mapping(zt) - table[z_to_scene(zt)[0][:, 0]]).pow(2).mean() / table.var(0).mean())

    before = error(G)
    out, m = train_mapping_from_scenes(codes, cls, geom, G, steps=1500, scene_steps=600, n_mlp=3, batch=256, log=lambda s: None)
    assert out.cfg.n_mlp == 3 and len(out.style) == 4  # PixelNorm + 3 layers
    ref = G.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in out.state_dict().items()
               if not k.startswith("style.") and k != "w_avg")  # the synthesis network is G's
    assert error(out) < min(0.35, before / 3) and m["scene_to_w_explained"] > 0.9, (before, error(out))
    assert torch.allclose(out.w_avg, out.mean_latent(20_000), atol=1e-5)

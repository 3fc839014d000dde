"""DCI and MIG on synthetic codes with a known answer, and StyleSpace codes against the synthesis itself."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edits.disentanglement import dci, dci_from_importance, discretise, mig, scores

CLASSES = {"colour": 8, "shape": 4, "size": 3, "background": 4}


def synthetic(n: int = 600, seed: int = 0, nuisance: int = 4):
    """A perfectly disentangled code: dimension k is factor k's class index (plus a little noise), then a few
    dimensions of pure noise; the factors as class names."""
    rng = np.random.default_rng(seed)
    F = np.stack([rng.integers(0, k, n) for k in CLASSES.values()], 1)  # (n, 4)
    codes = np.concatenate([F + 0.1 * rng.normal(size=F.shape), rng.normal(size=(n, nuisance))], 1)
    factors = {name: [f"{name}{v}" for v in F[:, i]] for i, name in enumerate(CLASSES)}
    return codes, factors


def rotated(codes: np.ndarray, seed: int = 1) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(codes.shape[1],) * 2))
    return codes @ q


def test_importance_matrix_arithmetic():
    # each dimension serves one factor, each factor one dimension: D = C = 1
    d, c, per = dci_from_importance(np.eye(3))
    assert d == pytest.approx(1.0) and c == pytest.approx(1.0) and per == pytest.approx([1, 1, 1])
    # every dimension serves every factor alike: D = C = 0
    d, c, _ = dci_from_importance(np.full((3, 3), 1 / 3))
    assert d == pytest.approx(0.0, abs=1e-12) and c == pytest.approx(0.0, abs=1e-12)


def test_perfect_code_scores_high_and_its_rotation_low():
    codes, factors = synthetic()
    good = scores(codes, factors)
    # measured: D 0.98, C 0.97, I 0.995, MIG 0.95
    assert good["dci_disentanglement"] >= 0.95
    assert good["dci_completeness"] >= 0.9
    assert good["dci_informativeness"] >= 0.95
    assert good["mig"] >= 0.85
    bad = scores(rotated(codes), factors)
    # measured: D 0.30, C 0.24, MIG 0.13 (the information is all still there, spread over every dimension)
    assert bad["dci_disentanglement"] < 0.45
    assert bad["dci_completeness"] < 0.4
    assert bad["mig"] < 0.3
    assert bad["dims"] == codes.shape[1]


def test_gbt_importance_agrees():
    codes, factors = synthetic(n=300)
    small = {k: factors[k] for k in ("shape", "size")}
    good = dci(codes[:, [1, 2, 4]], small, importance="gbt")
    bad = dci(rotated(codes[:, [1, 2, 4]]), small, importance="gbt")
    assert good["dci_disentanglement"] >= 0.9 > bad["dci_disentanglement"]  # measured: 1.0 and 0.70


def test_single_valued_factor_is_skipped_and_repeats_lower_completeness_only():
    codes, factors = synthetic()
    factors = dict(factors, background=["gray"] * len(codes))
    out = mig(codes, factors)
    assert out["skipped"] == ["background"] and set(out["mig_per_factor"]) == {"colour", "shape", "size"}
    once = dci(codes[:, :3], {k: factors[k] for k in ("colour", "shape", "size")})
    twice = dci(np.concatenate([codes[:, :3]] * 2, 1), {k: factors[k] for k in ("colour", "shape", "size")})
    assert twice["dci_disentanglement"] >= 0.95  # each copy still serves one factor
    assert twice["dci_completeness"] < once["dci_completeness"]  # but each factor is now in two places


def test_discretise_equal_width():
    v = discretise(np.array([[0.0], [0.49], [0.51], [1.0]]), bins=2)
    assert v[:, 0].tolist() == [0, 0, 1, 1]


def test_style_codes_are_what_synthesis_uses(tiny_gan):
    from edits.stylespace import style_codes, style_layers

    g = tiny_gan.generator
    layers = style_layers(g)
    seen = {}
    hooks = [l.conv.modulation.register_forward_hook(lambda m, i, o, n=l.name: seen.__setitem__(n, o))
             for l in layers]
    try:
        w_plus = torch.randn(3, g.n_latent, g.cfg.w_dim, generator=torch.Generator().manual_seed(0))
        g.synthesis(w_plus)
    finally:
        for h in hooks:
            h.remove()
    s = style_codes(g, w_plus)
    assert s.shape == (3, sum(l.channels for l in layers)) == (3, layers[-1].stop)
    assert len(seen) == len(layers) == sum(isinstance(m, type(layers[0].conv)) for m in g.modules())
    for l in layers:
        torch.testing.assert_close(s[:, l.start:l.stop], seen[l.name])


class _Reading:
    """A reading as the judge gives one (valid, labels()), made from a picture's mean colour."""

    def __init__(self, img: np.ndarray):
        r, g, b = img.reshape(-1, 3).mean(0)
        self.valid = bool(r > 30)  # some pictures are no scene
        self.x = self.y = float("nan")
        self._labels = {"colour": "red" if r > g else "green", "shape": "star" if b > 128 else "circle",
                        "size": "small" if r + g > 256 else "large", "background": "gray"}

    def labels(self) -> dict:
        return self._labels


def test_benchmark_runs_on_a_tiny_gan(tiny_gan, monkeypatch):
    import benchmarks.disentanglement as bench

    monkeypatch.setattr(bench, "load_gan", lambda path=None: tiny_gan)
    monkeypatch.setattr(bench, "QUICK_SAMPLED", 120)
    monkeypatch.setattr(bench, "BATCH", 50)
    res = bench.run(quick=True, reader=lambda imgs: [_Reading(x) for x in imgs])
    assert res["n_sampled"] == 120 and 10 <= res["n_valid"] <= 120
    g = tiny_gan.generator
    s_dims = 16 + 16 + (16 + 8 + 8) + (8 + 8 + 8)
    dims = {"z": g.cfg.z_dim, "w": g.cfg.w_dim, "w_plus": g.n_latent * g.cfg.w_dim, "s": s_dims,
            "w_rotated": g.cfg.w_dim, "w_random_expansion": s_dims}
    for space, d in dims.items():
        assert set(bench.HEAD) <= set(res[space]) and res[space]["dims"] == d
        assert all(0.0 <= res[space][k] <= 1.0 for k in bench.HEAD)
        assert res[space]["skipped"] == ["background"]
    assert sum(res["classes"]["colour"].values()) == res["n_valid"]


# ------------------------------------------------------------------ StyleSpace channels and edits
def _planted(tiny_gan, j: int = 3):
    """A copy of the tiny GAN whose last ToRGB reads channel j's style as red minus green and blue: the last conv's
    channel j is held on (an activation bias), the ToRGB weights of channel j are (0.5, -0.5, -0.5), and its style
    varies three times as much as it did (every style is a function of the same 16-dimensional w, so other channels
    follow redness too: measured, the planted one scores 0.76, the next 0.57)."""
    import copy

    gan = copy.copy(tiny_gan)
    g = gan.generator = copy.deepcopy(tiny_gan.generator)
    with torch.no_grad():
        g.convs[-1].activate_bias[j] = 1.0
        g.to_rgbs[-1].conv.weight[0, :, j] = torch.tensor([0.5, -0.5, -0.5])[:, None, None]
        g.to_rgbs[-1].conv.modulation.weight[j] *= 3.0
    return gan


def _redness(imgs: np.ndarray) -> np.ndarray:
    x = imgs.reshape(len(imgs), -1, 3).astype(np.float64).mean(1)
    return x[:, 0] - x[:, 1:].mean(1)


def test_stylespace_finds_and_moves_a_planted_colour_channel(tiny_gan, tmp_path):
    from edits.directions import Direction, load_directions
    from edits.stylespace import (fit_styles, random_channels_like, render_shifted, shifted_styles, style_codes,
                                  style_delta, style_layers)

    gan, j = _planted(tiny_gan), 3
    g = gan.generator
    w = gan.w_from_seeds(list(range(400)))  # (400, w_dim)
    red = _redness(gan.render(w))
    cut = np.median(red)
    labels = ["red" if r > cut else "other" for r in red]
    dirs = fit_styles(style_codes(g, w), labels, "colour", g, "pixels", channels=4)
    last = style_layers(g)[-1]
    d = dirs["red"]
    assert d.meta["channels"][0] == last.start + j and d.meta["channel_layers"][0] == f"{last.name}:{j}"
    assert d.vectors[0, last.start + j] > 0 and int((d.vectors[0] != 0).sum()) == 4
    # the edit makes pictures redder; zero does nothing; the hooks leave with the block
    seeds_w = gan.w_from_seeds(list(range(1000, 1040)))
    before = gan.render(seeds_w)
    after = render_shifted(gan, seeds_w, style_delta(d, 2.0))
    assert (_redness(after) > _redness(before)).mean() > 0.9
    assert np.array_equal(render_shifted(gan, seeds_w, torch.zeros(last.stop)), before)
    with shifted_styles(g, style_delta(d, 2.0)):
        pass
    assert np.array_equal(gan.render(seeds_w), before)
    # per-picture deltas (B, S) are applied picture by picture
    per = torch.zeros(len(seeds_w), last.stop)
    per[0] = style_delta(d, 2.0)
    mixed = render_shifted(gan, seeds_w, per, batch_size=16)
    assert np.array_equal(mixed[0], after[0]) and np.array_equal(mixed[1:], before[1:])
    # the control: as many channels, as many of their own stds, elsewhere at random
    std = style_codes(g, w).std(0)
    ctl = random_channels_like(style_delta(d, 2.0), std, 5, torch.Generator().manual_seed(0))
    assert ctl.shape == (5, last.stop) and ((ctl != 0).sum(1) == 4).all()
    moved = ctl[0] != 0
    units = style_delta(d, 2.0)[d.meta["channels"]].abs() / std[d.meta["channels"]]
    torch.testing.assert_close(ctl[0, moved].abs() / std[moved], torch.full((4,), float(units.mean())))
    # saved beside W directions, in the same format, and kept apart by space
    d.save_in(tmp_path, "s_colour_red")
    assert set(load_directions(tmp_path, space="s")) == {"colour: red"} and load_directions(tmp_path, space="w") == {}
    loaded = Direction.load(tmp_path / "s_colour_red.safetensors")
    torch.testing.assert_close(loaded.vectors, d.vectors)
    assert loaded.meta["space"] == "s" and loaded.meta["channels"] == d.meta["channels"]


class _Redness:
    """A stand-in judge for the planted GAN: colour 'red' above a redness cut, else 'other'; nothing else varies."""

    def __init__(self, cut: float):
        self.cut = cut

    def __call__(self, imgs):
        out = []
        for r in _redness(imgs):
            x = _Reading(np.zeros((1, 3)) + 255)
            x._labels = {"colour": "red" if r > self.cut else "other", "shape": "circle", "size": "small",
                         "background": "gray"}
            out.append(x)
        return out


def test_stylespace_swaps_are_scored_with_their_controls(tiny_gan):
    from benchmarks.stylespace import judged_style_swaps
    from edits.stylespace import fit_styles, style_codes

    gan = _planted(tiny_gan)
    g = gan.generator
    w = gan.w_from_seeds(list(range(400)))
    red = _redness(gan.render(w))
    cut = float(np.median(red))
    s = style_codes(g, w)
    dirs = {f"colour: {c}": d for c, d in fit_styles(s, ["red" if r > cut else "other" for r in red], "colour", g,
                                                     "pixels", channels=4).items()}
    out = judged_style_swaps(gan, dirs, gan.w_from_seeds(list(range(2000, 2060))), "colour", 2.0, s.std(0),
                             reader=_Redness(cut))
    assert out["n"] == 60 and out["do_nothing_clean_edit_rate"] == 0.0
    assert out["clean_edit_rate"] > 0.8 and out["clean_edit_rate"] > out["control_clean_edit_rate"] + 0.3

"""Scoring edits (edits/scores.py): Wilson intervals, clean edits, and the do-nothing edit scoring 0."""
import numpy as np
import pytest
import torch

from edits.scores import do_nothing, score_edits, summarise, wilson


@pytest.mark.parametrize("k, n, low, high", [
    (0, 10, 0.0, 0.277533),  # the roots of (p̂ - p)² = z² p (1 - p) / n, z = 1.96
    (5, 10, 0.236593, 0.763407),
    (10, 10, 0.722467, 1.0),
    (81, 263, 0.255289, 0.366210),
])
def test_wilson_known_values(k, n, low, high):
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(low, abs=1e-5) and hi == pytest.approx(high, abs=1e-5)


def test_wilson_edges():
    assert wilson(0, 0) is None
    lo, hi = wilson(3, 7, confidence=0.9)
    assert lo < 3 / 7 < hi and wilson(3, 7)[0] < lo
    with pytest.raises(ValueError):
        wilson(8, 7)


def _scenes(n, seed=0):
    from toyworld.world import render, sample_scene

    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng) for _ in range(n)]
    return scenes, np.stack([render(s, seed=i) for i, s in enumerate(scenes)])


def test_doing_nothing_scores_zero():
    """The do-nothing edit, read by the judge on clean toy-world pictures, is never clean; an edit that
    reaches the target and keeps the rest is."""
    from edits.judge import read

    scenes, images = _scenes(12)
    targets = ["blue" if s.colour != "blue" else "red" for s in scenes]
    readings = read(images)
    s = summarise(do_nothing(readings, "colour", targets))
    assert s["n"] > 0 and s["clean_edit_rate"] == 0.0 and s["reached"] == 0.0 and s["kept"] == 1.0
    from dataclasses import replace

    from toyworld.world import render

    done = np.stack([render(replace(sc, colour=t), seed=i) for i, (sc, t) in enumerate(zip(scenes, targets))])
    assert summarise(score_edits(readings, read(done), "colour", targets))["clean_edit_rate"] == 1.0


def test_a_strength_0_edit_scores_zero(tiny_gan):
    """A W edit at strength 0 draws the same pictures, so it scores like the do-nothing edit: 0."""
    from edits.wspace import apply_edits, make_edit
    from tests.conftest import random_w_directions

    w = tiny_gan.w_from_seeds(list(range(6)))
    dirs = random_w_directions(tiny_gan.w_dim)
    before = tiny_gan.render(w)
    after = tiny_gan.render(apply_edits(tiny_gan, w, [make_edit(dirs, "colour", "blue", 0.0)]))
    assert np.array_equal(before, after)
    read = [{"colour": "red", "shape": "circle", "size": "large", "background": "white"} for _ in before]
    assert summarise(score_edits(read, read, "colour", "blue"))["clean_edit_rate"] == 0.0


def test_already_and_invalid_are_counted_apart():
    class R:
        def __init__(self, colour, valid=True, x=10.0):
            self.colour, self.valid, self.x, self.y = colour, valid, x, 5.0

        def labels(self):
            return {"colour": self.colour, "shape": "star", "size": "small", "background": "gray"}

    before = [R("blue"), R("red", valid=False), R("red"), R("red")]
    after = [R("blue"), R("blue"), R("blue", x=13.0), R("blue", valid=False)]
    s = summarise(score_edits(before, after, "colour", "blue"))
    assert (s["n"], s["already"], s["invalid_before"]) == (2, 1, 1)
    assert s["clean_edit_rate"] == 0.5 and s["centroid_shift_px"] == 3.0


def test_w_control_is_shaped_like_w(tiny_gan):
    from edits.controls import random_w_move, w_spread

    spread = w_spread(tiny_gan, n=4000, seed=1)
    with torch.no_grad():
        w = tiny_gan.generator.mapping(torch.randn(4000, tiny_gan.generator.cfg.z_dim,
                                                   generator=torch.Generator().manual_seed(1)))
    assert torch.allclose(spread @ spread.T, torch.cov(w.T.double()), atol=1e-6)  # S S^T is W's covariance
    delta = torch.zeros(3, tiny_gan.n_latent, tiny_gan.w_dim)
    delta[:, 1:3] = torch.randn(3, 1, tiny_gan.w_dim)
    r = random_w_move(delta, spread, torch.Generator().manual_seed(0))
    assert torch.allclose(r.flatten(1).norm(dim=1), delta.flatten(1).norm(dim=1), rtol=1e-4)
    assert (r[:, 0] == 0).all() and (r[:, 3:] == 0).all()  # only the layers the edit moved

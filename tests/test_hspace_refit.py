"""Readouts refitted on plain and edited trajectories (edits/hspace/refit.py), on synthetic data and a tiny pipeline."""
import numpy as np
import pytest

from edits.hspace import Guide, HEdit, sample
from edits.hspace.layout import pools
from edits.hspace.refit import calls_per_step, draw, fit_step, temperature


def test_temperature_recovers_a_known_one():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 5)) * 2
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    y = np.array([rng.choice(5, p=q) for q in p])
    assert temperature(3.0 * z, y) == pytest.approx(3.0, rel=0.1)  # logits too sharp by 3: T = 3 undoes it
    assert temperature(0.5 * z, y) == pytest.approx(0.5, rel=0.1)


def test_fit_step_reads_held_out_trajectories_and_folds_the_temperature():
    rng = np.random.default_rng(1)
    n, classes = 300, ["a", "b", "c"]
    y = np.array([classes[i % 3] for i in range(n)])
    centres = rng.normal(size=(3, 8)) * 4
    # two rows per trajectory (a recurrent step): both belong to it
    owner = np.repeat(np.arange(n), 2)
    X = centres[[classes.index(v) for v in y[owner]]] + rng.normal(size=(2 * n, 8))
    edited, held = np.arange(n) % 2 == 1, np.arange(n) % 5 == 0
    r, stats = fit_step(X, y, owner, edited, classes, held)
    assert stats["accuracy_plain"] > 0.95 and stats["accuracy_edited"] > 0.95
    W = np.stack([r[c][0] for c in classes])
    b = np.array([r[c][1] for c in classes])
    pred = np.array(classes)[(X @ W.T + b).argmax(1)]
    assert (pred == y[owner]).mean() > 0.95
    assert stats["temperature"] > 0


def test_draw_keeps_every_capture_of_a_recurrent_edit_at_its_step(tiny_model):
    from tests.conftest import random_h_directions

    dirs = random_h_directions(tiny_model)
    blue, red = dirs["colour: blue"], dirs["colour: red"]
    e = HEdit(blue, 1.0, 0.0, 0.5, move="recurrent", siblings=[red], guide=Guide(recurrence=3))
    assert calls_per_step(e, 4) == [3, 3, 1, 1]
    assert calls_per_step(None, 4) == [1, 1, 1, 1]
    hs, owners, images, ts = draw(tiny_model, ["a circle"] * 3, [1, 2, 3], edit=e, batch=2, steps=4)
    assert [len(h) for h in hs] == [9, 9, 3, 3] and [sorted(set(o)) for o in owners] == [[0, 1, 2]] * 4
    assert images.shape[0] == 3 and images.dtype == np.uint8 and len(ts) == 4
    # a plain draw captures exactly what sample() captures, one row per trajectory and step
    hp, op, _, _ = draw(tiny_model, ["a circle"] * 2, [1, 2], steps=4)
    ref = sample(tiny_model, ["a circle"] * 2, [1, 2], capture=True, num_inference_steps=4,
                 pool=pools(tiny_model, 0))
    assert len(hp) == len(ref.h) == 4
    assert all(np.array_equal(h, r.float().numpy()) for h, r in zip(hp, ref.h))
    assert all(list(o) == [0, 1] for o in op)

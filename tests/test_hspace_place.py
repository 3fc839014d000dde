"""The object's place read from h (edits/hspace/place.py): the pixel reading, the regression, the holding term."""
import numpy as np
import torch

from edits.hspace.place import PlaceTerm, centroid_of, fit_place, is_place
from toyworld.world import RESOLUTION, render, sample_scene


def test_centroid_of_reads_where_the_world_drew_the_object():
    rng = np.random.default_rng(0)
    scenes = [sample_scene(rng, shape="circle") for _ in range(12)]
    pos = centroid_of(np.stack([render(s, seed=i) for i, s in enumerate(scenes)]))
    want = np.array([[s.x * RESOLUTION, s.y * RESOLUTION] for s in scenes])
    assert np.abs(pos - want).max() < 1.5  # pixels (pixel centres sit half a pixel off the continuous centre)
    blank = np.full((1, 64, 64, 3), 200, np.uint8)
    assert np.isnan(centroid_of(blank)).all()


def test_fit_place_recovers_a_planted_linear_reading_and_the_term_holds_it():
    rng = np.random.default_rng(1)
    n, T, shape = 400, 3, (2, 2, 2)
    h = rng.normal(size=(n, T, 8))
    pos = np.stack([20 + 5 * h[:, -1, 0], 30 - 4 * h[:, -1, 3]], 1)
    pos[:5] = np.nan  # pictures without an object are left out
    dirs = fit_place(h, pos, [900, 500, 100], shape, "toy", alpha=1e-3)
    assert set(dirs) == {"x", "y"} and all(is_place(d) for d in dirs.values())
    assert dirs["x"].meta["held_out_r2"][-1] > 0.99 and dirs["x"].meta["samples"] == n - 5
    w = dirs["x"].readout_vectors[-1].flatten()
    assert abs(float(w[0]) - 5) < 0.05 and float(w[1:].abs().max()) < 0.05
    term = PlaceTerm(list(dirs.values()))
    h0 = torch.from_numpy(h[5:9, -1]).float().reshape(4, *shape)
    assert torch.allclose(term(h0, 100), torch.zeros(4))  # the first call sets the place: nothing to pay
    moved = h0.clone()
    moved.view(4, -1)[:, 0] += 1.0  # x moves by 5 px
    assert (term(moved, 100) < -1).all()

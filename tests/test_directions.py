import json

import numpy as np
import pytest
import torch

from edits.directions import Direction, DirectionError, fit_boundary, fit_one_vs_rest, project_out


def _blobs(n=200, d=16, seed=0):
    rng = np.random.default_rng(seed)
    true = rng.normal(size=d)
    true /= np.linalg.norm(true)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d)
    y = X @ true + 0.3 > 0
    return X, y, true


def test_boundary_recovers_a_known_direction():
    X, y, true = _blobs(600)
    b = fit_boundary(X, y)
    assert b.accuracy > 0.9
    assert abs(np.linalg.norm(b.normal) - 1) < 1e-5
    # moving along the normal crosses from the negative to the positive side
    x = X[~y][0]
    assert (x + 10 * b.scale * b.normal) @ b.normal + b.bias > 0 > x @ b.normal + b.bias
    assert b.normal @ true > 0.5


def test_single_class_and_too_few_samples_are_refused():
    X, _, _ = _blobs(50)
    with pytest.raises(DirectionError, match="single class"):
        fit_one_vs_rest(X, ["red"] * 50)
    with pytest.raises(DirectionError, match="Too few"):
        fit_boundary(X, np.arange(50) < 2)
    with pytest.raises(DirectionError, match="NaN"):
        fit_boundary(np.full((50, 3), np.nan), np.arange(50) < 25)


def test_one_vs_rest_and_conditional_projection():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 8))
    labels = np.where(X[:, 0] > 0.5, "a", np.where(X[:, 1] > 0, "b", "c"))
    bs = fit_one_vs_rest(X, labels.tolist())
    assert set(bs) == {"a", "b", "c"} and all(b.accuracy > 0.8 for b in bs.values())
    d = project_out(bs["a"].normal, [bs["b"].normal])
    assert abs(d @ bs["b"].normal) < 1e-5 and abs(np.linalg.norm(d) - 1) < 1e-5
    with pytest.raises(DirectionError):
        project_out(bs["a"].normal, [bs["a"].normal])


def test_direction_round_trips_through_its_file(tmp_path):
    v = torch.randn(3, 4, 2, 2)
    d = Direction(v, torch.tensor([1.0, 2.0, 3.0]), torch.zeros(3),
                  {"space": "h", "model": "toy", "attribute": "colour", "class": "blue", "timesteps": [999, 500, 1],
                   "accuracy": [0.9, 0.95, 1.0], "samples": 256, "labeller": "colour"})
    path = d.save(tmp_path / "h_colour_blue")
    assert path.suffix == ".safetensors" and json.loads(path.with_suffix(".json").read_text())["class"] == "blue"
    e = Direction.load(path)
    assert torch.equal(e.vectors, v) and e.meta["timesteps"] == [999, 500, 1] and e.label == "colour: blue"
    assert e.index_for(520) == 1 and e.at_timestep(0)[1] == 3.0


def test_corrupt_and_foreign_files_are_refused(tmp_path):
    from safetensors.torch import save_file

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(DirectionError, match="not a readable"):
        Direction.load(bad)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.ones(3)}, foreign)
    with pytest.raises(DirectionError, match="not a direction"):
        Direction.load(foreign)
    pickled = tmp_path / "evil.safetensors"
    pickled.write_bytes(b"\x80\x04\x95" + b"cos\nsystem\n" * 10)
    with pytest.raises(DirectionError):
        Direction.load(pickled)
    with pytest.raises(DirectionError, match="no direction file"):
        Direction.load(tmp_path / "missing.safetensors")
    nan = Direction(torch.full((1, 3), float("nan")), torch.ones(1), torch.zeros(1), {"timesteps": [0]})
    with pytest.raises(DirectionError, match="NaN"):
        Direction.load(nan.save(tmp_path / "nan"))


@pytest.mark.parametrize("method", ["logistic", "logistic-raw", "mean-difference"])
def test_every_method_finds_an_axis_boundary(method):
    from edits.directions import fit_boundary

    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 10)) * np.linspace(0.2, 3.0, 10)  # anisotropic codes
    y = X[:, 3] > 0.1
    b = fit_boundary(X, y, method=method)
    assert abs(b.normal[3]) > 0.85 and b.accuracy > (0.75 if method == "mean-difference" else 0.9)
    with pytest.raises(DirectionError):
        fit_boundary(X, y, method="magic")


def test_signed_shift_lands_at_the_asked_distance_wherever_it_starts():
    import torch

    from edits.directions import signed_shift

    g = torch.Generator().manual_seed(0)
    n = torch.nn.functional.normalize(torch.randn(16, generator=g), dim=0)
    codes = torch.randn(5, 16, generator=g) * 4  # (B, D), on both sides of the boundary
    bias, scale = 0.7, 2.5
    for s in (1.0, 3.0, -2.0):
        moved = codes + signed_shift(codes, n, bias, scale, torch.full((5,), s))[:, None] * n
        assert torch.allclose(moved @ n + bias, torch.full((5,), s * scale), atol=1e-5)
    assert torch.equal(signed_shift(codes, n, bias, scale, torch.zeros(5)), torch.zeros(5))


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", "", "Red", "x" * 80, "a\x00b", "café"])
def test_file_stem_refuses_anything_but_plain_words(bad):
    from edits.directions import DirectionError, file_stem

    with pytest.raises(DirectionError):
        file_stem(bad)


def test_save_in_stays_inside_its_folder(tmp_path):
    from edits.directions import DirectionError, readable_stem

    X, y, _ = _blobs(100, d=4)
    d = Direction.from_boundaries([fit_boundary(X, y)], shape=(4,), meta={"space": "w"})
    with pytest.raises(DirectionError):
        d.save_in(tmp_path, "../escape")
    assert d.save_in(tmp_path, readable_stem(3, "w", "colour", "../../x")).name == "w_03.safetensors"
    assert d.save_in(tmp_path, readable_stem(0, "w", "colour", "blue")).name == "w_colour_blue.safetensors"
    assert not (tmp_path.parent / "escape.safetensors").exists()

"""SSIM and the atlas statistics, against answers known in advance."""
import numpy as np
import pytest

from edits.metrics import atlas_statistics, cielab, distance, spearman_upper, ssim
from edits.pipeline import InputError
from toyworld.world import COLOURS


def _img(seed=0, size=32):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_ssim_known_answers():
    a = _img()
    assert ssim(a, a) == pytest.approx(1.0)
    assert distance(a, a) == pytest.approx(0.0, abs=1e-12)
    assert ssim(a, 255 - a) < 0.0  # inverted: anti-correlated structure
    b = _img(1)
    assert ssim(a, b) == pytest.approx(ssim(b, a))
    noisy = np.clip(a.astype(int) + np.random.default_rng(2).integers(-10, 11, a.shape), 0, 255).astype(np.uint8)
    assert ssim(a, b) < ssim(a, noisy) < 1.0
    with pytest.raises(InputError):
        ssim(a, _img(size=16))


def test_cielab_reference_values():
    white, red = cielab([(255, 255, 255), (255, 0, 0)])
    assert white == pytest.approx([100.0, 0.0, 0.0], abs=0.05)
    assert red == pytest.approx([53.24, 80.09, 67.20], abs=0.05)


def test_atlas_statistics_known_answers():
    lab = {n: cielab(rgb) for n, rgb in COLOURS.items()}
    st = atlas_statistics(lab, COLOURS)
    assert st["names"] == list(COLOURS) and st["cosine"].shape == (8, 8)
    # a known answer: directions whose dissimilarity is exactly the perceptual distance
    names = list(COLOURS)
    d = st["lab"]
    assert spearman_upper(d, d) == pytest.approx(1.0)
    assert spearman_upper(d, -d) == pytest.approx(-1.0)
    ortho = {n: np.eye(8)[i] for i, n in enumerate(names)}
    assert atlas_statistics(ortho, COLOURS)["spearman"] == pytest.approx(0.0, abs=1e-6)  # all ties


def test_atlas_needs_three_colours():
    with pytest.raises(InputError):
        atlas_statistics({"red": np.ones(3), "blue": np.ones(3)}, COLOURS)

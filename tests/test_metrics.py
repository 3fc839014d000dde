"""SSIM and the atlas statistics, against answers known in advance.

The "reference" answers were computed by the hand-written SSIM, CIELAB and Spearman code that scikit-image
and scipy replaced (edits/metrics.py before the re-layering): the library versions must give the same."""
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


def test_ssim_matches_the_reference_implementation():
    a, b = _img(0), _img(1)
    noisy = np.clip(a.astype(int) + np.random.default_rng(2).integers(-10, 11, a.shape), 0, 255).astype(np.uint8)
    assert ssim(a, b) == pytest.approx(0.02793277788448259, abs=1e-12)
    assert ssim(a, noisy) == pytest.approx(0.9967596706293399, abs=1e-12)
    assert ssim(a, 255 - a) == pytest.approx(-0.9599162380630416, abs=1e-12)
    assert ssim(_img(3, 11), _img(4, 11)) == pytest.approx(-0.13213445780559543, abs=1e-12)  # one window


def test_cielab_of_the_palette_matches_the_reference_implementation():
    reference = {"red": [47.33, 68.55, 47.88], "orange": [67.12, 35.55, 70.21], "yellow": [85.6, -8.05, 82.86],
                 "green": [59.56, -55.37, 45.96], "cyan": [73.86, -34.32, -18.9], "blue": [36.56, 46.59, -80.89],
                 "purple": [39.15, 60.78, -58.92], "pink": [67.87, 53.32, -12.86]}
    lab = cielab(np.array([COLOURS[n] for n in reference]))
    assert lab == pytest.approx(np.array(list(reference.values())), abs=0.01)  # the libraries' XYZ matrix
    # differs from the reference's in the fifth decimal: up to 0.005 in L*a*b*


def test_spearman_with_ties_matches_the_reference_implementation():
    x = np.array([[2, 3, 0, 3, 1, 2], [2, 1, 3, 0, 1, 1], [2, 1, 0, 0, 0, 0], [0, 3, 0, 2, 3, 0],
                  [1, 1, 1, 3, 0, 3], [3, 3, 0, 1, 2, 1]], dtype=float)
    y = np.array([[-0.629, -0.488, -0.713, 0.553, -0.063, -0.589], [0.41, 0.83, -1.643, -0.257, -0.981, -0.173],
                  [-1.289, 0.021, -0.038, -0.304, -1.048, -0.396], [-1.091, -1.355, 0.225, -1.109, 1.17, 0.717],
                  [-1.998, 0.272, -1.102, 0.033, 0.044, -1.988], [-0.233, -0.256, 0.962, -1.181, 0.738, -1.099]])
    assert spearman_upper(x, y) == pytest.approx(-0.06985360878983839, abs=1e-12)


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

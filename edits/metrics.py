"""Measurements shared by the Compare tab, the benchmarks and the direction atlas.

    distance(a, b)                       # 1 - SSIM of two uint8 RGB images (0 = identical)
    same_picture(a, b)                   # the project's one definition of "the same picture"
    atlas_statistics(vectors, COLOURS)   # cosine of directions vs. CIELAB distance of colours, Spearman

SSIM: scikit-image's `structural_similarity` as Wang et al. (2004) define it: Gaussian window (sigma 1.5,
11 taps), C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, on each channel, averaged over the valid region and
the channels. CIELAB: scikit-image's `rgb2lab` (D65 white); Spearman: scipy's `spearmanr`.
Atlas sign convention: the Spearman correlation is between the directions' *dissimilarity* (1 - cosine)
and the colours' perceptual distance (CIE76 ΔE), so a positive value means "colours that look alike
have alike directions" — the latent space mirrors perception.
"""
from __future__ import annotations

import numpy as np
from skimage.color import rgb2lab
from skimage.metrics import structural_similarity

from toyworld.settings import PICTURE_TOLERANCE

from .pipeline import InputError

WINDOW = 11  # taps of the Gaussian window (sigma 1.5, truncated at 3.5 sigma)


def picture_difference(a, b) -> int:
    """The largest difference, in levels of 255, between two uint8 pictures of the same shape."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"pictures of different shapes: {a.shape} and {b.shape}")
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max(initial=0))


def same_picture(a, b, tolerance: int = PICTURE_TOLERANCE) -> bool:
    """The one definition of "the same picture" that the app, the tests and the load benchmark use: the same
    shape, and every value within `tolerance` levels (1 of 255). For the same seed and settings, a picture is
    the same bytes on one machine whatever its thread count; across batch sizes (CPU kernels block a batch
    differently) and across CPUs (their kernels round differently) it may differ by 1 level in a few values,
    never more (measured; toyworld.settings.PICTURE_TOLERANCE)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and picture_difference(a, b) <= tolerance


def ssim(a, b) -> float:
    """Structural similarity of two uint8 RGB images of the same size (1 = identical)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 3:
        raise InputError(f"SSIM needs two images of the same size (got {a.shape} and {b.shape}).")
    if min(a.shape[:2]) < WINDOW:
        raise InputError("SSIM needs images of at least 11 x 11 pixels.")
    return float(structural_similarity(a, b, data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def distance(a, b) -> float:
    """1 - SSIM: 0 for identical images, larger when more of the picture changed."""
    return 1.0 - ssim(a, b)


# ------------------------------------------------------------------ the atlas
def cielab(rgb) -> np.ndarray:
    """sRGB uint8 triples (..., 3) -> CIELAB (D65 white), (..., 3)."""
    return rgb2lab(np.asarray(rgb, dtype=np.float64) / 255.0)


def cosine_matrix(vectors: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    names = list(vectors)
    v = np.stack([np.asarray(vectors[n], dtype=np.float64).ravel() for n in names])
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return names, v @ v.T


def lab_distance_matrix(colours: dict[str, tuple[int, int, int]]) -> tuple[list[str], np.ndarray]:
    names = list(colours)
    lab = cielab(np.array([colours[n] for n in names]))
    return names, np.linalg.norm(lab[:, None] - lab[None], axis=-1)


def spearman_upper(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of the off-diagonal upper-triangle entries of two square matrices."""
    from scipy.stats import spearmanr  # here, not at import: scipy.stats alone takes about a second to import
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 3:
        raise InputError("The atlas needs two square matrices of the same size, at least 3 x 3.")
    iu = np.triu_indices(len(a), 1)
    x, y = a[iu], b[iu]
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0  # all ties: no ranking to correlate (scipy would answer nan)
    return float(spearmanr(x, y).statistic)


def atlas_statistics(vectors: dict[str, np.ndarray], colours: dict[str, tuple[int, int, int]]) -> dict:
    """For the colours present in both: cosine matrix of the directions, ΔE matrix, and Spearman
    correlation between (1 - cosine) and ΔE."""
    names = [n for n in colours if n in vectors]
    if len(names) < 3:
        raise InputError("The atlas needs directions for at least three colours.")
    _, cos = cosine_matrix({n: vectors[n] for n in names})
    _, lab = lab_distance_matrix({n: colours[n] for n in names})
    return {"names": names, "cosine": cos, "lab": lab, "spearman": spearman_upper(1 - cos, lab)}


def colour_direction_vectors(directions: dict, step: int = 0, colours=None) -> dict[str, np.ndarray]:
    """The colour directions of a set (h-space: the vector at denoising step `step`), flattened, keyed by
    colour name; directions that extend h with skip tensors are left out (another space)."""
    return {d.meta["class"]: d.vectors[min(step, len(d.vectors) - 1)].reshape(-1).numpy()
            for d in directions.values()
            if d.meta.get("attribute") == "colour" and not d.meta.get("skip_levels")
            and (colours is None or d.meta.get("class") in colours)}

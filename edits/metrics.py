"""Measurements shared by the Compare tab, the benchmarks and the direction atlas.

    distance(a, b)                       # 1 - SSIM of two uint8 RGB images (0 = identical)
    atlas_statistics(vectors, COLOURS)   # cosine of directions vs. CIELAB distance of colours, Spearman

SSIM: Gaussian window (sigma 1.5, 11 taps), C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, on each channel,
averaged over the valid region and the channels (Wang et al. 2004).
Atlas sign convention: the Spearman correlation is between the directions' *dissimilarity* (1 - cosine)
and the colours' perceptual distance (CIE76 ΔE), so a positive value means "colours that look alike
have alike directions" — the latent space mirrors perception.
"""
from __future__ import annotations

import numpy as np

from .pipeline import InputError

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def _gauss(sigma: float = 1.5, taps: int = 11) -> np.ndarray:
    x = np.arange(taps) - taps // 2
    g = np.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def _filter(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of (H, W) by the 1-D kernel g along both axes."""
    k = len(g)
    rows = sum(g[i] * x[i:x.shape[0] - k + 1 + i] for i in range(k))  # (H-k+1, W)
    return sum(g[i] * rows[:, i:rows.shape[1] - k + 1 + i] for i in range(k))  # (H-k+1, W-k+1)


def ssim(a, b) -> float:
    """Structural similarity of two uint8 RGB images of the same size (1 = identical)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 3:
        raise InputError(f"SSIM needs two images of the same size (got {a.shape} and {b.shape}).")
    g = _gauss()
    if min(a.shape[:2]) < len(g):
        raise InputError("SSIM needs images of at least 11 x 11 pixels.")
    vals = []
    for c in range(a.shape[2]):
        x, y = a[..., c], b[..., c]
        mx, my = _filter(x, g), _filter(y, g)
        sxx = _filter(x * x, g) - mx ** 2
        syy = _filter(y * y, g) - my ** 2
        sxy = _filter(x * y, g) - mx * my
        m = ((2 * mx * my + C1) * (2 * sxy + C2)) / ((mx ** 2 + my ** 2 + C1) * (sxx + syy + C2))
        vals.append(m.mean())
    return float(np.mean(vals))


def distance(a, b) -> float:
    """1 - SSIM: 0 for identical images, larger when more of the picture changed."""
    return 1.0 - ssim(a, b)


# ------------------------------------------------------------------ the atlas
def cielab(rgb) -> np.ndarray:
    """sRGB uint8 triples (..., 3) -> CIELAB (D65 white), (..., 3)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124564, 0.3575761, 0.1804375],
                  [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def cosine_matrix(vectors: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    names = list(vectors)
    v = np.stack([np.asarray(vectors[n], dtype=np.float64).ravel() for n in names])
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return names, v @ v.T


def lab_distance_matrix(colours: dict[str, tuple[int, int, int]]) -> tuple[list[str], np.ndarray]:
    names = list(colours)
    lab = cielab(np.array([colours[n] for n in names]))
    return names, np.linalg.norm(lab[:, None] - lab[None], axis=-1)


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    r[order] = np.arange(len(x), dtype=np.float64)
    for v in np.unique(x):  # average ranks for ties
        tie = x == v
        if tie.sum() > 1:
            r[tie] = r[tie].mean()
    return r


def spearman_upper(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of the off-diagonal upper-triangle entries of two square matrices."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 3:
        raise InputError("The atlas needs two square matrices of the same size, at least 3 x 3.")
    iu = np.triu_indices(len(a), 1)
    ra, rb = _ranks(a[iu]), _ranks(b[iu])
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / den) if den > 0 else 0.0


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

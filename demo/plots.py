"""Small image-rendered plots for the UI (no matplotlib): labelled heatmaps with colour swatches."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

CELL = 40
MARGIN = 86


def _diverging(v: float, vmin: float, vmax: float) -> tuple[int, int, int]:
    """Blue (low) - white (middle) - red (high)."""
    t = 0.5 if vmax == vmin else float(np.clip((v - vmin) / (vmax - vmin), 0, 1))
    lo, mid, hi = np.array([49, 99, 190]), np.array([247, 247, 247]), np.array([200, 50, 45])
    c = mid + (lo - mid) * (1 - 2 * t) if t < 0.5 else mid + (hi - mid) * (2 * t - 1)
    return tuple(int(x) for x in c)


def heatmap(matrix: np.ndarray, names: list[str], title: str, vmin: float, vmax: float,
            swatches: dict[str, tuple[int, int, int]] | None = None, digits: int = 2) -> Image.Image:
    """A square matrix as an image: values written in the cells, names (and colour swatches) on the axes."""
    n = len(names)
    size = MARGIN + n * CELL + 10
    img = Image.new("RGB", (size, size + 24), "white")
    draw = ImageDraw.Draw(img)
    draw.text((8, 4), title, fill=(20, 20, 20))
    top = 24 + MARGIN
    for i, name in enumerate(names):
        y = top + i * CELL
        x = MARGIN + i * CELL
        sw = (swatches or {}).get(name)
        draw.text((6, y + CELL // 2 - 6), name, fill=(30, 30, 30))
        draw.text((x + 2, top - 46 + (i % 2) * 13), name[:6], fill=(30, 30, 30))
        if sw is not None:
            draw.rectangle([MARGIN - 18, y + 12, MARGIN - 4, y + CELL - 12], fill=sw)
            draw.rectangle([x + 12, top - 16, x + CELL - 12, top - 4], fill=sw)
        for j in range(n):
            v = float(matrix[i, j])
            x0, y0 = MARGIN + j * CELL, top + i * CELL
            bg = _diverging(v, vmin, vmax)
            draw.rectangle([x0, y0, x0 + CELL - 1, y0 + CELL - 1], fill=bg)
            ink = (0, 0, 0) if sum(bg) > 380 else (255, 255, 255)
            draw.text((x0 + 5, y0 + CELL // 2 - 6), f"{v:.{digits}f}"[:5], fill=ink)
    return img

"""Small image-rendered plots for the UI (no matplotlib): labelled heatmaps with colour swatches and a legend.

Every heatmap here colours *likeness* the same way, whatever it measures: red = alike, white = in between,
blue = far apart (or opposite). A legend bar under the grid says which values the two ends stand for.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CELL = 44
MARGIN = 92
ALIKE, MIDDLE, FAR = np.array([200, 50, 45]), np.array([247, 247, 247]), np.array([49, 99, 190])


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the bitmap font
        return ImageFont.load_default()


def likeness_colour(t: float) -> tuple[int, int, int]:
    """t = 0: alike (red), 0.5: in between (white), 1: far apart (blue)."""
    t = float(np.clip(t, 0, 1))
    c = ALIKE + (MIDDLE - ALIKE) * (2 * t) if t < 0.5 else MIDDLE + (FAR - MIDDLE) * (2 * t - 1)
    return tuple(int(x) for x in c)


def heatmap(matrix: np.ndarray, names: list[str], title: str, vmin: float, vmax: float,
            swatches: dict[str, tuple[int, int, int]] | None = None, digits: int = 2,
            alike: str = "high", legend: tuple[str, str] | None = None) -> Image.Image:
    """A square matrix as an image: values in the cells, names (and colour swatches) on the axes.

    `alike` says which end of [vmin, vmax] means "alike" ("high" for a similarity, "low" for a distance);
    that end is drawn red, the other blue. `legend` names the two ends (alike, far apart).
    """
    n = len(names)
    font, small = _font(14), _font(12)
    width = MARGIN + n * CELL + 12
    top = 30 + MARGIN
    height = top + n * CELL + 56
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((8, 6), title, fill=(20, 20, 20), font=font)

    def t_of(v: float) -> float:
        t = 0.5 if vmax == vmin else (v - vmin) / (vmax - vmin)
        return 1 - t if alike == "high" else t

    for i, name in enumerate(names):
        y = top + i * CELL
        x = MARGIN + i * CELL
        sw = (swatches or {}).get(name)
        draw.text((6, y + CELL // 2 - 8), name, fill=(30, 30, 30), font=font)
        draw.text((x + 2, top - 52 + (i % 2) * 15), name[:6], fill=(30, 30, 30), font=small)
        if sw is not None:
            draw.rectangle([MARGIN - 20, y + 13, MARGIN - 5, y + CELL - 13], fill=sw, outline=(120, 120, 120))
            draw.rectangle([x + 13, top - 18, x + CELL - 13, top - 5], fill=sw, outline=(120, 120, 120))
        for j in range(n):
            v = float(matrix[i, j])
            x0, y0 = MARGIN + j * CELL, top + i * CELL
            bg = likeness_colour(t_of(v))
            draw.rectangle([x0, y0, x0 + CELL - 1, y0 + CELL - 1], fill=bg)
            ink = (0, 0, 0) if sum(bg) > 380 else (255, 255, 255)
            text = f"{v:.{digits}f}"  # ASCII minus: the default font has no U+2212
            if text.strip("-0.") == "":
                text = f"{0:.{digits}f}"  # never "-0.00"
            draw.text((x0 + 4, y0 + CELL // 2 - 7), text[:5], fill=ink, font=small)
    # legend: a bar from "alike" (red) to "far apart" (blue)
    y0, x0, x1 = top + n * CELL + 14, MARGIN, MARGIN + n * CELL
    for x in range(x0, x1):
        draw.line([(x, y0), (x, y0 + 12)], fill=likeness_colour((x - x0) / max(1, x1 - x0 - 1)))
    left, right = legend or ("alike", "far apart")
    draw.text((x0, y0 + 16), left, fill=(30, 30, 30), font=small)
    draw.text((x1 - draw.textlength(right, font=small), y0 + 16), right, fill=(30, 30, 30), font=small)
    return img

"""The archive's two pictures, drawn with matplotlib (no pyplot: safe in a server's threads), as PIL images.

    census_figure(table, "StyleGAN W")       # a census (edits.archive.census) as a colour x shape heat map
    map_figure(points, "colour", seed_xy)    # Archive.map_points: codes on two principal components
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from toyworld.world import BACKGROUNDS, COLOURS, FACTORS

SHAPE_MARKERS = {"circle": "o", "square": "s", "triangle": "^", "star": "*"}
SIZE_POINTS = {"small": 10, "medium": 24, "large": 48}
SHAPE_COLOURS = {"circle": "#1b9e77", "square": "#d95f02", "triangle": "#7570b3", "star": "#e7298a"}
SIZE_COLOURS = {"small": "#9ecae1", "medium": "#4292c6", "large": "#08306b"}
INVALID = "#c8c8c8"


def _rgb(c) -> tuple[float, float, float]:
    return tuple(v / 255 for v in c)


def _to_image(fig) -> Image.Image:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy())


def census_figure(table: dict, title: str) -> Image.Image:
    """A census's colour x shape table: each cell's count and share of the valid pictures, shaded by the share;
    held-out cells outlined (dashed), cells never drawn marked 0."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    counts = np.asarray(table["counts"], dtype=float)  # (colours, shapes)
    colours, shapes = table["colours"], table["shapes"]
    valid = max(int(table["valid"]), 1)
    shares = counts / valid
    fig = Figure(figsize=(5.6, 6.4), dpi=100)
    ax = fig.add_axes([0.2, 0.1, 0.72, 0.76])
    top = max(float(shares.max()), 1e-9)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=top * 1.15, aspect="auto")
    held = set(table.get("heldout", []))
    for i, c in enumerate(colours):
        for j, s in enumerate(shapes):
            k = int(counts[i, j])
            dark = shares[i, j] > 0.6 * top
            ax.text(j, i, f"{k}\n{100 * shares[i, j]:.1f}%", ha="center", va="center", fontsize=9,
                    color="white" if dark else ("#b00020" if k == 0 else "black"))
            if f"{c} {s}" in held:
                ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, lw=2.2, ls="--", ec="black"))
    ax.set_xticks(range(len(shapes)), shapes)
    ax.set_yticks(range(len(colours)), colours)
    ax.xaxis.tick_top()
    ax.tick_params(axis="y", pad=24)
    for i, c in enumerate(colours):  # a swatch of each colour between its name and its row
        if c in COLOURS:
            ax.add_patch(Rectangle((-0.86, i - 0.22), 0.28, 0.44, color=_rgb(COLOURS[c]), clip_on=False))
    ax.set_xlim(-0.5, len(shapes) - 0.5)
    fig.suptitle(title, fontsize=11, y=0.98)
    fig.text(0.2, 0.03, f"{int(table['valid'])} valid of {int(table['n'])} pictures; dashed: held-out pairs;"
                        " cell: count and share", fontsize=8.5)
    return _to_image(fig)


def _style(factor: str, value: str | None) -> dict:
    if value is None:
        return {"c": INVALID}
    if factor == "colour":
        return {"c": [_rgb(COLOURS[value])]}
    if factor == "background":
        return {"c": [_rgb(BACKGROUNDS[value])], "edgecolors": "#555555", "linewidths": 0.4}
    if factor == "shape":
        return {"c": SHAPE_COLOURS[value], "marker": SHAPE_MARKERS[value]}
    return {"c": SIZE_COLOURS[value], "s": SIZE_POINTS[value]}


def map_figure(points: dict, factor: str, seed_xy=None, seed_picture=None, seed: int | None = None,
               title: str = "") -> Image.Image:
    """Codes on their two principal components, coloured by the judge's reading of `factor` (grey: the judge
    reads no valid scene), with some codes' pictures placed where they lie and the visitor's seed marked."""
    from matplotlib.figure import Figure
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    if factor not in FACTORS:
        raise ValueError(f"unknown factor {factor!r}")
    coords, labels, valid = points["coords"], points["labels"], points["valid"]
    f = list(FACTORS).index(factor)
    fig = Figure(figsize=(6.4, 6.0), dpi=100)
    ax = fig.add_axes([0.08, 0.16, 0.9, 0.76])
    ax.scatter(coords[~valid, 0], coords[~valid, 1], s=4, c=INVALID, lw=0, label="no valid scene")
    for j, value in enumerate(FACTORS[factor]):
        sel = valid & (labels[:, f] == j)
        if sel.any():
            kw = {"s": 22, "linewidths": 0, **_style(factor, value)}
            ax.scatter(coords[sel, 0], coords[sel, 1], alpha=0.85, label=value, **kw)
    for i, pic in zip(points["thumbnails"], points["pictures"]):
        ab = AnnotationBbox(OffsetImage(pic, zoom=0.3), coords[i], frameon=True, pad=0.05,
                            bboxprops={"ec": "#777777", "lw": 0.5})
        ax.add_artist(ab)
    if seed_xy is not None:
        ax.scatter([seed_xy[0]], [seed_xy[1]], s=260, marker="*", c="yellow", edgecolors="black", lw=1.4, zorder=5,
                   label=f"seed {seed}")
        if seed_picture is not None:
            ab = AnnotationBbox(OffsetImage(seed_picture, zoom=0.6), seed_xy, xybox=(38, 38), boxcoords="offset points",
                                frameon=True, pad=0.1, bboxprops={"ec": "black", "lw": 1.6}, arrowprops={"arrowstyle": "-"})
            ax.add_artist(ab)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("first principal component")
    ax.set_ylabel("second principal component")
    ax.set_title(title, fontsize=10.5)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=5, fontsize=8, frameon=False, markerscale=1.2)
    return _to_image(fig)

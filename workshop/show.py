"""Two small display helpers for the workshop notebooks (matplotlib only; no project internals)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # a notebook opened from workshop/ still imports edits/, toyworld/, ...
    sys.path.insert(0, str(ROOT))


def grid(images, titles=None, cols: int | None = None, size: float = 1.8, suptitle: str | None = None):
    """Show images (PIL, uint8 or float arrays in [0, 1]) in a grid, titled; returns the figure."""
    import matplotlib.pyplot as plt

    images = [np.asarray(im) for im in images]
    n = len(images)
    cols = cols or min(n, 8)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + (0.4 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], interpolation="nearest")
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    plt.show()
    return fig


def describe(labels: dict) -> str:
    """'large red circle / white' from a dict of toy-world factors (as edits.compare.Scorer reads them)."""
    return f"{labels.get('size', '?')} {labels.get('colour', '?')} {labels.get('shape', '?')} / {labels.get('background', '?')}"

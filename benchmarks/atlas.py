"""The direction atlas: do the colour directions mirror human colour perception?

For the shipped colour directions in W space and in h-space (at every denoising step), the Spearman
correlation between their dissimilarity (1 - cosine similarity) and the CIELAB distance (CIE76 ΔE)
of the toy world's colours; positive means "colours that look alike have alike directions".
spearman_h is the median over the denoising steps (each step in spearman_h_per_step).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edits.directions import load_directions
from edits.metrics import atlas_statistics
from toyworld.world import COLOURS

DIRECTIONS = Path(__file__).resolve().parent.parent / "assets" / "directions"


def colour_vectors(dirs: dict, step: int = 0) -> dict[str, np.ndarray]:
    return {d.meta["class"]: d.vectors[min(step, len(d.vectors) - 1)].reshape(-1).numpy()
            for d in dirs.values() if d.meta.get("attribute") == "colour" and d.meta["class"] in COLOURS}


def run(quick: bool = False, model_path: str | None = None, directions: str | None = None) -> dict:
    folder = Path(directions or DIRECTIONS)
    w = load_directions(folder, space="w")
    h = {k: d for k, d in load_directions(folder, space="h").items() if not d.meta.get("skip_levels")}
    res = {}
    if w:
        sw = atlas_statistics(colour_vectors(w), COLOURS)
        res["spearman_w"] = round(float(sw["spearman"]), 3)
        res["colours_w"] = len(sw["names"])
    if h:
        steps = len(next(iter(h.values())).vectors)
        per = [float(atlas_statistics(colour_vectors(h, t), COLOURS)["spearman"]) for t in range(steps)]
        res["spearman_h"] = round(float(np.median(per)), 3)
        res["spearman_h_per_step"] = [round(v, 3) for v in per]
        res["colours_h"] = len(colour_vectors(h))
    return res

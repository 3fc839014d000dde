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
from edits.metrics import atlas_statistics, colour_direction_vectors
from toyworld.world import COLOURS
from toyworld.settings import DIRECTIONS



def run(quick: bool = False, model_path: str | None = None, directions: str | None = None) -> dict:
    from edits.wspace import directions_folder

    folder = Path(directions or DIRECTIONS)
    w = load_directions(Path(directions) if directions else directions_folder(), space="w")  # the default GAN's
    h = load_directions(folder, space="h")
    res = {}
    if w:
        sw = atlas_statistics(colour_direction_vectors(w, 0, COLOURS), COLOURS)
        res["spearman_w"] = round(float(sw["spearman"]), 3)
        res["colours_w"] = len(sw["names"])
    if h:
        steps = len(next(iter(h.values())).vectors)
        per = [float(atlas_statistics(colour_direction_vectors(h, t, COLOURS), COLOURS)["spearman"]) for t in range(steps)]
        res["spearman_h"] = round(float(np.median(per)), 3)
        res["spearman_h_per_step"] = [round(v, 3) for v in per]
        res["colours_h"] = len(colour_direction_vectors(h, 0, COLOURS))
    return res

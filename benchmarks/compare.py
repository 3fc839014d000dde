"""Conditioning vs. h-space vs. W-space on the same seeds and targets (the Compare tab, over many seeds).

Targets cycle over every colour and every shape; base scenes are drawn from the toy world with all four
factors named. Per method: success (target reached, among cases whose unedited image did not already
show it), preservation (every other factor unchanged, same cases), distance (mean 1 - SSIM).
Prints the table as Markdown, then the JSON line.
"""
from __future__ import annotations


import numpy as np

from edits.compare import Scorer, compare_batch, markdown_table, summarise
from edits.directions import load_directions
from edits.labelers import FACTORS
from edits.pipeline import load_diffusion, load_hspace_diffusion
from edits.wspace import directions_folder, load_gan
from toyworld.world import sample_scene
from toyworld.settings import DIRECTIONS



def plan(n: int, seed: int = 11):
    rng = np.random.default_rng(seed)
    targets = [("colour", c) for c in FACTORS["colour"]] + [("shape", s) for s in FACTORS["shape"]]
    bases, attrs, tgts = [], [], []
    for i in range(n):
        s = sample_scene(rng)
        a, t = targets[i % len(targets)]
        bases.append({"size": s.size, "colour": s.colour, "shape": s.shape, "background": s.background})
        attrs.append(a)
        tgts.append(t)
    seeds = [int(x) for x in rng.integers(0, 2**31, n)]
    return seeds, bases, attrs, tgts


def run(quick: bool = False, model_path: str | None = None) -> dict:
    diffusion = load_diffusion(model_path, device="cpu")
    h_model = load_hspace_diffusion(None, diffusion, device="cpu")
    h_dirs = load_directions(DIRECTIONS, space="h") if h_model.is_embedded else {}
    gan = load_gan()
    w_dirs = load_directions(directions_folder(gan.folder), space="w")
    n = 24 if quick else 120
    seeds, bases, attrs, tgts = plan(n)
    rows = compare_batch(diffusion, gan, h_dirs, w_dirs, seeds, bases, attrs, tgts, scorer=Scorer(), batch_size=12,
                         h_diffusion=h_model)
    summary = summarise(rows)
    print(markdown_table(summary))
    by_attr = {a: summarise([r for r, x in zip(rows, attrs) if x == a]) for a in ("colour", "shape")}
    for a, s in by_attr.items():
        print(f"\n{a} targets only:\n{markdown_table(s)}")
    return {**summary, "seeds": n, "by_attribute": by_attr}

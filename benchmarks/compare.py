"""Conditioning vs. h-space vs. W-space from one starting picture per seed (the Side-by-side tab, over many seeds).

Base scenes are drawn from the toy world; targets cycle over every colour and every shape. For each seed the
base prompt leaves the attribute being changed unsaid, and its picture (default steps and guidance, no
negative prompt) is the before of every column (edits/compare.py). Every picture is read by the judge
(edits/judge.py), and per method (`conditioning`, `hspace`, `wspace`: the W edit scored from the starting
picture's redrawing in W; `wspace_end_to_end`: the same edits scored from the starting picture itself):

- clean_edit_rate (the headline: the target reached AND every other factor kept, on the same edit), its 95 %
  Wilson interval clean_edit_ci, reached, kept, kept_given_reached, n (edits counted: a valid starting
  picture that does not already show the target), already and invalid_before (counted apart);
- control_clean_edit_rate: the same for a random move of the same size shaped like the space (random h
  readouts at the same guided strength; a random W direction drawn from W's covariance, same norm, same
  layers), with its own summary under `control`; None for conditioning (a prompt has no such move);
- do_nothing_clean_edit_rate: the before read as the after (0 by construction);
- distance (1 - SSIM, before to after), centroid_shift_px (the judge's centroid, pixels);
- labellers: the same edits read by the fitting labellers (colour from pixels, the toy-world classifier),
  the second column; success and preservation are their reached and kept (this benchmark's first keys).

At the top: seeds, same_before (the fraction of seeds whose h-space before, drawn again through the h-space
path one seed at a time as /edit_h draws it, is pixel-identical to the conditioning column's, drawn by the
diffusers pipeline as /generate draws it), judge_labeller_agreement (per factor, over every picture both
read), wspace.inversion_kept (over the starting pictures the judge reads as valid scenes, the fraction whose
redrawing in W is a valid scene read with the same four factors), and
by_attribute (the same per-method summaries for colour and for shape targets). Prints the tables as Markdown,
then the JSON line.
"""
from __future__ import annotations

import numpy as np

from edits.compare import METHODS, Scorer, compare_batch, judge_labeller_agreement, markdown_table, summarise
from edits.labelers import FACTORS
from toyworld.world import sample_scene

from .common import comparison_models

SEEDS = 200  # a full run; --quick: 24


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
    diffusion, h_model, h_dirs, gan, w_dirs = comparison_models(model_path)
    n = 24 if quick else SEEDS
    seeds, bases, attrs, tgts = plan(n)
    rows = compare_batch(diffusion, gan, h_dirs, w_dirs, seeds, bases, attrs, tgts, scorer=Scorer(), batch_size=12,
                         h_diffusion=h_model, controls=True, redraw_before=True,
                         progress=_Printer(n))
    summary = summarise(rows)
    print(markdown_table(summary))
    by_attr = {a: summarise([r for r, x in zip(rows, attrs) if x == a]) for a in ("colour", "shape")}
    for a, s in by_attr.items():
        print(f"\n{a} targets only:\n{markdown_table(s)}")
    same = [r["hspace"].same_before for r in rows if r["hspace"].same_before is not None]
    return {**summary, "seeds": n, "same_before": round(float(np.mean(same)), 4) if same else None,
            "judge_labeller_agreement": judge_labeller_agreement(rows),
            "steps": diffusion.default_steps, "guidance_scale": diffusion.default_guidance,
            "methods": [*METHODS, "wspace_end_to_end"], "by_attribute": by_attr}


class _Printer:
    """Prints how far the drawing has gone, every tenth."""

    def __init__(self, n: int):
        self.n, self.last = n, -1

    def __call__(self, f: float) -> None:
        k = int(f * 10)
        if k != self.last:
            self.last = k
            print(f"compare: {10 * k} % of the pictures drawn", flush=True)

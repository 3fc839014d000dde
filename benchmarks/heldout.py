"""Imagination vs. potentiality on compositions no model ever saw: the held-out colour/shape pairs.

The four pairs `toyworld.world.HELDOUT` (a red star, a green square, a blue triangle, a pink circle) never
appear in any model's training. Each row asks for one of them from a starting picture that leaves one of its
two factors unsaid, exactly as the Side-by-side tab does (edits/compare.py): "a large star on a white
background" made red, or "a large red shape ..." made a star —

- conditioning (imagination): the prompt says the pair ("a large red star ...");
- hspace (potentiality): the starting picture's sampling, moved along the fitted h direction;
- wspace (potentiality): the starting picture brought into W by the encoder and moved along the W direction
  (scored from the redrawing; `wspace_end_to_end` from the starting picture itself).

The same is measured on *seen* pairs: the same four colours crossed with the same four shapes, minus the
held-out ones (12 pairs, every one in training), so that the comparison changes only whether the pair was
seen. Half of each group's rows change the colour, half the shape.

Per method: clean_edit_rate_heldout and clean_edit_rate_seen (target reached AND every other factor kept, on
the same edit, read by the judge) with their 95 % Wilson intervals (clean_edit_ci_*), reached_*, kept_*,
n_* (edits counted), invalid_before_*, already_*, and the random-move control's clean rate beside each
(control_clean_edit_rate_*; None for conditioning: a prompt has no random move of the same size).
`by_pair`: each held-out pair's clean rate per method, with its n. Prints the two tables, then the JSON line.
"""
from __future__ import annotations

import numpy as np

from edits.compare import METHODS, compare_batch, markdown_table, summarise
from toyworld.world import HELDOUT, sample_scene

from .common import comparison_models

ROWS = 240  # per group (held-out, seen), a full run; --quick: 8

COLOURS = tuple(dict.fromkeys(c for c, _ in HELDOUT))
SHAPES = tuple(dict.fromkeys(s for _, s in HELDOUT))
SEEN = tuple((c, s) for c in COLOURS for s in SHAPES if (c, s) not in HELDOUT)


def plan(n: int, pairs, seed: int) -> tuple[list[int], list[dict], list[str], list[str], list[str]]:
    """(seeds, bases, attributes, targets, pair names) of `n` rows cycling over `pairs` and, within each
    pair, over the two attributes: the base scene says the other factor of the pair (and a size and a
    background drawn from the toy world), the attribute changed is left unsaid."""
    rng = np.random.default_rng(seed)
    seeds, bases, attrs, targets, names = [], [], [], [], []
    for i in range(n):
        colour, shape = pairs[i % len(pairs)]
        attribute = ("colour", "shape")[(i // len(pairs)) % 2]
        s = sample_scene(rng)
        base = {"size": s.size, "background": s.background}
        base.update({"shape": shape} if attribute == "colour" else {"colour": colour})
        seeds.append(int(rng.integers(0, 2**31)))
        bases.append(base)
        attrs.append(attribute)
        targets.append(colour if attribute == "colour" else shape)
        names.append(f"{colour} {shape}")
    return seeds, bases, attrs, targets, names


def _group(summary: dict, suffix: str) -> dict:
    """One group's per-method numbers, their keys suffixed (`_heldout`, `_seen`)."""
    out = {}
    for m, s in summary.items():
        out[m] = {f"{k}_{suffix}": s.get(k) for k in ("clean_edit_rate", "clean_edit_ci", "reached", "kept",
                                                      "n", "already", "invalid_before", "control_clean_edit_rate")}
    return out


def measure(diffusion, h_model, h_dirs: dict, gan, w_dirs: dict, n: int, batch_size: int = 12,
            progress=None, **knobs) -> dict:
    """Both groups through `compare_batch` (judge, controls), summarised per method and per held-out pair;
    `knobs` (num_inference_steps, guidance_scale, negative_prompt) go to every sampling."""
    res, by_pair = {}, {}
    for suffix, pairs, seed in (("heldout", HELDOUT, 23), ("seen", SEEN, 29)):
        seeds, bases, attrs, targets, names = plan(n, pairs, seed)
        rows = compare_batch(diffusion, gan, h_dirs, w_dirs, seeds, bases, attrs, targets, batch_size=batch_size,
                             h_diffusion=h_model, controls=True, progress=progress, **knobs)
        summary = summarise(rows)
        print(f"\n{suffix} pairs ({', '.join(f'{c} {s}' for c, s in pairs)}):\n{markdown_table(summary)}", flush=True)
        for m, s in _group(summary, suffix).items():
            res.setdefault(m, {}).update(s)
        if suffix == "heldout":
            for pair in dict.fromkeys(names):
                mine = [r for r, x in zip(rows, names) if x == pair]
                by_pair[pair] = {m: {k: s[k] for k in ("clean_edit_rate", "n")} for m, s in summarise(mine).items()}
    return {**res, "by_pair": by_pair, "rows_per_group": n, "heldout_pairs": [f"{c} {s}" for c, s in HELDOUT],
            "seen_pairs": [f"{c} {s}" for c, s in SEEN], "methods": [*METHODS, "wspace_end_to_end"]}


def run(quick: bool = False, model_path: str | None = None) -> dict:
    diffusion, h_model, h_dirs, gan, w_dirs = comparison_models(model_path)
    out = measure(diffusion, h_model, h_dirs, gan, w_dirs, 8 if quick else ROWS, progress=_Printer())
    return {**out, "steps": diffusion.default_steps, "guidance_scale": diffusion.default_guidance,
            "gan": gan.name}


class _Printer:
    """Prints how far each group's drawing has gone, every quarter."""

    def __init__(self):
        self.last = -1

    def __call__(self, f: float) -> None:
        k = int(f * 4)
        if k != self.last:
            self.last = k
            print(f"heldout: {25 * k} % of a group drawn", flush=True)

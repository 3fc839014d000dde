"""Edits scored by the independent judge (edits/judge.py): the clean-edit rate and its Wilson interval.

An edit asks for one change (attribute -> target). With the judge's readings of the picture before and after:
- counted apart: the picture before is not a valid scene (`invalid_before`), or it already shows the target
  (`already`: such an edit can neither succeed nor fail, so it is never counted as reached);
- reached: the picture after is a valid scene that shows the target;
- kept: the picture after is a valid scene whose other three factors (of colour, shape, size, background)
  read as before;
- clean: reached and kept on the same edit. The do-nothing edit (after = before) scores 0 by construction.
The centroid's shift (pixels of a 64 x 64 frame) is averaged over counted edits whose picture after is valid.
"""
from __future__ import annotations

import math

import numpy as np

FACTORS = ("colour", "shape", "size", "background")


def wilson(k: int, n: int, z: float = 1.959964) -> list[float] | None:
    """The 95 % Wilson score interval of k successes in n trials (None when n is 0)."""
    if n <= 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def judge_edits(before: list, after: list, attribute: str, targets: list[str]) -> dict:
    """The rates of a batch of edits from the judge's readings before and after (same order)."""
    counted = reached = kept = clean = already = invalid = 0
    shifts = []
    for b, a, target in zip(before, after, targets):
        if not b.valid:
            invalid += 1
            continue
        lb, la = b.labels(), a.labels()
        if lb[attribute] == target:
            already += 1
            continue
        counted += 1
        r = a.valid and la[attribute] == target
        k = a.valid and all(la[f] == lb[f] for f in FACTORS if f != attribute)
        reached, kept, clean = reached + r, kept + k, clean + (r and k)
        if a.valid:
            shifts.append(math.hypot(a.x - b.x, a.y - b.y))

    def rate(k):
        return round(k / counted, 4) if counted else None

    return {"clean_edit_rate": rate(clean), "clean_edit_ci": wilson(clean, counted), "reached": rate(reached),
            "kept": rate(kept), "n": counted, "already": already, "invalid_before": invalid,
            "centroid_shift_px": round(float(np.mean(shifts)), 3) if shifts else None}

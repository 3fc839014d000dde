"""Scoring a batch of edits so that doing nothing scores zero.

    from edits.judge import read
    from edits.scores import score_edits, summarise

    scored = score_edits(read(before), read(after), attributes, targets)   # one EditScore per edit
    summarise(scored)["clean_edit_rate"], summarise(scored)["clean_edit_ci"]

An edit asks for one change: `attribute` -> `target` ("colour" -> "blue"). Reading the picture before and
after the edit (the independent judge, `edits.judge.read`, or any reader of the same four factors):

- **already**: the picture before already shows the target. Such an edit cannot succeed or fail; it is
  counted apart and never as reached.
- **reached**: the picture after shows the target (and is a valid scene: one object, one colour, a shape);
- **kept**: every other factor (colour, shape, size, background, whichever is not the attribute) reads the
  same after as before (a valid scene after);
- **clean**: reached AND kept, on the same edit. The clean-edit rate is the headline: an edit that changes
  nothing is never reached, so it scores 0 (`do_nothing`); one that changes everything is never kept.

Edits whose picture before is not a valid scene (no object, two colours, no shape) are counted apart too
(`invalid_before`): there is nothing to keep. The rates count the other edits (`n`), and every rate comes
with a Wilson score interval (`wilson`). Position is not one of the four read factors: the centroid's mean
shift (`centroid_shift_px`, pixels of a 64x64 frame) is reported beside the rates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

READ = ("colour", "shape", "size", "background")  # the factors a reading names
CONFIDENCE = 0.95


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion k/n (Wilson 1927), or None when n is 0.

        centre = (p + z^2 / 2n) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2),   z = Phi^-1((1 + confidence) / 2)
    """
    from scipy.stats import norm

    if n <= 0:
        return None
    if not 0 <= k <= n:
        raise ValueError(f"{k} successes out of {n} trials")
    z = float(norm.ppf((1 + confidence) / 2))
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _read(r) -> tuple[dict, bool, float, float]:
    """(labels, valid, x, y) of one reading: an `edits.judge.Reading`, or a plain dict of labels (a
    labeller's reading, taken as valid, with no position)."""
    if isinstance(r, dict):
        return {k: r.get(k) for k in READ}, True, math.nan, math.nan
    return dict(r.labels()), bool(r.valid), float(r.x), float(r.y)


@dataclass(frozen=True)
class EditScore:
    """One edit, read before and after."""

    attribute: str
    target: str
    before: dict
    after: dict
    valid_before: bool = True
    valid_after: bool = True
    shift_px: float = math.nan  # how far the object's centroid moved (nan: no position read)

    @property
    def already(self) -> bool:
        return self.before.get(self.attribute) == self.target

    @property
    def counted(self) -> bool:
        """Whether the rates count this edit: a valid picture before that does not already show the target."""
        return self.valid_before and not self.already

    @property
    def reached(self) -> bool:
        return self.counted and self.valid_after and self.after.get(self.attribute) == self.target

    @property
    def kept(self) -> bool:
        return self.counted and self.valid_after and all(
            self.after.get(k) == self.before.get(k) for k in READ if k != self.attribute and k in self.before)

    @property
    def clean(self) -> bool:
        return self.reached and self.kept


def score_edits(before: list, after: list, attributes: list[str] | str, targets: list[str] | str) -> list[EditScore]:
    """One EditScore per edit, from the readings of the pictures before and after (same order)."""
    n = len(before)
    attributes = [attributes] * n if isinstance(attributes, str) else list(attributes)
    targets = [targets] * n if isinstance(targets, str) else list(targets)
    if not len(after) == len(attributes) == len(targets) == n:
        raise ValueError("score_edits needs one reading before, one after, one attribute and one target per edit")
    out = []
    for rb, ra, a, t in zip(before, after, attributes, targets):
        lb, vb, xb, yb = _read(rb)
        la, va, xa, ya = _read(ra)
        out.append(EditScore(a, t, lb, la, vb, va, math.hypot(xa - xb, ya - yb)))
    return out


def do_nothing(before: list, attributes: list[str] | str, targets: list[str] | str) -> list[EditScore]:
    """The do-nothing edit: every picture after is the picture before (an h-space edit at strength 0 draws
    exactly the original's pixels, a W edit at strength 0 the same code). Its clean-edit rate is 0."""
    return score_edits(before, before, attributes, targets)


def _rate(k: int, n: int) -> float | None:
    return round(k / n, 4) if n else None


def summarise(scored: list[EditScore]) -> dict:
    """The rates of a batch of edits: clean_edit_rate (the headline) with its Wilson interval, reached,
    kept, kept_given_reached, n (the edits counted), already and invalid_before (counted apart), and the
    centroid's mean shift in pixels over counted edits whose pictures were both valid."""
    counted = [s for s in scored if s.counted]
    n = len(counted)
    clean = sum(s.clean for s in counted)
    reached = sum(s.reached for s in counted)
    ci = wilson(clean, n)
    shifts = [s.shift_px for s in counted if s.valid_after and not math.isnan(s.shift_px)]
    return {"clean_edit_rate": _rate(clean, n), "clean_edit_ci": None if ci is None else [round(v, 4) for v in ci],
            "reached": _rate(reached, n), "kept": _rate(sum(s.kept for s in counted), n),
            "kept_given_reached": _rate(clean, reached), "n": n,
            "already": sum(s.already for s in scored if s.valid_before),
            "invalid_before": sum(not s.valid_before for s in scored),
            "centroid_shift_px": round(float(np.mean(shifts)), 3) if shifts else None}


def scores_with_controls(edit: list[EditScore], control: list[EditScore] | None, nothing: list[EditScore]) -> dict:
    """`summarise(edit)` with the control's and the do-nothing edit's clean-edit rates beside it (and the
    control's own summary under "control")."""
    out = summarise(edit)
    c = summarise(control) if control is not None else None
    out["control_clean_edit_rate"] = None if c is None else c["clean_edit_rate"]
    out["do_nothing_clean_edit_rate"] = summarise(nothing)["clean_edit_rate"]
    if c is not None:
        out["control"] = c
    return out


def agreement(readings_a: list, readings_b: list) -> dict[str, float | None]:
    """Per factor, the fraction of pictures on which two readers name the same class (e.g. the judge and
    the fitting labellers)."""
    pairs = [(_read(a)[0], _read(b)[0]) for a, b in zip(readings_a, readings_b)]
    return {k: (round(float(np.mean([x[k] == y[k] for x, y in pairs])), 4) if pairs else None) for k in READ}

"""What an h-space edit is: `HEdit` (the direction, the strengths, the interval, the move) and the defaults
the tab, the benchmarks and compare start from."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..directions import DirectionError, can_swap
from ..pipeline import InputError, check_number

MODES = ("asymmetric", "symmetric")
MOVES = ("guided", "land", "add", "swap", "recurrent", "causal")
APPLY = ("eps", "x0")  # where a guided move's gradient enters the DDIM step
MAX_STRENGTH = 100.0


@dataclass(frozen=True)
class Guide:
    """How a "guided" move applies its readouts (measured in assets/directions/FINDINGS.md §7).

    keep_weight: weight of the preserve terms, log p(the class read at the first edited step | h) for
    every readout in `HEdit.keep`; mask: confine the gradient to the object, read from the predicted x0
    (latent resolution); apply: "eps" guides the noise prediction of the whole DDIM step (classifier
    guidance), "x0" only its predicted-x0 term (Asyrp's asymmetric step); recurrence: how many times the
    "recurrent" move takes each guided step, noising back to the same step in between (recurrence.py)."""

    keep_weight: float = 1.0
    mask: bool = True
    apply: str = "eps"
    recurrence: int = 3
    place_weight: float = 1.0  # weight of the term holding the object's place (place.py), when "place" is kept


@dataclass
class HEdit:
    """How to move h along d_t on the steps in [start, end) (fractions of the schedule).

    `direction` is a `edits.directions.Direction` in h-space (one unit vector per fitted timestep,
    the boundary's offset, and the spread of h along it, `scale`, so that a strength is counted in
    standard deviations). `strengths` has one value per image of the batch. `move`:
    - "guided": h is not written to. x_t moves along the gradient, through the down-blocks and
      the mid-block, of log p(target | h) under the direction's readout (with its `siblings`, the
      attribute's other classes) plus `guide.keep_weight` times log p(original class | h) under the
      readouts of `keep` (other attributes' directions): the pullback of the h-space direction, so that
      the whole UNet, skips included, redraws. Needs directions fitted with readouts;
    - "recurrent" (DEFAULT_EDIT's move): the guided move with each guided step taken `recurrence` times,
      x_(t-1) noised back to t in between (recurrence.py);
    - "land": h lands `strength` spreads on the target's side of that step's boundary, wherever it
      started (`edits.directions.signed_shift`, as in W-space); for a direction on the full mid-block
      output (not pooled, no skip tensors), else "add" is used;
    - "add": h <- h + strength * scale_t * d_t;
    - "swap": a class swap, as in W-space: at each step the readout tells which class h is in, and
      h <- h + strength * a_target - min(max(strength, 0), 1) * a_current, a_c being class c's offset
      from the mean of all samples at that step; for a direction on the full mid-block output with a
      readout, else "land" is used.
    `mode` (add, land, swap): "asymmetric" uses the edited prediction only for the predicted-x0 term.
    """

    direction: object
    strengths: list[float] | float = 1.0
    start: float = 0.0
    end: float = 0.6
    mode: str = "asymmetric"
    move: str = "land"
    siblings: list = field(default_factory=list)  # the attribute's other classes, for "swap" and "guided"
    keep: list = field(default_factory=list)  # other attributes' directions (all classes), for "guided"
    guide: Guide = field(default_factory=Guide)

    @property
    def can_swap(self) -> bool:
        return can_swap([self.direction, *self.siblings])

    def check(self) -> "HEdit":
        if self.mode not in MODES:
            raise InputError(f"The mode must be one of {', '.join(MODES)}.")
        if self.move not in MOVES:
            raise InputError(f"The move must be one of {', '.join(MOVES)}.")
        if self.guide.apply not in APPLY:
            raise InputError(f"A guided move applies its gradient to one of {', '.join(APPLY)}.")
        s = [self.strengths] if np.isscalar(self.strengths) else list(self.strengths)
        self.strengths = [check_number(v, "Strength", -MAX_STRENGTH, MAX_STRENGTH) for v in s]
        self.start = check_number(self.start, "The start of the edit interval", 0.0, 1.0)
        self.end = check_number(self.end, "The end of the edit interval", 0.0, 1.0)
        if self.end <= self.start:
            raise InputError("The edit interval is empty: its end must come after its start.")
        if self.move in ("guided", "recurrent") and not can_read(self.direction, self.siblings):
            raise DirectionError(f"The direction {self.direction.label!r} has no readout (or no other class of "
                                 "its attribute beside it), so a guided edit cannot tell where to go: refit it "
                                 "with `python -m edits.fit hspace` or the tab's 'Fit your own', or choose "
                                 "another move.")
        return self

    def active(self, step_frac: float) -> bool:
        return self.start <= step_frac < self.end and any(self.strengths)


def can_read(direction, siblings) -> bool:
    """Whether a direction and its siblings carry a readout of their attribute (what "guided" reads)."""
    return len(siblings) >= 1 and all(d.readout_vectors is not None for d in (direction, *siblings))


# ------------------------------------------------------------------ the default edit
# What `python -m benchmarks hspace` measures and the tab starts at: the guided move with self-recurrence, the
# cleanest of the moves judged on the same 200 seeds at 12 steps, the default then (assets/directions/FINDINGS.md §10),
# each guided step taken three times (Guide.recurrence) at half the strength, on the steps from 0.2 to 0.6 of the
# schedule: at 12 steps 15 guided steps a picture, as many as two-times-over-0.2-0.8 took, cleaner (FINDINGS §11);
# at today's 15 steps, 18 (FINDINGS §14).
DEFAULT_EDIT = {"strength": 0.5, "start": 0.2, "end": 0.6, "mode": "asymmetric", "move": "recurrent"}


def default_edit(direction, strengths: list[float] | float, siblings: list = (), keep: list = ()) -> HEdit:
    """The default edit (interval, mode, move) at these strengths."""
    return HEdit(direction, strengths, **{k: v for k, v in DEFAULT_EDIT.items() if k != "strength"},
                 siblings=list(siblings), keep=list(keep))

"""Imagination next to potentiality: one seed, one target change, made three ways and measured.

    cols = compare(diffusion, gan, h_dirs, w_dirs, seed=7,
                   base={"size": "large", "colour": "red", "shape": "circle", "background": "white"},
                   attribute="colour", target="blue")
    cols["conditioning"].reached, cols["hspace"].kept, cols["wspace"].distance

- conditioning: the base prompt, then the same prompt with the attribute rewritten to the target
  (imagination: the model composes what it is told).
- hspace: the base prompt with the attribute left unsaid, then the same prompt with h pushed along the
  fitted direction (the h-space tab's default edit).
- wspace: the conditioning column's unedited picture brought into the StyleGAN's W by its encoder
  (`invert`) and redrawn, then that w moved by the W-space tab's default edit: the GAN has no prompt, so it
  starts from the same picture as Imagination. A generator without an encoder draws the seed's own scene.

Each column is measured against its *own* unedited image: `reached` (the target is read: colour from
pixels, the other factors by the toy-world classifier), `kept` (every other factor unchanged) and
`distance` (1 - SSIM, so 0 means identical; see edits/metrics.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .directions import no_direction, others_of, siblings_of
from .hspace import DEFAULT_EDIT, default_edit, sample
from .labelers import FACTORS, ColourLabeler, ToyClassifierLabeler
from .metrics import distance
from .pipeline import InputError, check_seed, to_uint8
from .wspace import DEFAULT_PSI, DEFAULT_STRENGTH, apply_edits, invert, make_edit
from .zerogpu import FIT, gpu

METHODS = ("conditioning", "hspace", "wspace")
TITLES = {"conditioning": "Imagination — prompt rewritten", "hspace": "Potentiality — h-space direction",
          "wspace": "Potentiality — W-space direction"}


@dataclass
class Column:
    method: str
    original: np.ndarray | None = None  # (H, W, 3) uint8
    edited: np.ndarray | None = None
    reached: bool | None = None
    kept: bool | None = None
    distance: float | None = None
    already: bool = False  # the unedited image already shows the target
    note: str = ""
    labels: dict = field(default_factory=dict)  # {"original": {...}, "edited": {...}}


class Scorer:
    """Reads every factor of a batch of images: colour from pixels, the rest by the classifier."""

    def __init__(self):
        self.colour, self.classifier = ColourLabeler(), ToyClassifierLabeler("shape")

    def __call__(self, images: np.ndarray) -> list[dict[str, str]]:
        pred = self.classifier.predict(images)
        colours = self.colour(images)
        return [{"colour": colours[i], **{k: pred[k][0][i] for k in FACTORS if k != "colour"}}
                for i in range(len(images))]


def check_target(attribute: str, target: str) -> None:
    if attribute not in FACTORS:
        raise InputError(f"Choose the attribute to change among {', '.join(FACTORS)} (not {attribute!r}).")
    if target not in FACTORS[attribute]:
        raise InputError(f"'{target}' is not a {attribute} of the toy world; choose among "
                         f"{', '.join(FACTORS[attribute])}.")


def factors_from_prompt(prompt: str) -> dict[str, str]:
    """The toy-world factors a prompt names (object colours and backgrounds use distinct words)."""
    words = set(prompt.lower().replace(",", " ").split())
    found = {k: [v for v in values if v in words] for k, values in FACTORS.items()}
    if "grey" in words:
        found["background"].append("gray")
    clash = [k for k, v in found.items() if len(v) > 1]
    if clash:
        raise InputError(f"The prompt names more than one {clash[0]}; keep one per scene.")
    return {k: v[0] for k, v in found.items() if v}


def prompts_for(base: dict, attribute: str, target: str) -> dict[str, tuple[str, str]]:
    """(unedited prompt, edited prompt) for the conditioning and the h-space columns."""
    from toyworld.world import prompt_for

    base = {k: v for k, v in base.items() if k in FACTORS and v}
    unsaid = {k: v for k, v in base.items() if k != attribute}
    return {"conditioning": (prompt_for(**base), prompt_for(**{**base, attribute: target})),
            "hspace": (prompt_for(**unsaid), prompt_for(**unsaid))}


def _finish(col: Column, scorer: Scorer, attribute: str, target: str) -> Column:
    lo, le = scorer(np.stack([col.original, col.edited]))
    col.labels = {"original": lo, "edited": le}
    col.already = lo[attribute] == target
    col.reached = le[attribute] == target
    col.kept = all(lo[k] == le[k] for k in FACTORS if k != attribute)
    col.distance = round(distance(col.original, col.edited), 4)
    return col


@gpu(FIT)
def compare_batch(diffusion, gan, h_dirs: dict, w_dirs: dict, seeds: list[int], bases: list[dict],
                  attributes: list[str], targets: list[str], scorer: Scorer | None = None,
                  truncation_psi: float = DEFAULT_PSI, batch_size: int = 8, progress=None,
                  h_diffusion=None) -> list[dict[str, Column]]:
    """The three columns for each (seed, base, attribute, target); diffusion sampling is batched.
    `h_diffusion` is the model of the h-space column (default: `diffusion`)."""
    h_diffusion = h_diffusion or diffusion
    scorer = scorer or Scorer()
    seeds = [check_seed(s) for s in seeds]
    for a, t in zip(attributes, targets):
        check_target(a, t)
    n = len(seeds)
    out = [{m: Column(m) for m in METHODS} for _ in range(n)]
    plans = [prompts_for(b, a, t) for b, a, t in zip(bases, attributes, targets)]
    keys = [f"{a}: {t}" for a, t in zip(attributes, targets)]
    tick = _Progress(progress, 2 * n + n)
    _conditioning_columns(diffusion, out, plans, seeds, batch_size, tick)
    _hspace_columns(h_diffusion, h_dirs, out, plans, seeds, keys, batch_size, tick)
    _wspace_columns(gan, w_dirs, out, seeds, keys, attributes, targets, truncation_psi)
    _score(out, scorer, attributes, targets)
    if progress:
        progress(1.0)
    return out


class _Progress:
    """Reports the fraction of `total` images done to `progress` (when there is one)."""

    def __init__(self, progress, total: int):
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self, n: int) -> None:
        self.done += n
        if self.progress:
            self.progress(self.done / self.total)


def _conditioning_columns(diffusion, out: list[dict[str, Column]], plans: list[dict], seeds: list[int],
                          batch_size: int, tick: _Progress) -> None:
    """Imagination: the base prompt and the rewritten one, on the same seed, no edit."""
    n = len(seeds)
    for i in range(0, n, batch_size):
        idx = list(range(i, min(n, i + batch_size)))
        prompts = [plans[j]["conditioning"][k] for j in idx for k in (0, 1)]
        imgs = to_uint8(sample(diffusion, prompts, [seeds[j] for j in idx for _ in (0, 1)]).images)
        for r, j in enumerate(idx):
            out[j]["conditioning"].original, out[j]["conditioning"].edited = imgs[2 * r], imgs[2 * r + 1]
        tick(len(idx))


def _hspace_columns(h_diffusion, h_dirs: dict, out: list[dict[str, Column]], plans: list[dict], seeds: list[int],
                    keys: list[str], batch_size: int, tick: _Progress) -> None:
    """h-space: the unsaid prompt unedited (exactly generate()'s image), then edited, grouped by direction."""
    for key in sorted(set(keys)):
        idx_all = [j for j, k in enumerate(keys) if k == key]
        d = h_dirs.get(key)
        for i in range(0, len(idx_all), batch_size):
            idx = idx_all[i:i + batch_size]
            if d is None:
                for j in idx:
                    out[j]["hspace"].note = no_direction("h", key, h_dirs)
                continue
            prompts, sd = [plans[j]["hspace"][0] for j in idx], [seeds[j] for j in idx]
            edit = default_edit(d, DEFAULT_EDIT["strength"], siblings_of(h_dirs, d), others_of(h_dirs, d))
            plain = to_uint8(sample(h_diffusion, prompts, sd).images)
            edited = to_uint8(sample(h_diffusion, prompts, sd, edit=edit).images)
            for r, j in enumerate(idx):
                out[j]["hspace"].original, out[j]["hspace"].edited = plain[r], edited[r]
            tick(len(idx))


def _wspace_columns(gan, w_dirs: dict, out: list[dict[str, Column]], seeds: list[int], keys: list[str],
                    attributes: list[str], targets: list[str], truncation_psi: float) -> None:
    """W space: each row's start code (`_start_codes`) drawn, then moved by the W-space tab's default edit."""
    if gan is None:
        for row in out:
            row["wspace"].note = "no StyleGAN on this server"
        return
    w = _start_codes(gan, out, seeds, truncation_psi)
    for j, key in enumerate(keys):
        if w_dirs.get(key) is None:
            out[j]["wspace"].note = no_direction("w", key, w_dirs)
            continue
        edit = make_edit(w_dirs, attributes[j], targets[j], DEFAULT_STRENGTH)
        wp = apply_edits(gan, w[j:j + 1], [edit])  # (1, L, w_dim)
        imgs = gan.render(torch.cat([gan.generator.broadcast(w[j:j + 1]), wp]))
        out[j]["wspace"].original, out[j]["wspace"].edited = imgs[0], imgs[1]


def _score(out: list[dict[str, Column]], scorer: Scorer, attributes: list[str], targets: list[str]) -> None:
    """The shared measurements (`_finish`) of every column that has a picture."""
    for j, row in enumerate(out):
        for col in row.values():
            if col.original is not None:
                _finish(col, scorer, attributes[j], targets[j])


def _start_codes(gan, rows: list[dict[str, Column]], seeds: list[int], truncation_psi: float):
    """The W column's codes: the Imagination column's unedited pictures brought into W by the encoder; for a
    generator without one (the label-built model; optimising from w_avg did not find the pictures), the
    seeds' own codes."""
    if gan.encoder is not None:
        return invert(gan, np.stack([row["conditioning"].original for row in rows]))
    return gan.w_from_seeds(seeds, truncation_psi)


def compare(diffusion, gan, h_dirs, w_dirs, seed: int, base: dict, attribute: str, target: str,
            **kwargs) -> dict[str, Column]:
    return compare_batch(diffusion, gan, h_dirs, w_dirs, [seed], [base], [attribute], [target], **kwargs)[0]


def summarise(rows: list[dict[str, Column]]) -> dict[str, dict]:
    """Per method: success (target reached, among cases whose unedited image did not already show it),
    preservation (other factors kept, among the same cases), mean distance (1 - SSIM, all cases)."""
    out = {}
    for m in METHODS:
        cols = [r[m] for r in rows if r[m].original is not None]
        counted = [c for c in cols if not c.already]
        out[m] = {"success": round(float(np.mean([c.reached for c in counted])), 3) if counted else None,
                  "preservation": round(float(np.mean([c.kept for c in counted])), 3) if counted else None,
                  "distance": round(float(np.mean([c.distance for c in cols])), 4) if cols else None,
                  "n": len(counted)}
    return out


def markdown_table(summary: dict[str, dict]) -> str:
    lines = ["| method | target reached | other factors kept | distance (1 − SSIM) | n |", "|---|---|---|---|---|"]
    def fmt(v, digits=2):
        return "—" if v is None else f"{v:.{digits}f}"

    for m, s in summary.items():
        lines.append(f"| {TITLES[m]} | {fmt(s['success'])} | {fmt(s['preservation'])} | "
                     f"{fmt(s['distance'], 3)} | {s['n']} |")
    return "\n".join(lines)

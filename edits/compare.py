"""Imagination next to potentiality: one starting picture, one target change, made three ways and scored.

    rows = compare_batch(diffusion, gan, h_dirs, w_dirs, seeds=[7],
                         bases=[{"size": "large", "shape": "circle", "background": "white"}],
                         attributes=["colour"], targets=["blue"])
    rows[0]["conditioning"].clean, rows[0]["hspace"].score, rows[0]["wspace"].redrawn

**One starting picture.** The base prompt leaves the attribute being changed unsaid ("a large circle on a
white background"); its picture at the seed, drawn with the shared settings (steps, guidance, negative
prompt) exactly as the Imagination tab draws it, is the *before* of every column:

- conditioning (imagination): the same prompt with the target said ("a large blue circle on a white
  background"), the same seed and settings;
- hspace (potentiality): that picture's sampling again, with the h-space tab's default edit (on the
  Imagination model itself, an unedited h-space sampling is that picture, pixel for pixel; with
  `redraw_before` it is drawn again through the h-space path and compared, `Column.same_before`);
- wspace (potentiality): that picture brought into the StyleGAN's W by its encoder (`invert`), drawn again
  (`Column.redrawn`), then moved by the W-space tab's default edit. The edit is scored from the redrawing
  (`Column.score`), the round trip apart (`Column.inversion_kept`), and both together from the picture
  (`Column.end_to_end`). A generator without an encoder starts from its seed's own scene instead.

Scoring (edits/scores.py): the pictures are read by the independent judge (`edits.judge.read`); an edit is
*clean* when the target is reached and every other factor kept, on the same edit. With `controls`, each
column also gets a random move of the same size shaped like its space (edits/controls.py); the do-nothing
edit (the picture before, read as the picture after) scores 0 by construction. `inversion_kept`: the
starting picture, read as a valid scene, comes back from W as a valid scene with the same four factors. (The conditioning column
has no control: a prompt has no random move of the same size.) With `labellers`, the
fitting labellers (colour from pixels, the toy-world classifier: `Scorer`) read the same pictures, as a
second column. `distance` is 1 - SSIM between a column's before and after (0 = identical).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .controls import random_readouts, random_w_move, w_spread
from .directions import no_direction, others_of, siblings_of
from .hspace import DEFAULT_EDIT, default_edit, sample
from .labelers import FACTORS, ColourLabeler, ToyClassifierLabeler
from .metrics import distance
from .pipeline import InputError, check_prompt, check_seed, to_uint8
from .scores import EditScore, agreement, do_nothing, score_edits, scores_with_controls, summarise as summarise_edits
from .wspace import DEFAULT_PSI, DEFAULT_STRENGTH, apply_edits, invert, make_edit
from .zerogpu import FIT, gpu

METHODS = ("conditioning", "hspace", "wspace")
TITLES = {"conditioning": "Imagination — prompt rewritten", "hspace": "Potentiality — h-space direction",
          "wspace": "Potentiality — W-space direction",
          "wspace_end_to_end": "W-space, scored from the starting picture (round trip included)"}


@dataclass
class Column:
    method: str
    original: np.ndarray | None = None  # the before (H, W, 3) uint8: the shared starting picture
    edited: np.ndarray | None = None
    redrawn: np.ndarray | None = None  # wspace: the before brought into W and drawn again
    control_image: np.ndarray | None = None  # the control's picture after (with `controls`)
    score: EditScore | None = None  # the edit, read by the judge (wspace: from the redrawing)
    control: EditScore | None = None
    nothing: EditScore | None = None  # the do-nothing edit
    end_to_end: EditScore | None = None  # wspace: from the before, through the round trip and the edit
    inversion_kept: bool | None = None  # wspace: the redrawing of a valid before is valid and reads the same
    same_before: bool | None = None  # hspace with `redraw_before`: its own before equals the shared one
    by_labellers: EditScore | None = None  # the same edit read by the fitting labellers
    distance: float | None = None
    note: str = ""
    labels: dict = field(default_factory=dict)  # the judge's labels: {"original": ..., "edited": ..., "redrawn": ...}

    @property
    def already(self) -> bool:
        return bool(self.score and self.score.already)

    @property
    def reached(self) -> bool | None:
        return None if self.score is None else self.score.reached

    @property
    def kept(self) -> bool | None:
        return None if self.score is None else self.score.kept

    @property
    def clean(self) -> bool | None:
        return None if self.score is None else self.score.clean


class Scorer:
    """The fitting labellers, reading every factor of a batch of images: colour from pixels, the rest by the
    classifier. (The edits are scored by the independent judge, edits/judge.py; these read as a second
    column, and in the notebooks.)"""

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


def prompts_for(base: dict, attribute: str, target: str) -> dict[str, str]:
    """The prompts of one comparison: `before` (the base scene with the attribute unsaid: the starting
    picture of every column) and `conditioning` (the same with the target said)."""
    from toyworld.world import prompt_for

    unsaid = {k: v for k, v in base.items() if k in FACTORS and v and k != attribute}
    return {"before": prompt_for(**unsaid), "conditioning": prompt_for(**{**unsaid, attribute: target})}


class _Progress:
    """Reports the fraction of `total` pictures done to `progress` (when there is one)."""

    def __init__(self, progress, total: int):
        self.progress, self.total, self.done = progress, max(1, total), 0

    def __call__(self, n: int) -> None:
        self.done += n
        if self.progress:
            self.progress(min(1.0, self.done / self.total))


@dataclass
class _Plan:
    """Everything one call fixes before drawing: prompts, seeds, changes and the shared settings."""

    seeds: list[int]
    attributes: list[str]
    targets: list[str]
    before: list[str]  # the base prompts, the attribute left unsaid
    said: list[str]  # the same with the target said
    knobs: dict  # negative_prompt, num_inference_steps, guidance_scale (as `sample` takes them)
    batch_size: int

    @property
    def keys(self) -> list[str]:
        return [f"{a}: {t}" for a, t in zip(self.attributes, self.targets)]


@gpu(FIT)
def compare_batch(diffusion, gan, h_dirs: dict, w_dirs: dict, seeds: list[int], bases: list[dict],
                  attributes: list[str], targets: list[str], scorer: Scorer | None = None,
                  truncation_psi: float = DEFAULT_PSI, batch_size: int = 8, progress=None,
                  h_diffusion=None, *, negative_prompt: str = "", num_inference_steps: int | None = None,
                  guidance_scale: float | None = None, controls: bool = False, redraw_before: bool = False,
                  reader=None) -> list[dict[str, Column]]:
    """The three columns for each (seed, base, attribute, target), from one starting picture per row.

    `h_diffusion` is the model of the h-space column (default: `diffusion`); the settings (negative prompt,
    steps, guidance) are shared by every sampling. `scorer` (the fitting labellers) adds their reading as a
    second column; `controls` draws each column's random move too; `redraw_before` draws the h-space
    column's before again through the h-space path (as /edit_h draws it) and records whether it is the
    shared one; `reader` reads pictures (default: the judge, `edits.judge.read`)."""
    h_diffusion = h_diffusion or diffusion
    seeds = [check_seed(s) for s in seeds]
    for a, t in zip(attributes, targets):
        check_target(a, t)
    prompts = [prompts_for(b, a, t) for b, a, t in zip(bases, attributes, targets)]
    plan = _Plan(seeds, list(attributes), list(targets), [p["before"] for p in prompts],
                 [p["conditioning"] for p in prompts],
                 dict(negative_prompt=check_prompt(negative_prompt, "negative prompt"),
                      num_inference_steps=num_inference_steps, guidance_scale=guidance_scale), batch_size)
    n = len(seeds)
    redraw = redraw_before or h_diffusion is not diffusion
    tick = _Progress(progress, n * (3 + controls + redraw))
    out = [{m: Column(m) for m in METHODS} for _ in range(n)]
    befores = _befores(diffusion, plan, tick)
    _conditioning_columns(diffusion, out, plan, befores, tick)
    _hspace_columns(h_diffusion, h_dirs, out, plan, befores, controls, redraw, tick)
    _wspace_columns(gan, w_dirs, out, plan, befores, truncation_psi, controls)
    _score(out, plan, reader, scorer)
    if progress:
        progress(1.0)
    return out


def _befores(diffusion, plan: _Plan, tick: _Progress) -> np.ndarray:
    """The starting pictures (N, H, W, 3) uint8, one seed at a time, exactly as the Imagination tab draws them
    (`generate`: the diffusers pipeline itself, one picture per call)."""
    k = plan.knobs
    out = []
    for p, s in zip(plan.before, plan.seeds):
        out.append(to_uint8(diffusion.generate(p, k["negative_prompt"], s, k["num_inference_steps"],
                                               k["guidance_scale"], output_type="np")))
        tick(1)
    return np.stack(out)


def _batches(idx: list[int], size: int):
    for i in range(0, len(idx), max(1, size)):
        yield idx[i:i + max(1, size)]


def _conditioning_columns(diffusion, out: list[dict[str, Column]], plan: _Plan, befores: np.ndarray,
                          tick: _Progress) -> None:
    """Imagination: the starting picture, then the same prompt with the target said (same seed, settings).
    A prompt has no random move of the same size, so this column has no control."""
    for idx in _batches(list(range(len(plan.seeds))), plan.batch_size):
        sd = [plan.seeds[j] for j in idx]
        imgs = to_uint8(sample(diffusion, [plan.said[j] for j in idx], sd, **plan.knobs).images)
        for r, j in enumerate(idx):
            out[j]["conditioning"].original, out[j]["conditioning"].edited = befores[j], imgs[r]
        tick(len(idx))


def _hspace_columns(h_diffusion, h_dirs: dict, out: list[dict[str, Column]], plan: _Plan, befores: np.ndarray,
                    controls: bool, redraw: bool, tick: _Progress) -> None:
    """h-space: the starting picture edited through h (the tab's default edit, the shared settings), in
    batches of one direction. With `redraw`, its before is drawn again through the h-space path, one seed at
    a time as /edit_h draws it; its control follows random readouts at the same strength."""
    for key in sorted(set(plan.keys)):
        idx_all = [j for j, k in enumerate(plan.keys) if k == key]
        d = h_dirs.get(key)
        if d is None:
            for j in idx_all:
                out[j]["hspace"].note = no_direction("h", key, h_dirs)
            continue
        siblings, keep = siblings_of(h_dirs, d), others_of(h_dirs, d)
        for b, idx in enumerate(_batches(idx_all, plan.batch_size)):
            prompts, sd = [plan.before[j] for j in idx], [plan.seeds[j] for j in idx]
            edit = default_edit(d, DEFAULT_EDIT["strength"], siblings, keep)
            edited = to_uint8(sample(h_diffusion, prompts, sd, edit=edit, **plan.knobs).images)
            for r, j in enumerate(idx):
                col = out[j]["hspace"]
                col.original, col.edited = befores[j], edited[r]
                if redraw:
                    own = to_uint8(sample(h_diffusion, prompts[r], sd[r], **plan.knobs).images[0])
                    col.same_before = bool(np.array_equal(own, befores[j]))
                    col.original = own
                    if not col.same_before:
                        col.note = "its starting picture, drawn through h-space, differs from the Imagination one"
                    tick(1)
            tick(len(idx))
            if controls:
                gen = torch.Generator().manual_seed(int(np.random.default_rng([*sd, b]).integers(2**31)))
                rd, rs = random_readouts(d, siblings, gen)
                ctl = to_uint8(sample(h_diffusion, prompts, sd, edit=default_edit(rd, DEFAULT_EDIT["strength"], rs, keep),
                                      **plan.knobs).images)
                for r, j in enumerate(idx):
                    out[j]["hspace"].control_image = ctl[r]
                tick(len(idx))


def _wspace_columns(gan, w_dirs: dict, out: list[dict[str, Column]], plan: _Plan, befores: np.ndarray,
                    truncation_psi: float, controls: bool) -> None:
    """W space: the starting pictures brought into W (`invert`) and drawn again, then moved by the W-space
    tab's default edit; a generator without an encoder starts from its seeds' own codes. The control moves
    each code as far along a random direction drawn from W's own spread, on the same layers."""
    if gan is None:
        for row in out:
            row["wspace"].note = "no StyleGAN on this server"
        return
    inverted = gan.encoder is not None
    w = invert(gan, befores) if inverted else gan.w_from_seeds(plan.seeds, truncation_psi)  # (N, w_dim)
    start = gan.render(w)  # (N, H, W, 3)
    spread = w_spread(gan) if controls else None
    gen = torch.Generator().manual_seed(0)
    for j, key in enumerate(plan.keys):
        col = out[j]["wspace"]
        if w_dirs.get(key) is None:
            col.note = no_direction("w", key, w_dirs)
            continue
        edit = make_edit(w_dirs, plan.attributes[j], plan.targets[j], DEFAULT_STRENGTH)
        base = gan.generator.broadcast(w[j:j + 1])  # (1, L, w_dim)
        wp = apply_edits(gan, w[j:j + 1], [edit])  # (1, L, w_dim)
        moves = [wp] + ([base + random_w_move(wp - base, spread, gen)] if controls else [])
        imgs = gan.render(torch.cat(moves))
        col.original = befores[j] if inverted else start[j]
        col.redrawn = start[j] if inverted else None
        col.edited = imgs[0]
        col.control_image = imgs[1] if controls else None
        if not inverted:
            col.note = f"{gan.name} has no encoder: it starts from its seed's own scene"


def _score(out: list[dict[str, Column]], plan: _Plan, reader, scorer: Scorer | None) -> None:
    """Reads every picture once (the judge, and the labellers when given) and scores each column."""
    if reader is None:
        from .judge import read as reader
    images, where = [], []  # where[i] = (row, method, slot)
    for j, row in enumerate(out):
        for m, col in row.items():
            for slot in ("original", "edited", "redrawn", "control_image"):
                im = getattr(col, slot)
                if im is not None and col.edited is not None:
                    where.append((j, m, slot))
                    images.append(im)
    if not images:
        return
    read = {}
    for shape in {np.shape(im) for im in images}:  # one read per picture size (a foreign GAN draws its own size)
        idx = [i for i, im in enumerate(images) if np.shape(im) == shape]
        stack = np.stack([images[i] for i in idx])
        judged = reader(stack)
        labelled = scorer(stack) if scorer is not None else None
        read.update({where[i]: (judged[k], labelled[k] if labelled is not None else None) for k, i in enumerate(idx)})
    for j, row in enumerate(out):
        a, t = plan.attributes[j], plan.targets[j]
        for m, col in row.items():
            if col.edited is None:
                continue
            first = "redrawn" if col.redrawn is not None else "original"  # the edit's own before
            before, after = read[(j, m, first)], read[(j, m, "edited")]
            col.score = score_edits([before[0]], [after[0]], a, t)[0]
            col.nothing = do_nothing([before[0]], a, t)[0]
            if col.control_image is not None:
                col.control = score_edits([before[0]], [read[(j, m, "control_image")][0]], a, t)[0]
            if scorer is not None:
                col.by_labellers = score_edits([before[1]], [after[1]], a, t)[0]
            col.labels = {s: _labels(read[(j, m, s)][0]) for s in ("original", "edited", "redrawn")
                          if (j, m, s) in read}
            col.distance = round(distance(getattr(col, first), col.edited), 4)
            if col.redrawn is not None:
                pic = read[(j, m, "original")][0]
                col.end_to_end = score_edits([pic], [after[0]], a, t)[0]
                col.inversion_kept = (None if not _valid(pic) else
                                      _valid(before[0]) and _labels(pic) == _labels(before[0]))


def _labels(reading) -> dict:
    return dict(reading) if isinstance(reading, dict) else dict(reading.labels())


def _valid(reading) -> bool:
    return True if isinstance(reading, dict) else bool(reading.valid)


def compare(diffusion, gan, h_dirs, w_dirs, seed: int, base: dict, attribute: str, target: str,
            **kwargs) -> dict[str, Column]:
    return compare_batch(diffusion, gan, h_dirs, w_dirs, [seed], [base], [attribute], [target], **kwargs)[0]


# ------------------------------------------------------------------ over many rows
def summarise(rows: list[dict[str, Column]]) -> dict[str, dict]:
    """Per method, the clean-edit rate and its company (edits/scores.py: clean_edit_rate, clean_edit_ci,
    reached, kept, kept_given_reached, n, control_clean_edit_rate, do_nothing_clean_edit_rate), the mean
    distance, and with the labellers' reading their rates (`labellers`; `success` and `preservation` are
    their reached and kept, as this summary always named them). W space also gets `wspace_end_to_end`: its
    edits scored from the starting picture, through the round trip into W."""
    out = {}
    for m in METHODS:
        cols = [r[m] for r in rows if r[m].score is not None]
        out[m] = _method_summary(cols, [c.score for c in cols])
    ends = [r["wspace"] for r in rows if r["wspace"].end_to_end is not None]
    if ends:
        out["wspace_end_to_end"] = _method_summary(ends, [c.end_to_end for c in ends], labellers=False)
        trips = [c.inversion_kept for c in ends if c.inversion_kept is not None]
        out["wspace"]["inversion_kept"] = round(float(np.mean(trips)), 4) if trips else None
    return out


def _method_summary(cols: list[Column], scored: list[EditScore], labellers: bool = True) -> dict:
    controls = [c.control for c in cols]
    s = scores_with_controls(scored, controls if cols and all(x is not None for x in controls) else None,
                             [c.nothing for c in cols])
    s["distance"] = round(float(np.mean([c.distance for c in cols])), 4) if cols else None
    if labellers and cols and all(c.by_labellers is not None for c in cols):
        lab = summarise_edits([c.by_labellers for c in cols])
        s["labellers"] = {k: lab[k] for k in ("clean_edit_rate", "clean_edit_ci", "reached", "kept",
                                              "kept_given_reached", "n", "already")}
        s["success"], s["preservation"] = lab["reached"], lab["kept"]
    return s


def judge_labeller_agreement(rows: list[dict[str, Column]]) -> dict:
    """Per factor, how often the judge and the fitting labellers name the same class, over every picture
    before and after an edit that both read (compare_batch with a `scorer`)."""
    judge, labellers = [], []
    for r in rows:
        for c in r.values():
            if c.score is not None and c.by_labellers is not None:
                judge += [c.score.before, c.score.after]
                labellers += [c.by_labellers.before, c.by_labellers.after]
    return agreement(judge, labellers)


def _fmt(v, digits=2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def markdown_table(summary: dict[str, dict]) -> str:
    lines = ["| method | clean edits [95 % CI] | reached | kept | kept when reached | random move | do nothing | n |",
             "|---|---|---|---|---|---|---|---|"]
    for m, s in summary.items():
        ci = s.get("clean_edit_ci")
        ci = f" [{ci[0]:.2f}–{ci[1]:.2f}]" if ci else ""
        lines.append(f"| {TITLES.get(m, m)} | {_fmt(s['clean_edit_rate'])}{ci} | {_fmt(s['reached'])} | "
                     f"{_fmt(s['kept'])} | {_fmt(s['kept_given_reached'])} | {_fmt(s['control_clean_edit_rate'])} | "
                     f"{_fmt(s['do_nothing_clean_edit_rate'])} | {s['n']} |")
    return "\n".join(lines)

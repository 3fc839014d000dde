"""`python -m benchmarks hspace --move NAME`: one h-space move (a lead), scored by the independent judge.

On the hspace benchmark's own plan of seeds (200; 16 with --quick), at the default interval and mode:
- colour edits: prompts leave the colour unsaid; each seed is pushed to a colour other than the one the colour
  labeller reads (targets cycle over all colours, as in `python -m benchmarks hspace`);
- shape edits: prompts leave the shape unsaid; targets other than the classifier's reading;
- conflict edits: the colour edits again, with the prompt naming the original colour.
Every picture before and after is read by the judge (edits/judge.py) and scored by `edits.scores`:
clean_edit_rate (target reached AND every other factor kept, on the same edit) with its Wilson interval,
reached, kept, the edits counted apart (already showing the target, or not a valid scene before), and the
centroid's mean shift in pixels. Beside each: the control, the same move made with a random direction of the
same size (guided and recurrent: random readouts of the target attribute, one Gaussian vector per class
scaled to that class's readout norm at each step, zero biases, the preserve terms unchanged; causal: a
random direction per step drawn from h's own spread with the same norm), and the do-nothing edit (0).
edit_time_ratio: one edit against one plain `generate()`, median of interleaved rounds, one thread.

With --sweep (`run_curve`): the colour edits only, at each row of CURVE (the recurrent move: how many times each
guided step is taken, and the strength; the others: the strength), each beside its control, on the same seeds:
the move's clean_edit_rate, reached, kept, the share of valid scenes after the edit, the centroid shift, and for the
recurrent move how many guided steps a picture takes (written to assets/measured/hspace.curve-NAME.json).
"""
from __future__ import annotations

import json
import statistics
import time
from dataclasses import replace

import numpy as np
import torch

from edits.directions import others_of, siblings_of
from edits.hspace import DEFAULT_EDIT, Guide, HEdit, sample
from edits.judge import read
from edits.labelers import ColourLabeler, ToyClassifierLabeler
from edits.scores import score_edits, summarise
from toyworld.world import COLOURS, SHAPES, prompt_for

from .common import batched, to_uint8

CONTROLLED = ("guided", "recurrent", "causal")
# a move's judged curve: (recurrence, strength) rows; the recurrent move's runs over both, the others' over strength
CURVE = {"recurrent": ((1, None), (2, None), (3, None), (4, None), (3, 0.25), (3, 1.0)),
         "other": ((None, 0.25), (None, 0.5), (None, 1.0), (None, 2.0))}


def default_strength(move: str) -> float:
    """The strength a move is measured at by default (the tab's 1 for the guided moves)."""
    from edits.hspace.causal import DEFAULT_STRENGTH

    return DEFAULT_STRENGTH if move == "causal" else DEFAULT_EDIT["strength"]


def random_readouts(direction, siblings: list, gen: torch.Generator):
    """Copies of a direction and its siblings with random readouts of the same norm per step, zero biases."""
    def shuffled(d):
        rv = d.readout_vectors.float()  # (T, *shape)
        v = torch.randn(rv.shape[1:], generator=gen)
        norms = rv.flatten(1).norm(dim=1).view(-1, *([1] * (rv.dim() - 1)))
        return replace(d, readout_vectors=norms * v / v.norm(), readout_biases=torch.zeros_like(d.readout_biases))

    return shuffled(direction), [shuffled(s) for s in siblings]


def make_edit(dirs: dict, label: str, move: str, strength: float, control: bool = False,
              gen: torch.Generator | None = None, guide: Guide | None = None) -> HEdit:
    """The edit towards `label` ('colour: blue') by `move`, or its control (`guide`: the guided moves' settings,
    default Guide())."""
    d = dirs[label]
    siblings, keep = siblings_of(dirs, d), others_of(dirs, d)
    if control and move == "causal":
        from edits.hspace.causal import causal_for, random_like

        d = random_like(causal_for(d), gen)
    elif control:
        d, siblings = random_readouts(d, siblings, gen)
    return HEdit(d, strength, DEFAULT_EDIT["start"], DEFAULT_EDIT["end"], DEFAULT_EDIT["mode"], move, siblings, keep,
                 guide or Guide())


def edited(model, prompts, seeds, targets, dirs, attribute, move, strength, control=False, batch=16,
           guide: Guide | None = None) -> np.ndarray:
    out = [None] * len(seeds)
    gen = torch.Generator().manual_seed(0)
    for target in sorted(set(targets)):
        idx_t = [i for i, t in enumerate(targets) if t == target]
        for idx in batched(idx_t, batch):
            e = make_edit(dirs, f"{attribute}: {target}", move, strength, control, gen, guide)
            imgs = sample(model, [prompts[i] for i in idx], [seeds[i] for i in idx], edit=e).images
            for j, i in enumerate(idx):
                out[i] = imgs[j]
    return np.stack(out)


def judge_edits(before, after, attribute: str, targets: list[str]) -> dict:
    """The judge's summary of a batch of edits (edits.scores)."""
    return summarise(score_edits(before, after, attribute, targets))


def judged_case(model, dirs, attribute, prompts, seeds, targets, orig, move, strength, control=True,
                guide: Guide | None = None) -> dict:
    before = read(to_uint8(orig))
    after = read(to_uint8(edited(model, prompts, seeds, targets, dirs, attribute, move, strength, guide=guide)))
    out = judge_edits(before, after, attribute, targets)
    out["valid_after"] = round(float(np.mean([a.valid for a, b in zip(after, before) if b.valid])), 4)
    out["do_nothing_clean_edit_rate"] = judge_edits(before, before, attribute, targets)["clean_edit_rate"]
    if control and move in CONTROLLED:
        ctl = read(to_uint8(edited(model, prompts, seeds, targets, dirs, attribute, move, strength, control=True,
                                   guide=guide)))
        c = judge_edits(before, ctl, attribute, targets)
        out.update({f"control_{k}": c[k] for k in ("clean_edit_rate", "clean_edit_ci", "reached", "kept",
                                                   "centroid_shift_px")})
    return out


def edit_time_ratio(model, dirs, move, strength, rounds: int = 5) -> tuple[float, float, float]:
    """(median edit seconds, median generate seconds, their ratio), one image, interleaved rounds."""
    prompt, e = "a large circle on a white background", make_edit(dirs, "colour: blue", move, strength)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        te, tg = [], []
        for r in range(rounds + 1):
            t0 = time.perf_counter()
            model.generate(prompt, seed=r, output_type="np")
            t1 = time.perf_counter()
            sample(model, prompt, r, edit=e)
            t2 = time.perf_counter()
            if r:  # the first round warms up
                tg.append(t1 - t0), te.append(t2 - t1)
    finally:
        torch.set_num_threads(threads)
    e_s, g_s = statistics.median(te), statistics.median(tg)
    return round(e_s, 3), round(g_s, 3), round(e_s / g_s, 3)


def run_move(model, dirs, move: str, n: int, strength: float | None, plan) -> dict:
    """Every measurement of one move; `plan(n, seed)` gives (scenes, seeds) as the hspace benchmark draws them."""
    from .hspace import _originals, _other_targets

    strength = default_strength(move) if strength is None else strength
    res = {"move": move, "strength": strength, "n_seeds": n, "interval": [DEFAULT_EDIT["start"], DEFAULT_EDIT["end"]],
           "mode": DEFAULT_EDIT["mode"], "default_move": DEFAULT_EDIT["move"], "steps": model.default_steps}
    if move == "recurrent":
        res.update(recurrence=Guide().recurrence, guided_steps=guided_steps(Guide().recurrence, model.default_steps))
    # colour, and the conflict case on the same seeds and targets
    scenes, base, seeds, orig, own, targets = colour_case(model, n, plan)
    colour = judged_case(model, dirs, "colour", base, seeds, targets, orig, move, strength)
    named = [prompt_for(s.size, c, s.shape, s.background) for s, c in zip(scenes, own)]
    conflict = judged_case(model, dirs, "colour", named, seeds, targets, _originals(model, named, seeds), move,
                           strength, control=False)
    # shape
    scenes, seeds = plan(n, seed=9)
    base = [prompt_for(size=s.size, colour=s.colour, background=s.background) for s in scenes]
    orig = _originals(model, base, seeds)
    targets = _other_targets(ToyClassifierLabeler("shape")(to_uint8(orig)), SHAPES)
    shape = judged_case(model, dirs, "shape", base, seeds, targets, orig, move, strength)
    e_s, g_s, ratio = edit_time_ratio(model, dirs, move, strength)
    res.update({k: colour.get(k) for k in ("clean_edit_rate", "clean_edit_ci", "reached", "kept", "centroid_shift_px",
                                           "control_clean_edit_rate", "control_clean_edit_ci",
                                           "do_nothing_clean_edit_rate")})
    res.update(shape_clean_edit_rate=shape["clean_edit_rate"], shape_clean_edit_ci=shape["clean_edit_ci"],
               shape_control_clean_edit_rate=shape.get("control_clean_edit_rate"),
               conflict_clean_edit_rate=conflict["clean_edit_rate"], conflict_reached=conflict["reached"],
               edit_s=e_s, generate_s=g_s, edit_time_ratio=ratio, colour=colour, shape=shape, conflict=conflict)
    return res


def colour_case(model, n: int, plan):
    """The colour edits' scenes, prompts, seeds, originals, the originals' colours and the targets."""
    from .hspace import _originals, _other_targets

    scenes, seeds = plan(n)
    base = [prompt_for(size=s.size, shape=s.shape, background=s.background) for s in scenes]
    orig = _originals(model, base, seeds)
    own = ColourLabeler()(to_uint8(orig))
    return scenes, base, seeds, orig, own, _other_targets(own, list(COLOURS))


def guided_steps(recurrence: int, steps: int) -> int:
    """How many guided steps (each a UNet pass and a gradient through its first half) the default interval takes."""
    e = HEdit(None, [1.0], DEFAULT_EDIT["start"], DEFAULT_EDIT["end"])
    return recurrence * sum(e.active(i / steps) for i in range(steps))


def run_curve(model, dirs, move: str, n: int, plan, rows=None) -> dict:
    """The colour edits of `run_move` at every (recurrence, strength) of `rows` (None: the default's), each judged
    beside its control, on the same seeds; `guided_steps` is what a picture costs beyond its plain steps."""
    _, base, seeds, orig, _, targets = colour_case(model, n, plan)
    out = []
    for r, s in rows or CURVE["recurrent" if move == "recurrent" else "other"]:
        r = Guide().recurrence if r is None else r
        s = default_strength(move) if s is None else s
        c = judged_case(model, dirs, "colour", base, seeds, targets, orig, move, s, guide=replace(Guide(), recurrence=r))
        row = {"strength": s}
        if move == "recurrent":
            row.update(recurrence=r, guided_steps=guided_steps(r, model.default_steps))
        out.append({**row, **{k: c.get(k) for k in (
            "clean_edit_rate", "clean_edit_ci", "reached", "kept", "kept_given_reached", "valid_after",
            "centroid_shift_px", "control_clean_edit_rate", "control_reached", "control_kept", "n")}})
        print(json.dumps(out[-1]), flush=True)
    return {"move": move, "n_seeds": n, "interval": [DEFAULT_EDIT["start"], DEFAULT_EDIT["end"]],
            "mode": DEFAULT_EDIT["mode"], "steps": model.default_steps, "attribute": "colour", "rows": out}

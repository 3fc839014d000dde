"""h-space edits on the embedded model, re-scored by the labellers (ColorwAI-style).

- colour_edit_success: base prompts leave the colour unsaid; each seed is pushed towards a target
  colour other than its own (targets cycle over all colours); success = the colour labeller reads
  the target after the edit at the default strength.
- conflict_edit_success: the same, with the prompt naming the seed's original colour.
- preservation: fraction of those edits where the classifier finds shape, size and background unchanged.
- shape_edit_success / shape_preservation: the same for shapes (prompts leave the shape unsaid; kept: the
  colour read from pixels, size and background by the classifier).
- same_model: the h edits run on the model behind `generate`; original_identical: the fraction of the
  benchmark's seeds whose unedited h-space image equals `generate()`'s pixels exactly.
- mean_boundary_accuracy / best_step_accuracy: held-out accuracy of the shipped colour boundaries
  (mean over colours and steps / best step of the mean over colours).
- --sweep: success and preservation against strength, for both modes (written to sweep.json in the
  directions folder).

Scored by the judge (edits/judge.py, which shares nothing with the labellers above) with edits/scores.py, for
the same colour edits (at the top level, and under `colour`) and shape edits (`shape`, `shape_*`):
- clean_edit_rate: the target reached AND every other factor kept (colour, shape, size, background), on
  the same edit; clean_edit_ci its 95 % Wilson interval; reached, kept, kept_given_reached; under `colour`
  and `shape`, n (edits counted), already (the original already showed the target: counted apart, never
  as reached) and invalid_before;
- control_clean_edit_rate: the same edits with random readouts in place of the target attribute's (same
  guided strength, interval and preserve terms; edits/controls.py); do_nothing_clean_edit_rate: the
  original read as the edit (0);
- centroid_shift_px: how far the judge's centroid of the object moves, mean over counted colour edits.
- conflict_clean_edit_rate: the conflict edits, scored the same way.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from edits.controls import random_readouts
from edits.directions import load_directions, others_of, siblings_of
from edits.hspace import DEFAULT_EDIT, HEdit, sample
from edits.labelers import ColourLabeler, ToyClassifierLabeler
from edits.pipeline import load_diffusion, load_hspace_diffusion
from edits.scores import do_nothing, score_edits, scores_with_controls
from toyworld.settings import DIRECTIONS
from toyworld.world import COLOURS, SHAPES, prompt_for, sample_scene

from .common import batched, to_uint8

ROOT = Path(__file__).resolve().parent.parent
COLOUR_LIST = list(COLOURS)
SWEEP = {"guided": (0.5, 1.0, 1.5, 2.0, 3.0), "swap": (0.5, 1.0, 1.5, 2.0, 3.0), "land": (0.5, 1.0, 1.5, 2.0, 3.0, 4.0),
         "add": (2.0, 4.0, 8.0, 12.0, 16.0, 24.0)}  # strengths per move


def _plan(n: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng) for _ in range(n)]
    seeds = [int(s) for s in rng.integers(0, 2**31, n)]
    return scenes, seeds


def _originals(model, prompts, seeds, batch=16):
    return np.concatenate([sample(model, [prompts[i] for i in idx], [seeds[i] for i in idx]).images
                           for idx in batched(list(range(len(seeds))), batch)])


def _edits(model, prompts, seeds, targets, dirs, strength, mode, start, end, move, batch=16, attribute="colour",
           control: bool = False):
    """The edited pictures; with `control`, the same edits with random readouts of the target attribute."""
    out = [None] * len(seeds)
    gen = torch.Generator().manual_seed(0)
    for target in sorted(set(targets)):
        idx_t = [i for i, t in enumerate(targets) if t == target]
        for idx in batched(idx_t, batch):
            d = dirs[f"{attribute}: {target}"]
            keep, siblings = others_of(dirs, d), siblings_of(dirs, d)
            if control:
                d, siblings = random_readouts(d, siblings, gen)
            edit = HEdit(d, strength, start, end, mode, move, siblings, keep)
            imgs = sample(model, [prompts[i] for i in idx], [seeds[i] for i in idx], edit=edit).images
            for j, i in enumerate(idx):
                out[i] = imgs[j]
    return np.stack(out)


def _score(labeller, classifier, originals, edited, targets, others=("shape", "size", "background")):
    got = labeller(to_uint8(edited))
    po, pe = classifier.predict(to_uint8(originals)), classifier.predict(to_uint8(edited))
    kept = [all(po[k][0][i] == pe[k][0][i] for k in others) for i in range(len(targets))]
    return float(np.mean([g == t for g, t in zip(got, targets)])), float(np.mean(kept))


def _other_targets(own, values):
    """Per seed, a target other than its own class, cycling over all classes."""
    values, targets = list(values), []
    for i, c in enumerate(own):
        k = i % len(values)
        while values[k] == c:
            k = (k + 1) % len(values)
        targets.append(values[k])
    return targets


def judged(orig, edited, control, attribute: str, targets: list[str]) -> dict:
    """The judge's scores of edits (edits/scores.py), with the control's and the do-nothing edit's."""
    from edits.judge import read

    before, after = read(to_uint8(orig)), read(to_uint8(edited))
    ctl = read(to_uint8(control)) if control is not None else None
    return scores_with_controls(score_edits(before, after, attribute, targets),
                                score_edits(before, ctl, attribute, targets) if ctl is not None else None,
                                do_nothing(before, attribute, targets))


def evaluate_shape(model, dirs, n, strength, mode, start, end, move=DEFAULT_EDIT["move"], control: bool = True):
    """Shape edits: prompts leave the shape unsaid; kept = colour (pixels), size and background."""
    clf = ToyClassifierLabeler("shape")
    scenes, seeds = _plan(n, seed=9)
    base = [prompt_for(size=s.size, colour=s.colour, background=s.background) for s in scenes]
    orig = _originals(model, base, seeds)
    targets = _other_targets(clf(to_uint8(orig)), SHAPES)
    edited = _edits(model, base, seeds, targets, dirs, strength, mode, start, end, move, attribute="shape")
    reached, kept = _score(clf, clf, orig, edited, targets, ("size", "background"))
    colour = ColourLabeler()
    same_colour = np.array(colour(to_uint8(orig))) == np.array(colour(to_uint8(edited)))
    po, pe = clf.predict(to_uint8(orig)), clf.predict(to_uint8(edited))
    kept_all = [same_colour[i] and all(po[k][0][i] == pe[k][0][i] for k in ("size", "background")) for i in range(n)]
    ctl = _edits(model, base, seeds, targets, dirs, strength, mode, start, end, move, attribute="shape",
                 control=True) if control else None
    return {"shape_edit_success": reached, "shape_preservation": float(np.mean(kept_all)),
            "shape": judged(orig, edited, ctl, "shape", targets)}


HEADLINE = ("clean_edit_rate", "clean_edit_ci", "reached", "kept", "kept_given_reached", "control_clean_edit_rate",
            "do_nothing_clean_edit_rate", "centroid_shift_px")


def headline(scores: dict) -> dict:
    """The keys a reader looks for first, copied to the top level from a `judged` summary."""
    return {k: scores[k] for k in HEADLINE}


def original_identical(model, prompts, seeds, originals) -> float:
    """The fraction of seeds whose unedited h-space image, drawn one seed at a time as the tab's edit_h draws it,
    equals `generate()`'s pixels exactly (`originals`, drawn in batches, are not what edit_h shows)."""
    same = [np.array_equal(model.generate(p, seed=s, output_type="np"), sample(model, p, s).images[0])
            for p, s in zip(prompts, seeds)]
    return float(np.mean(same))


def evaluate(model, dirs, n, strength, mode, start, end, move=DEFAULT_EDIT["move"], conflict=True, control=False):
    colour, clf = ColourLabeler(), ToyClassifierLabeler()
    scenes, seeds = _plan(n)
    base = [prompt_for(size=s.size, shape=s.shape, background=s.background) for s in scenes]
    orig = _originals(model, base, seeds)
    own = colour(to_uint8(orig))
    targets = _other_targets(own, COLOUR_LIST)  # each seed gets a target other than its own colour
    edited = _edits(model, base, seeds, targets, dirs, strength, mode, start, end, move)
    res = {"_originals": (base, seeds, orig)}
    res["colour_edit_success"], res["preservation"] = _score(colour, clf, orig, edited, targets)
    if control:
        ctl = _edits(model, base, seeds, targets, dirs, strength, mode, start, end, move, control=True)
        res["colour"] = judged(orig, edited, ctl, "colour", targets)
    if conflict:
        named = [prompt_for(s.size, c, s.shape, s.background) for s, c in zip(scenes, own)]
        orig_c = _originals(model, named, seeds)
        edited_c = _edits(model, named, seeds, targets, dirs, strength, mode, start, end, move)
        res["conflict_edit_success"], res["conflict_preservation"] = _score(colour, clf, orig_c, edited_c, targets)
        res["conflict_clean_edit_rate"] = judged(orig_c, edited_c, None, "colour", targets)["clean_edit_rate"]
    return res


def run(quick: bool = False, model_path: str | None = None, strength: float | None = None,
        mode: str | None = None, sweep: bool = False, directions: str | None = None, move: str | None = None) -> dict:
    main = load_diffusion(model_path, device="cpu")
    model = load_hspace_diffusion(None, main)  # the model behind generate
    dirs = load_directions(directions or DIRECTIONS, space="h")
    if move is not None:  # one move, judged, beside its control (benchmarks/hspace_moves.py)
        from .hspace_moves import run_curve, run_move

        n_seeds = 16 if quick else 200
        res = run_curve(model, dirs, move, n_seeds, _plan) if sweep else \
            run_move(model, dirs, move, n_seeds, strength, _plan)
        if directions:
            res["directions"] = Path(directions).name
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}
    colour_dirs = {k: d for k, d in dirs.items() if d.meta.get("attribute") == "colour"}
    missing = [c for c in COLOUR_LIST if f"colour: {c}" not in colour_dirs]
    if missing:
        raise SystemExit(f"no h-space colour direction for {', '.join(missing)} in {directions or DIRECTIONS}")
    strength = DEFAULT_EDIT["strength"] if strength is None else strength
    mode = mode or DEFAULT_EDIT["mode"]
    n = 20 if quick else 100
    res = evaluate(model, dirs, n, strength, mode, DEFAULT_EDIT["start"], DEFAULT_EDIT["end"], control=True)
    res.update(headline(res["colour"]))
    prompts, seeds, originals = res.pop("_originals")
    res["same_model"] = model is main
    res["original_identical"] = original_identical(main, prompts, seeds, originals)
    if all(f"shape: {s}" in dirs for s in SHAPES):
        res.update(evaluate_shape(model, dirs, n, strength, mode, DEFAULT_EDIT["start"], DEFAULT_EDIT["end"]))
        res.update({f"shape_{k}": v for k, v in headline(res["shape"]).items() if k != "centroid_shift_px"})
    acc = np.array([d.meta["accuracy"] for d in colour_dirs.values()])  # (colours, steps)
    res.update(mean_boundary_accuracy=float(acc.mean()), best_step_accuracy=float(acc.mean(0).max()),
               best_step=int(acc.mean(0).argmax()), mode=mode, move=DEFAULT_EDIT["move"], strength=strength, n=n,
               steps=model.default_steps,
               interval=[DEFAULT_EDIT["start"], DEFAULT_EDIT["end"]],
               edits=next(iter(colour_dirs.values())).meta.get("edits", "unet.mid_block output"),
               model=Path(model.name).name)
    if sweep:
        rows = []
        print("| mode | strength | success | preservation |\n|---|---|---|---|")
        for m in ("symmetric", "asymmetric") if DEFAULT_EDIT["move"] != "guided" else (mode,):
            for s in SWEEP[DEFAULT_EDIT["move"]]:
                r = evaluate(model, dirs, n // 2, s, m, DEFAULT_EDIT["start"], DEFAULT_EDIT["end"],
                             conflict=False)
                r.pop("_originals")
                rows.append({"mode": m, "strength": s, "success": r["colour_edit_success"],
                             "preservation": r["preservation"]})
                print(f"| {m} | {s:g} | {r['colour_edit_success']:.2f} | {r['preservation']:.2f} |", flush=True)
        folder = Path(directions) if directions else DIRECTIONS
        (folder / "sweep.json").write_text(json.dumps({"n": n // 2, "rows": rows}, indent=1))
        res["sweep"] = rows
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}

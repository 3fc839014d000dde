"""W-space edits on the embedded StyleGAN, re-scored by the labellers (ColorwAI-style).

- colour_edit_success: each seed (at the tab's default truncation ψ) is pushed towards every colour other
  than its own (as read by the colour labeller) with the tab's default edit (a class swap at the default
  strength, on the directions' recommended style layers); success = the labeller reads the target afterwards.
- preservation: fraction of those edits where the classifier finds shape, size and background unchanged.
- random_move_preservation: the control for preservation: every edit's displacement of W+ (the same size,
  on the same style layers) turned to a random direction, and the fraction of those moves that keep shape,
  size and background. An edit that keeps no more than this is not more disentangled than any move its size.
- conditional_*: the same with the conditional edit (the other attributes' boundaries projected out).
- coverage_min_ratio / coverage_max_ratio: over 1000 samples (ψ = 1), each colour's and shape's
  frequency divided by its frequency in the training set (colour from pixels, shape by the classifier).
- confident_fraction: fraction of those samples on which the classifier's probability is >= 0.9 for
  every factor.
- mean_boundary_accuracy: held-out accuracy of the shipped W boundaries (mean over colours, shapes, sizes).
- label_free: whether any factor label reached the measured generator's training (its config.json).
- inversion_fidelity: the diffusion model's originals with the colour unsaid ('a {size} {shape} on a
  {background} background', scenes drawn from the toy world; 100 seeds, 24 quick) are brought into W
  (`invert`: the encoder, then its default optimisation steps) and redrawn; the fraction whose redrawing is
  read with the same colour (pixels), shape, size and background (classifier) as the original.
- inverted_colour_edit_success / inverted_preservation: the default colour edit towards every other colour,
  starting from those inverted codes, scored as above against the redrawing before the edit.
- inversion_ms: median time to invert one picture (encoder + default steps) on this machine.

Scored by the judge (edits/judge.py, which shares nothing with the labellers above) with edits/scores.py:
- clean_edit_rate (also under `colour`): colour swaps, as above, from the codes of as many seeds (judged_seeds)
  whose pictures the judge reads as valid scenes, the first ones from the same first seed on (judged_seeds_drawn
  seeds looked at; an edit of a picture that is no scene could not keep anything, and edits/scores.py counts it
  apart): the target reached AND shape, size and background kept, on the same edit; clean_edit_ci (95 %
  Wilson), reached, kept, kept_given_reached; under `colour`, n (edits counted), already (the picture already
  showed the target, by the judge's reading: counted apart, never as reached);
- control_clean_edit_rate: each edit's displacement of W+ replaced by a random direction drawn from W's own
  covariance (10 000 sampled w), same norm, same style layers (edits/controls.py); do_nothing_clean_edit_rate:
  the picture before read as the picture after (0);
- shape_clean_edit_rate (and `shape`): class swaps of each of those seeds' shape to every other shape, with
  shape_control_clean_edit_rate (the judged swaps take every class other than the one the judge reads);
- inverted_clean_edit_rate (and `inverted`): the colour swaps that start from the inverted codes above, scored
  from the pictures' redrawings (the round trip measured apart: inversion_kept, over the inversion_valid_pictures
  pictures the judge reads as valid scenes, the fraction whose redrawing is a valid scene with the same four
  factors), with inverted_control_clean_edit_rate;
- valid_scene_fraction: the fraction of the coverage samples (ψ = 1) the judge reads as a valid scene (one
  object, one colour, a shape), and edited_valid_fraction: the same for the pictures after the colour swaps.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edits.controls import random_w_move, w_spread
from edits.directions import load_directions
from edits.labelers import FACTORS, ColourLabeler, ToyClassifierLabeler
from edits.scores import do_nothing, score_edits, scores_with_controls
from edits.wspace import DEFAULT_PSI, DEFAULT_STRENGTH, EMBEDDED_GAN, apply_edits, directions_folder, load_gan, make_edit

ROOT = Path(__file__).resolve().parent.parent
KEEP = ("shape", "size", "background")


def coverage(gan, classifier, n: int = 1000, first_seed: int = 500_000) -> dict:
    from toyworld.data import make_dataset

    imgs = gan.render(gan.w_from_seeds(list(range(first_seed, first_seed + n))))
    colours = ColourLabeler()(imgs)
    pred = classifier.predict(imgs)
    train = make_dataset(40_000, seed=3)  # the training set (cached under runs/data)
    ratios = {}
    for factor, labels in (("colour", colours), ("shape", pred["shape"][0])):
        freq = np.bincount([FACTORS[factor].index(c) for c in labels], minlength=len(FACTORS[factor])) / n
        ref = np.bincount(train[factor], minlength=len(FACTORS[factor])) / len(train[factor])
        ratios.update({f"{factor}:{c}": float(f / r) for c, f, r in zip(FACTORS[factor], freq, ref)})
    confident = classifier.sure(pred)
    from edits.judge import read

    valid = float(np.mean([r.valid for r in read(imgs)]))
    return {"valid_scene_fraction": round(valid, 4), "coverage_min_ratio": round(min(ratios.values()), 3), "coverage_max_ratio": round(max(ratios.values()), 3),
            "confident_fraction": round(float(confident.mean()), 3),
            "coverage_worst": min(ratios, key=ratios.get), "coverage_most": max(ratios, key=ratios.get)}


def evaluate(gan, dirs, seeds, strength, psi, conditional, classifier, labeller, control: bool = False) -> dict:
    return evaluate_w(gan, dirs, gan.w_from_seeds(seeds, psi), strength, conditional, classifier, labeller, control)


def judged_swaps(gan, dirs, w, attribute: str, strength: float, spread, start=None) -> dict:
    """Class swaps of `attribute` from the codes w (B, w_dim) to every class other than the one the judge
    reads on each code's own picture (`start`, default their rendering), scored by the judge from those
    pictures, with the W-spread control and the do-nothing edit (edits/scores.py)."""
    from edits.judge import read

    start = gan.render(w) if start is None else start
    before_all = read(start)
    own = [r.labels()[attribute] for r in before_all]
    gen = torch.Generator().manual_seed(1)
    before, after, ctl, tgts, valid = [], [], [], [], []
    targets = sorted({d.meta["class"] for d in dirs.values() if d.meta.get("attribute") == attribute})
    for target in targets:
        idx = [i for i, c in enumerate(own) if c != target]
        if not idx:
            continue
        base = gan.generator.broadcast(w[idx])  # (b, L, w_dim)
        wp = apply_edits(gan, w[idx], [make_edit(dirs, attribute, target, strength)])
        edited = read(gan.render(wp))
        controls = read(gan.render(base + random_w_move(wp - base, spread, gen)))
        before += [before_all[i] for i in idx]
        after += edited
        ctl += controls
        tgts += [target] * len(idx)
        valid += [r.valid for r in edited]
    return swap_scores(before, after, ctl, attribute, tgts, valid)


def swap_scores(before: list, after: list, control: list, attribute: str, targets: list[str], valid: list[bool]) -> dict:
    """The judged swaps' scores (edits.scores) with their control's and the do-nothing edit's, and the share of
    edited pictures that are valid scenes."""
    out = scores_with_controls(score_edits(before, after, attribute, targets),
                               score_edits(before, control, attribute, targets), do_nothing(before, attribute, targets))
    out["edited_valid_fraction"] = round(float(np.mean(valid)), 4) if valid else None
    return out


HEADLINE = ("clean_edit_rate", "clean_edit_ci", "reached", "kept", "kept_given_reached", "control_clean_edit_rate",
            "do_nothing_clean_edit_rate")


MAX_POOL = 50  # judged_run draws at most this many times the asked number of seeds to find valid scenes


def valid_seeds(gan, n: int, psi: float, first_seed: int, batch: int = 500) -> tuple[list[int], int]:
    """The first n seeds from first_seed on whose pictures the judge reads as valid scenes (at most
    MAX_POOL * n seeds looked at), and how many seeds were looked at."""
    from edits.judge import read

    found, seen = [], 0
    while len(found) < n and seen < MAX_POOL * n:
        seeds = list(range(first_seed + seen, first_seed + seen + batch))
        found += [s for s, r in zip(seeds, read(gan.render(gan.w_from_seeds(seeds, psi)))) if r.valid]
        seen += batch
    return found[:n], seen


def judged_run(gan, dirs, n: int, strength, psi, first_seed: int = 900_000) -> dict:
    """The judge's scores of the colour swaps (top level and `colour`) and the shape swaps (`shape_*`, `shape`)
    from the codes of n seeds whose pictures the judge reads as valid scenes (an edit of a picture that is no
    scene is counted apart by edits/scores.py anyway; drawing more seeds keeps the count of scored edits up):
    judged_seeds of judged_seeds_drawn seeds, from first_seed on."""
    seeds, drawn = valid_seeds(gan, n, psi, first_seed)
    res = {"judged_seeds": len(seeds), "judged_seeds_drawn": drawn}
    if not seeds:
        return res
    w = gan.w_from_seeds(seeds, psi)
    imgs = gan.render(w)
    spread = w_spread(gan)
    res["colour"] = judged_swaps(gan, dirs, w, "colour", strength, spread, imgs)
    res.update({k: res["colour"][k] for k in HEADLINE})
    res["edited_valid_fraction"] = res["colour"]["edited_valid_fraction"]
    if any(d.meta.get("attribute") == "shape" for d in dirs.values()):
        res["shape"] = judged_swaps(gan, dirs, w, "shape", strength, spread, imgs)
        res.update({f"shape_{k}": res["shape"][k] for k in HEADLINE})
    return res


def random_like(delta: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """delta (B, L, w_dim) turned to random directions: per sample, the same norm on the same layers."""
    r = torch.randn(delta.shape, generator=gen) * (delta.abs().sum(-1, keepdim=True) > 0)  # only moved layers
    return r * (delta.flatten(1).norm(dim=1) / r.flatten(1).norm(dim=1).clamp_min(1e-12)).view(-1, 1, 1)


def evaluate_w(gan, dirs, w, strength, conditional, classifier, labeller, control: bool = False) -> dict:
    """Every colour swap other than the current colour, from the codes w (B, w_dim); with `control`, also
    the random move of the same size on the same layers (random_move_preservation)."""
    targets = sorted({d.meta["class"] for d in dirs.values() if d.meta.get("attribute") == "colour"})
    orig = gan.render(w)
    orig_colour = labeller(orig)
    orig_pred = classifier.predict(orig)
    wins, kept, kept_random, gen = [], [], [], torch.Generator().manual_seed(0)
    for target in targets:
        idx = [i for i, c in enumerate(orig_colour) if c != target]
        if not idx:
            continue
        wp = apply_edits(gan, w[idx], [make_edit(dirs, "colour", target, strength, conditional)])
        edited = gan.render(wp)
        wins += [c == target for c in labeller(edited)]
        pred = classifier.predict(edited)
        kept += [all(pred[k][0][j] == orig_pred[k][0][i] for k in KEEP) for j, i in enumerate(idx)]
        if control:
            base = gan.generator.broadcast(w[idx])
            pred = classifier.predict(gan.render(base + random_like(wp - base, gen)))
            kept_random += [all(pred[k][0][j] == orig_pred[k][0][i] for k in KEEP) for j, i in enumerate(idx)]
    out = {"success": float(np.mean(wins)), "preservation": float(np.mean(kept)), "edits": len(wins)}
    if control:
        out["random_move_preservation"] = float(np.mean(kept_random))
    return out


FIT_ATTRIBUTES = "colour,shape,size,background"  # what the cards' fit command fits (conditional edits hold the rest)


def refit(gan_folder: str | Path, method: str, out: str, samples: int) -> None:
    """The W directions fitted afresh with another boundary `method`, the cards' command otherwise
    (`python -m edits.fit wspace --attribute colour,shape,size,background --samples 6000`), into `out`."""
    from edits.fit import main as fit

    fit(["wspace", "--gan", str(gan_folder), "--attribute", FIT_ATTRIBUTES, "--samples", str(samples),
         "--method", method, "--out", str(out)])


def run(quick: bool = False, model_path: str | None = None, strength: float | None = None,
        sweep: bool = False, directions: str | None = None, psi: float = DEFAULT_PSI, method: str | None = None) -> dict:
    """With `method` (logistic, logistic-raw, mean-difference), the directions are fitted afresh that way (6000
    samples, 1000 with `quick`) and measured like the shipped ones: which boundary moves a code best."""
    if method is not None:
        import tempfile

        samples = 1000 if quick else 6000
        with tempfile.TemporaryDirectory() as tmp:
            refit(model_path or EMBEDDED_GAN, method, tmp, samples)
            return {**run(quick, model_path, strength, sweep, tmp, psi), "method": method, "fit_samples": samples}
    gan = load_gan(model_path)
    dirs = load_directions(directions or directions_folder(gan.folder), space="w")
    if not any(d.meta.get("attribute") == "colour" for d in dirs.values()):
        raise SystemExit("No W-space colour directions: fit them with `python -m edits.fit wspace ...` first.")
    classifier, labeller = ToyClassifierLabeler("colour"), ColourLabeler()
    strength = DEFAULT_STRENGTH if strength is None else strength
    n = 24 if quick else 120
    seeds = list(range(900_000, 900_000 + n))  # not the seeds the boundaries were fitted on
    res = {"seeds": n, "strength": strength, "truncation_psi": psi}
    plain = evaluate(gan, dirs, seeds, strength, psi, False, classifier, labeller, control=True)
    cond = evaluate(gan, dirs, seeds, strength, psi, True, classifier, labeller)
    res.update(colour_edit_success=round(plain["success"], 3), preservation=round(plain["preservation"], 3),
               random_move_preservation=round(plain["random_move_preservation"], 3),
               conditional_colour_edit_success=round(cond["success"], 3),
               conditional_preservation=round(cond["preservation"], 3), edits=plain["edits"])
    if sweep:
        res["sweep"] = [{"strength": s, **{k: round(v, 3) for k, v in evaluate(
            gan, dirs, seeds[:24], s, psi, c, classifier, labeller).items() if k != "edits"}, "conditional": c}
            for s in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0) for c in (False, True)]
    res.update(judged_run(gan, dirs, n, strength, psi, first_seed=seeds[0]))
    res.update(coverage(gan, classifier, 300 if quick else 1000))
    accs = [d.meta["accuracy"][0] for d in dirs.values() if d.meta.get("attribute") in ("colour", "shape", "size")]
    res["mean_boundary_accuracy"] = round(float(np.mean(accs)), 4)
    res.update(model=gan.name, label_free=gan.label_free)
    if gan.encoder is not None:
        res.update(inversion(gan, dirs, strength, classifier, labeller, 24 if quick else 100))
    else:  # optimising from w_avg alone found none of 24 pictures (inversion_fidelity 0.0, 150 steps)
        res.update(inversion_fidelity=None, inversion="no encoder")
    return res


def unsaid_originals(n: int, seed: int = 23) -> tuple[list[str], list[int], np.ndarray]:
    """The default diffusion model's pictures of n toy-world scenes with the colour left unsaid."""
    from edits.pipeline import load_diffusion
    from toyworld.world import prompt_for, sample_scene

    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng) for _ in range(n)]
    prompts = [prompt_for(size=s.size, shape=s.shape, background=s.background) for s in scenes]
    seeds = [int(x) for x in rng.integers(0, 2**31, n)]
    diffusion = load_diffusion(None, device="cpu")
    imgs = np.concatenate([diffusion.generate_batch(prompts[i:i + 25], seeds[i:i + 25]) for i in range(0, n, 25)])
    return prompts, seeds, (np.clip(imgs, 0, 1) * 255).round().astype(np.uint8)


def inversion(gan, dirs, strength, classifier, labeller, n: int) -> dict:
    import time

    from edits.compare import Scorer
    from edits.wspace import invert

    _, _, originals = unsaid_originals(n)
    t0 = time.perf_counter()
    w = torch.cat([invert(gan, originals[i:i + 50]) for i in range(0, n, 50)])
    batch_s = time.perf_counter() - t0
    scorer = Scorer()
    read0, read1 = scorer(originals), scorer(gan.render(w))
    same = [a == b for a, b in zip(read0, read1)]
    times = []
    for i in range(min(n, 11)):
        t = time.perf_counter()
        invert(gan, originals[i])
        times.append(time.perf_counter() - t)
    edited = evaluate_w(gan, dirs, w, strength, False, classifier, labeller)
    from edits.judge import read

    redrawn = gan.render(w)
    trip = [b.valid and a.labels() == b.labels() for a, b in zip(read(originals), read(redrawn)) if a.valid]
    inverted = judged_swaps(gan, dirs, w, "colour", strength, w_spread(gan), redrawn)
    return {"inverted": inverted, "inverted_clean_edit_rate": inverted["clean_edit_rate"],
            "inverted_control_clean_edit_rate": inverted["control_clean_edit_rate"],
            "inversion_kept": round(float(np.mean(trip)), 4) if trip else None, "inversion_valid_pictures": len(trip),
            "inversion_fidelity": round(float(np.mean(same)), 3), "inversion_seeds": n,
            "inverted_colour_edit_success": round(edited["success"], 3),
            "inverted_preservation": round(edited["preservation"], 3), "inverted_edits": edited["edits"],
            "inversion_ms": round(1000 * float(np.median(times)), 1),
            "inversion_batch_ms_per_image": round(1000 * batch_s / n, 2)}

"""Prompt adherence of the embedded diffusion model, measured by the toy-world classifier.

- colour/shape/size_adherence: canonical prompts "a {size} {colour} {shape} on a {background} background"
  over the training combinations; fraction of images whose classifier label matches the prompt.
- heldout_adherence: the same for the held-out (colour, shape) pairs (colour and shape both right).
- unsaid_colour_min/max_ratio: prompts that leave the colour unsaid; each colour's frequency over
  the uniform 1/8 (the archive is not collapsed when every ratio is within 0.5-2); unsaid_colour_least: the
  rarest; unsaid_colour_pixels_min/max_ratio: the same pictures, the colour read from pixels.
- meets_floors: every adherence at or above FLOORS; fewer_steps (full run of the embedded model): the same
  prompts and seeds at each fewer DDIM setting that the steps benchmark's judge lets through, and whether it
  meets the floors. The embedded default is the fewest DDIM steps that does (tests/test_steps.py).
"""
from __future__ import annotations

import json

import numpy as np

from edits.labelers import ColourLabeler, ToyClassifierLabeler
from edits.pipeline import load_diffusion
from toyworld.settings import MEASURED
from toyworld.world import COLOURS, FACTORS, HELDOUT, prompt_for, sample_scene

from .common import batched, to_uint8


def _labels(model, labeler, prompts, seeds, steps, guidance, batch=16):
    """The classifier's labels of each factor, and the colour read from pixels ("pixel_colour")."""
    out = {k: [] for k in (*FACTORS, "pixel_colour")}
    pixels = ColourLabeler()
    for idx in batched(list(range(len(prompts))), batch):
        imgs = to_uint8(model.generate_batch([prompts[i] for i in idx], [seeds[i] for i in idx],
                                             num_inference_steps=steps, guidance_scale=guidance))
        pred = labeler.predict(imgs)
        for k in FACTORS:
            out[k] += pred[k][0]
        out["pixel_colour"] += pixels(imgs)
    return out


# The adherence a default must keep (the serving issue: "adherence unchanged" when steps are cut).
FLOORS = {"colour_adherence": 0.98, "shape_adherence": 0.97, "size_adherence": 0.85, "heldout_adherence": 0.85}


def meets_floors(reading: dict) -> bool:
    return all(reading[k] >= v for k, v in FLOORS.items())


def _prompted(model, labeler, n: int, steps: int, guidance: float) -> tuple[dict, int, np.random.Generator]:
    """Adherence to canonical prompts (n scenes) and to held-out pairs (n_held = n // 4, at least 12); the same
    scenes and seeds for any steps, so readings at two step counts are paired. Returns the readings, n_held and
    the rng for what follows."""
    rng = np.random.default_rng(2024)
    scenes = [sample_scene(rng) for _ in range(n)]
    seeds = [int(s) for s in rng.integers(0, 2**31, n)]
    lab = _labels(model, labeler, [prompt_for(s.size, s.colour, s.shape, s.background) for s in scenes],
                  seeds, steps, guidance)
    res = {f"{k}_adherence": float(np.mean([p == getattr(s, k) for p, s in zip(lab[k], scenes)]))
           for k in ("colour", "shape", "size", "background")}

    n_held = max(12, n // 4)
    held = [sample_scene(rng, colour=HELDOUT[i % len(HELDOUT)][0], shape=HELDOUT[i % len(HELDOUT)][1])
            for i in range(n_held)]
    hseeds = [int(s) for s in rng.integers(0, 2**31, n_held)]
    hl = _labels(model, labeler, [prompt_for(s.size, s.colour, s.shape, s.background) for s in held],
                 hseeds, steps, guidance)
    res["heldout_adherence"] = float(np.mean([c == s.colour and sh == s.shape
                                              for c, sh, s in zip(hl["colour"], hl["shape"], held)]))
    return res, n_held, rng


def fewer_holding_steps(steps: int) -> list[int]:
    """The DDIM step counts below `steps` that hold in the steps benchmark's sweep (its judge's 95 % intervals)."""
    path = MEASURED / "steps.json"
    if not path.exists():
        return []
    rows = json.loads(path.read_text())["settings"]
    return sorted(int(k.split("_")[1]) for k, r in rows.items()
                  if k.startswith("ddim_") and r["holds"] and int(k.split("_")[1]) < steps)


def run(quick: bool = False, model_path: str | None = None, guidance: float | None = None,
        steps: int | None = None) -> dict:
    model = load_diffusion(model_path, device="cpu")
    labeler = ToyClassifierLabeler()
    guidance = model.default_guidance if guidance is None else guidance
    steps = model.default_steps if steps is None else steps
    n = 40 if quick else 200
    res, n_held, rng = _prompted(model, labeler, n, steps, guidance)

    uscenes = [sample_scene(rng) for _ in range(n)]
    useeds = [int(s) for s in rng.integers(0, 2**31, n)]
    ul = _labels(model, labeler, [prompt_for(size=s.size, shape=s.shape, background=s.background) for s in uscenes],
                 useeds, steps, guidance)
    freq = np.array([ul["colour"].count(c) for c in COLOURS]) / n
    ratios = freq * len(COLOURS)
    res["unsaid_colour_min_ratio"] = float(ratios.min())
    res["unsaid_colour_max_ratio"] = float(ratios.max())
    res["unsaid_colour_least"] = list(COLOURS)[int(ratios.argmin())]
    pixels = np.array([ul["pixel_colour"].count(c) for c in COLOURS]) / n * len(COLOURS)
    res["unsaid_colour_pixels_min_ratio"] = float(pixels.min())  # the same pictures, colour read from pixels
    res["unsaid_colour_pixels_max_ratio"] = float(pixels.max())
    print("| colour | frequency / uniform (colour unsaid) |\n|---|---|")
    for c, r in zip(COLOURS, ratios):
        print(f"| {c} | {r:.2f} |")
    res["meets_floors"] = meets_floors(res)
    # Why the default has no fewer steps: the same prompts and seeds at each fewer DDIM setting that the judge's
    # sweep (steps.json) lets through, read by the same classifier (a full run of the embedded model only).
    if not quick and model_path is None and steps == model.default_steps:
        fewer = []
        for k in fewer_holding_steps(steps):
            r = _prompted(model, labeler, n, k, guidance)[0]
            fewer.append({"steps": k, **{f: round(r[f], 4) for f in FLOORS}, "meets_floors": meets_floors(r)})
        res["fewer_steps"] = fewer
    res.update(n=n, n_heldout=n_held, steps=steps, guidance_scale=guidance)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}

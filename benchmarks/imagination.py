"""Prompt adherence of the embedded diffusion model, measured by the toy-world classifier.

- colour/shape/size_adherence: canonical prompts "a {size} {colour} {shape} on a {background} background"
  over the training combinations; fraction of images whose classifier label matches the prompt.
- heldout_adherence: the same for the held-out (colour, shape) pairs (colour and shape both right).
- unsaid_colour_min/max_ratio: prompts that leave the colour unsaid; each colour's frequency over
  the uniform 1/8 (the archive is not collapsed when every ratio is within 0.5-2); unsaid_colour_least: the
  rarest; unsaid_colour_pixels_min/max_ratio: the same pictures, the colour read from pixels.
"""
from __future__ import annotations

import numpy as np

from edits.labelers import ColourLabeler, ToyClassifierLabeler
from edits.pipeline import load_diffusion
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


def run(quick: bool = False, model_path: str | None = None, guidance: float | None = None,
        steps: int | None = None) -> dict:
    model = load_diffusion(model_path, device="cpu")
    labeler = ToyClassifierLabeler()
    guidance = model.default_guidance if guidance is None else guidance
    steps = model.default_steps if steps is None else steps
    n = 40 if quick else 200
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
    res.update(n=n, n_heldout=n_held, steps=steps, guidance_scale=guidance)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}

"""Fewer denoising steps where quality holds: the Imagination model's prompt adherence, read by the judge,
against the number of steps, for DDIM (the app's scheduler, which the h-space edits need) and DPM-Solver++
(diffusers' DPMSolverMultistepScheduler, 2nd order).

For each setting: canonical prompts "a {size} {colour} {shape} on a {background} background" over the training
combinations (the same prompts and seeds in every setting), and the held-out colour/shape pairs; adherence =
the fraction of pictures in which the judge (edits.judge) reads the factor the prompt names, with a 95 % Wilson
interval; seconds per picture in batches of 8 on this CPU. A setting "holds" when no adherence falls below the
95 % interval of the reference (DDIM at the model's default steps). `chosen` is the fewest steps that hold,
`chosen_ddim` the fewest with DDIM (the h-space edits' asymmetric step is a DDIM step).
"""
from __future__ import annotations

import time

import numpy as np

from edits.judge import read
from edits.pipeline import load_diffusion
from edits.scores import wilson
from toyworld.world import FACTORS, HELDOUT, prompt_for, sample_scene

from .common import batched, to_uint8

SETTINGS = (("ddim", 25), ("ddim", 20), ("ddim", 15), ("ddim", 12), ("ddim", 10),
            ("dpm++", 20), ("dpm++", 15), ("dpm++", 12), ("dpm++", 10), ("dpm++", 8))
BATCH = 8


def scheduler_for(pipe, name: str):
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    if name == "ddim":
        return DDIMScheduler.from_config(pipe.scheduler.config)
    return DPMSolverMultistepScheduler.from_config(pipe.scheduler.config, algorithm_type="dpmsolver++",
                                                   solver_order=2)


def _draw_and_read(model, prompts, seeds, steps, guidance) -> tuple[list, float]:
    """The judge's readings of the pictures, and seconds per picture (batches of BATCH)."""
    readings, t = [], 0.0
    for idx in batched(list(range(len(prompts))), BATCH):
        t0 = time.perf_counter()
        imgs = model.generate_batch([prompts[i] for i in idx], [seeds[i] for i in idx],
                                    num_inference_steps=steps, guidance_scale=guidance)
        t += time.perf_counter() - t0
        readings += read(to_uint8(imgs))
    return readings, t / len(prompts)


def run(quick: bool = False, model_path: str | None = None, **_) -> dict:
    model = load_diffusion(model_path, device="cpu")
    original = model.pipe.scheduler
    guidance = model.default_guidance
    rng = np.random.default_rng(2024)
    n, n_held = (24, 8) if quick else (200, 52)
    scenes = [sample_scene(rng) for _ in range(n)]
    held = [sample_scene(rng, colour=HELDOUT[i % len(HELDOUT)][0], shape=HELDOUT[i % len(HELDOUT)][1])
            for i in range(n_held)]
    seeds = [int(s) for s in rng.integers(0, 2**31, n + n_held)]
    prompts = [prompt_for(s.size, s.colour, s.shape, s.background) for s in scenes + held]
    settings = SETTINGS[::3] if quick else SETTINGS
    rows, reference = {}, None
    try:
        for name, steps in settings:
            model.pipe.scheduler = scheduler_for(model.pipe, name)
            readings, s_per_image = _draw_and_read(model, prompts, seeds, steps, guidance)
            seen, rest = readings[:n], readings[n:]
            counts = {k: (sum(r.labels()[k] == getattr(sc, k) for r, sc in zip(seen, scenes)), n) for k in FACTORS}
            counts["heldout"] = (sum(r.colour == sc.colour and r.shape == sc.shape for r, sc in zip(rest, held)),
                                 n_held)
            row = {k: round(c[0] / c[1], 4) for k, c in counts.items()}
            row["valid"] = round(float(np.mean([r.valid for r in readings])), 4)
            row["s_per_image"] = round(s_per_image, 4)
            row["ci"] = {k: [round(x, 4) for x in wilson(*c)] for k, c in counts.items()}
            key = f"{name}_{steps}"
            if reference is None:
                reference = row
            row["holds"] = all(row[k] >= reference["ci"][k][0] for k in (*FACTORS, "heldout"))
            rows[key] = row
            print(key, row, flush=True)
    finally:
        model.pipe.scheduler = original
    holding = sorted((int(k.split("_")[1]), k) for k, r in rows.items() if r["holds"])  # DDIM first on a tie
    chosen = holding[0][1] if holding else None
    chosen_ddim = next((k for _, k in holding if k.startswith("ddim")), None)
    return {"settings": rows, "reference": f"ddim_{model.default_steps}", "chosen": chosen,
            "chosen_ddim": chosen_ddim, "n": n,
            "n_heldout": n_held, "guidance_scale": guidance, "batch": BATCH}

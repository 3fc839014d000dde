"""Speed on this machine: seconds per image, and seconds until `python app.py` serves."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

from edits.pipeline import load_diffusion, load_hspace_diffusion
from toyworld.settings import DIRECTIONS

from .common import median_time

ROOT = Path(__file__).resolve().parent.parent


def startup_seconds(port: int = 7931, limit: float = 120.0, model_path: str | None = None) -> float:
    """Wall time from starting `python app.py` (on `model_path` when given) until its page answers."""
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    t0 = time.perf_counter()
    local = model_path is not None and Path(model_path).exists()
    extra = [] if model_path is None else ["--diffusion-model", str(Path(model_path).resolve()) if local else model_path]
    proc = subprocess.Popen([sys.executable, "app.py", *extra], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < limit:
            if proc.poll() is not None:
                return float("nan")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.1)
        return float("nan")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run(quick: bool = False, model_path: str | None = None) -> dict:
    model = load_diffusion(model_path, device="cpu")
    repeats = 3 if quick else 9
    prompt = "a large red circle on a white background"
    gen = median_time(lambda: model.generate(prompt, seed=1, guidance_scale=model.default_guidance), repeats)
    res = {"generate_s": round(gen, 4), "steps": model.default_steps, "guidance_scale": model.default_guidance,
           "resolution": model.resolution}
    res.update(_hspace_speed(load_hspace_diffusion(None, model, device="cpu"), repeats))
    res.update(_wspace_speed(repeats))
    res["startup_s"] = round(startup_seconds(model_path=model_path), 2)
    return res


def _wspace_speed(repeats: int) -> dict:
    """Milliseconds for one edited StyleGAN image (mapping, edit, synthesis; decoding too for a latent-space GAN)."""
    from edits.directions import load_directions
    from edits.wspace import DEFAULT_STRENGTH, apply_edits, directions_folder, edit_pair, load_gan, make_edit

    try:
        gan = load_gan()
    except Exception:
        return {}
    dirs = load_directions(directions_folder(gan.folder), space="w")
    edits = [make_edit(dirs, "colour", "blue", DEFAULT_STRENGTH)] if "colour: blue" in dirs else []
    one = median_time(lambda: gan.render(apply_edits(gan, gan.w_from_seed(1), edits)), max(repeats, 21), warmup=3)
    pair = median_time(lambda: edit_pair(gan, 1, edits), max(repeats, 21), warmup=3)
    return {"edit_w_ms": round(1000 * one, 2), "edit_pair_w_ms": round(1000 * pair, 2)}


def _hspace_speed(model, repeats: int) -> dict:
    """Edited vs. unedited sampling through the same loop, timed in one run: the median over rounds of
    each round's ratio (plain, the swap in both modes and the guided edit run back to back in every round).
    edit_h_overhead(_asymmetric) time the swap move, as before the guided move existed;
    edit_h_guided_overhead the guided move; edit_h_overhead_default the default edit (edit_h_default_move)."""
    from dataclasses import replace

    from edits.directions import load_directions, others_of, siblings_of
    from edits.fit import collect_h, fit_h
    from edits.hspace import DEFAULT_EDIT, default_edit, h_shape, sample
    from edits.labelers import ColourLabeler

    if not model.is_embedded:  # the shipped directions belong to the embedded model: time the plain loop only
        return {"sample_s": round(median_time(lambda: sample(model, "a circle", 1), repeats), 4)}
    dirs = load_directions(DIRECTIONS, space="h")
    if "colour: blue" not in dirs:
        return {}
    d, prompt = dirs["colour: blue"], "a large circle on a white background"
    edit = default_edit(d, DEFAULT_EDIT["strength"], siblings_of(dirs, d), others_of(dirs, d))
    runs = {"plain": lambda: sample(model, prompt, 1),
            **{m: lambda m=m: sample(model, prompt, 1, edit=replace(edit, mode=m, move="swap"))
               for m in ("symmetric", "asymmetric")},
            "guided": lambda: sample(model, prompt, 1, edit=replace(edit, move="guided")),
            "default": lambda: sample(model, prompt, 1, edit=replace(edit))}
    for fn in runs.values():
        fn()  # warm-up
    times = {k: [] for k in runs}
    for _ in range(repeats):  # interleaved, so that drift in the machine's speed hits all three alike
        for k, fn in runs.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    plain = statistics.median(times["plain"])
    ratio = {k: statistics.median(np.array(times[k]) / np.array(times["plain"])) for k in runs if k != "plain"}
    t = time.perf_counter()
    s = collect_h(model, "a {size} {shape} on a {background} background", list(range(256)))
    fit_h(s, ColourLabeler()(s.images), "colour", "embedded", "colour", h_shape(model))
    fit_s = time.perf_counter() - t
    return {"sample_s": round(plain, 4), "edit_h_overhead": round(float(ratio["symmetric"]), 3),
            "edit_h_overhead_asymmetric": round(float(ratio["asymmetric"]), 3),
            "edit_h_guided_overhead": round(float(ratio["guided"]), 3),
            "edit_h_overhead_default": round(float(ratio["default"]), 3), "edit_h_default_move": edit.move,
            "fit_h_s": round(fit_s, 1)}

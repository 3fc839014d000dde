"""Speed on this machine: seconds per image, and seconds until `python app.py` serves."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from edits.pipeline import load_diffusion

from .common import median_time

ROOT = Path(__file__).resolve().parent.parent


def startup_seconds(port: int = 7931, limit: float = 120.0) -> float:
    """Wall time from starting `python app.py` until its page answers."""
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
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
    gen = median_time(lambda: model.generate(prompt, seed=1, num_inference_steps=25,
                                             guidance_scale=model.default_guidance), repeats)
    res = {"generate_s": round(gen, 4), "steps": 25, "guidance_scale": model.default_guidance,
           "resolution": model.resolution}
    res.update(_hspace_speed(model, repeats))
    res["startup_s"] = round(startup_seconds(), 2)
    return res


def _hspace_speed(model, repeats: int) -> dict:
    """Edited vs. unedited sampling through the same loop, timed in one run (ratios of medians)."""
    from edits.directions import load_directions
    from edits.fit import collect_h, fit_h
    from edits.hspace import HEdit, h_shape, sample
    from edits.labelers import ColourLabeler

    dirs = load_directions(ROOT / "assets" / "directions", space="h")
    if "colour: blue" not in dirs:
        return {}
    d, prompt = dirs["colour: blue"], "a large circle on a white background"
    plain = median_time(lambda: sample(model, prompt, 1), repeats)
    sym = median_time(lambda: sample(model, prompt, 1, edit=HEdit(d, 8.0, 0.0, 0.6, "symmetric")), repeats)
    asym = median_time(lambda: sample(model, prompt, 1, edit=HEdit(d, 8.0, 0.0, 0.6, "asymmetric")), repeats)
    t = time.perf_counter()
    s = collect_h(model, "a {size} {shape} on a {background} background", list(range(256)))
    fit_h(s, ColourLabeler()(s.images), "colour", "embedded", "colour", h_shape(model))
    fit_s = time.perf_counter() - t
    return {"sample_s": round(plain, 4), "edit_h_overhead": round(sym / plain, 3),
            "edit_h_overhead_asymmetric": round(asym / plain, 3), "fit_h_s": round(fit_s, 1)}

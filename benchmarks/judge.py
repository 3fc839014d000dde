"""The independent judge (edits/judge.py): how well it reads rendered scenes, and how it agrees with the fitting
labellers on each model's pictures.

- accuracy (per factor), accuracy_min, valid_fraction: on `n` rendered scenes (toyworld.sample_scene with the
  held-out colour/shape pairs included, a different render seed each); heldout_accuracy: the same on the
  scenes whose colour/shape pair is held out (HELDOUT), n_heldout of them; position_error_px: the judge's x, y
  against the rendered silhouette's centroid (mean and max over both axes).
- ms_per_image: CPU time per 64 x 64 picture on one thread, once the silhouettes it matches against are cached
  (the steady state of a benchmark); ms_per_image_first_pass includes drawing them; ms_per_image_wall is the
  warm pass's wall-clock time (the machine is shared, so it is the noisier number).
- diffusion, gan: on the embedded diffusion model's pictures (varied prompts: full, colour unsaid, captions with
  random phrasing and dropped factors) and the default GAN's samples: the judge's valid_fraction and why the
  rest are invalid (invalid_reasons); per factor the rate at which the judge agrees with the toy classifier
  (agreement_classifier: on all pictures, and on those the judge calls valid) and, for colour, with the pixel
  ColourLabeler (agreement_colour_labeler); the commonest disagreements ("judge circle / classifier square":
  count, on all pictures). For diffusion, prompt_agreement: per factor, how often the judge reads what the
  prompt said (on the pictures whose prompt said it).
"""
from __future__ import annotations

import time
from collections import Counter

import numpy as np

from edits.gan import load_gan
from edits.judge import read
from edits.labelers import ColourLabeler, ToyClassifierLabeler
from edits.pipeline import load_diffusion
from toyworld.world import FACTORS, HELDOUT, caption, object_mask, prompt_for, render, sample_scene

from .common import batched, to_uint8

TOP_DISAGREEMENTS = 6


def _rate(flags) -> float | None:
    flags = list(flags)
    return round(float(np.mean(flags)), 4) if flags else None


def rendered(n: int, seed: int = 25) -> dict:
    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng, include_heldout=True) for _ in range(n)]
    images = np.stack([render(s, seed=int(rng.integers(0, 2**31))) for s in scenes])  # (n, 64, 64, 3)

    t_cpu = time.process_time()
    read(images)  # first pass: draws and caches the silhouettes it matches against
    first = time.process_time() - t_cpu
    t_cpu, t_wall = time.process_time(), time.perf_counter()
    readings = read(images)
    warm, wall = time.process_time() - t_cpu, time.perf_counter() - t_wall

    held = [(s.colour, s.shape) in HELDOUT for s in scenes]
    yy, xx = np.mgrid[0:64, 0:64] + 0.5
    errors = []
    for s, r in zip(scenes, readings):
        m = object_mask(s)
        errors.append(max(abs(r.x - (m * xx).sum() / m.sum()), abs(r.y - (m * yy).sum() / m.sum())))
    accuracy = {k: _rate(getattr(r, k) == getattr(s, k) for s, r in zip(scenes, readings)) for k in FACTORS}
    misread = Counter(f"{k}: {getattr(s, k)} read as {getattr(r, k)}" for s, r in zip(scenes, readings)
                      for k in FACTORS if getattr(r, k) != getattr(s, k))
    return {
        "accuracy": accuracy,
        "accuracy_min": min(accuracy.values()),
        "valid_fraction": _rate(r.valid for r in readings),
        "heldout_accuracy": {k: _rate(getattr(r, k) == getattr(s, k) for s, r, h in zip(scenes, readings, held) if h)
                             for k in FACTORS},
        "heldout_valid_fraction": _rate(r.valid for r, h in zip(readings, held) if h),
        "position_error_px": {"mean": round(float(np.mean(errors)), 3), "max": round(float(np.max(errors)), 3)},
        "match_min": round(min(r.match for r in readings), 3),
        "misread": dict(misread.most_common(TOP_DISAGREEMENTS)),
        "ms_per_image": round(1000 * warm / n, 2),
        "ms_per_image_first_pass": round(1000 * first / n, 2),
        "ms_per_image_wall": round(1000 * wall / n, 2),
        "n": n,
        "n_heldout": int(sum(held)),
    }


def agreement(images: np.ndarray, classifier: ToyClassifierLabeler, colour_labeler: ColourLabeler) -> dict:
    """The judge against the toy classifier (every factor) and the pixel ColourLabeler (colour) on pictures."""
    readings = read(images)
    predicted = classifier.predict(images)
    colours = colour_labeler(images)
    valid = [r.valid for r in readings]
    out = {"n": len(readings), "valid_fraction": _rate(valid),
           "invalid_reasons": dict(Counter(r.reason for r in readings if not r.valid).most_common()),
           "agreement_classifier": {}, "disagreements_classifier": {}}
    for k in FACTORS:
        judged, other = [r.labels()[k] for r in readings], predicted[k][0]
        same = [j == o for j, o in zip(judged, other)]
        out["agreement_classifier"][k] = {"all": _rate(same), "valid": _rate(s for s, v in zip(same, valid) if v)}
        out["disagreements_classifier"][k] = dict(Counter(f"judge {j} / classifier {o}" for j, o in zip(judged, other)
                                                          if j != o).most_common(TOP_DISAGREEMENTS))
    same = [r.colour == c for r, c in zip(readings, colours)]
    out["agreement_colour_labeler"] = {"all": _rate(same), "valid": _rate(s for s, v in zip(same, valid) if v)}
    out["disagreements_colour_labeler"] = dict(Counter(f"judge {r.colour} / colour labeler {c}"
                                                       for r, c in zip(readings, colours) if r.colour != c)
                                               .most_common(TOP_DISAGREEMENTS))
    return out, readings


def diffusion_pictures(n: int, model_path: str | None, seed: int = 26) -> tuple[np.ndarray, list[dict]]:
    """n pictures from varied prompts: a quarter each full canonical, colour unsaid, shape unsaid, and captions
    with random phrasing and dropped factors (some empty); returns them and the factors each prompt said."""
    model = load_diffusion(model_path, device="cpu")
    rng = np.random.default_rng(seed)
    prompts, said = [], []
    for i in range(n):
        s = sample_scene(rng, include_heldout=True)
        keep = [tuple(FACTORS), ("size", "shape", "background"), ("size", "colour", "background"), None][i % 4]
        if keep is None:
            text = caption(s, rng)
            keep = tuple(k for k in FACTORS if f" {getattr(s, k)} " in f" {text} ")
        else:
            text = prompt_for(**{k: getattr(s, k) for k in keep})
        prompts.append(text)
        said.append({k: getattr(s, k) for k in keep})
    seeds = [int(v) for v in rng.integers(0, 2**31, n)]
    images = [to_uint8(model.generate_batch([prompts[i] for i in idx], [seeds[i] for i in idx]))
              for idx in batched(list(range(n)), 16)]
    return np.concatenate(images), said


def run(quick: bool = False, model_path: str | None = None) -> dict:
    res = rendered(400 if quick else 2000)
    classifier, colour_labeler = ToyClassifierLabeler(), ColourLabeler()

    images, said = diffusion_pictures(16 if quick else 200, model_path)
    res["diffusion"], readings = agreement(images, classifier, colour_labeler)
    res["diffusion"]["prompt_agreement"] = {
        k: _rate(r.labels()[k] == s[k] for r, s in zip(readings, said) if k in s) for k in FACTORS}

    gan = load_gan()
    n_gan = 32 if quick else 500
    res["gan"], _ = agreement(gan.render(gan.w_from_seeds(list(range(n_gan)))), classifier, colour_labeler)
    res["gan"]["model"] = gan.name
    return res

"""Where the object is, read from h: a per-step linear regression of its centroid, and the guided moves' term
that holds it where it was (`python -m edits.hspace.place --out DIR`).

The guided moves keep the other attributes by holding their readouts' classes; nothing held the object's place,
and every guided, re-noised step moved it (FINDINGS §10-11, the random control too). Here h (the mid-block
output, spatial) is regressed on the object's centroid in pixels at every step (ridge, from plain trajectories,
the centroid read from the finished picture's pixels by `centroid_of`: the border's median colour is the
background, the pixels that differ from it are the object; a fitting-side reading, not the judge's). The fit is
stored as two `Direction`s of attribute "place" (classes "x" and "y", meta "readout": "regression"): the readout
row is the regression's weights and intercept, `scales` its held-out residual spread.

In a guided move (`PlaceTerm`), the centroid read at the first edited step is held: the objective gains
-place_weight * 0.5 * sum over x, y of ((read - first) / spread)^2 (`Guide.place_weight`).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..directions import Direction
from .layout import features

ATTRIBUTE = "place"


def centroid_of(images: np.ndarray, min_pixels: int = 4) -> np.ndarray:
    """(N, 2) centroid (x, y) in pixels of the object in each uint8 picture (N, H, W, 3); NaN where none is found."""
    out = np.full((len(images), 2), np.nan)
    from ..labelers import object_pixels  # the colour labeller's reading of where the object is

    for i, im in enumerate(np.asarray(images)):
        mask, _ = object_pixels(im)
        if mask.sum() >= min_pixels:
            ys, xs = np.nonzero(mask)
            out[i] = xs.mean(), ys.mean()
    return out


def is_place(d) -> bool:
    return d.meta.get("attribute") == ATTRIBUTE and d.meta.get("readout") == "regression"


def fit_place(h: np.ndarray, pos: np.ndarray, timesteps: list[int], shape: tuple[int, ...], model_name: str,
              alpha: float = 10.0, hold_out: float = 0.2, seed: int = 0) -> dict[str, Direction]:
    """Per step, ridge regressions of x and y (pixels) on h (N, T, D); rows with NaN positions are dropped."""
    from sklearn.linear_model import Ridge

    ok = np.isfinite(pos).all(1)
    h, pos = h[ok], pos[ok]
    test = np.random.default_rng(seed).random(len(h)) < hold_out
    out = {}
    for k, c in enumerate(("x", "y")):
        W, b, spread, r2 = [], [], [], []
        for t in range(h.shape[1]):
            m = Ridge(alpha=alpha).fit(h[~test, t], pos[~test, k])
            res = pos[test, k] - m.predict(h[test, t])
            W.append(m.coef_.astype(np.float32)), b.append(float(m.intercept_))
            spread.append(float(res.std())), r2.append(float(1 - res.var() / pos[test, k].var()))
        W = np.stack(W)
        unit = W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-12)
        out[c] = Direction(torch.from_numpy(unit).reshape(-1, *shape).float(), torch.tensor(spread),
                           torch.zeros(len(W)),
                           {"space": "h", "model": model_name, "attribute": ATTRIBUTE, "class": c, "readout": "regression",
                            "timesteps": list(timesteps), "samples": int(len(h)), "labeller": "centroid (pixels)",
                            "held_out_r2": [round(v, 4) for v in r2], "residual_px": [round(v, 3) for v in spread],
                            "pooled": False},
                           torch.from_numpy(W).reshape(-1, *shape).float(), torch.tensor(b))
    return out


class PlaceTerm:
    """-0.5 * sum(((x, y)(h) - (x, y) at the first edited step) / spread)^2, per image (B,)."""

    def __init__(self, directions: list):
        self.d = sorted(directions, key=lambda d: d.meta["class"])  # x, y
        self.first: torch.Tensor | None = None

    def __call__(self, h: torch.Tensor, t: int) -> torch.Tensor:
        i = self.d[0].index_for(t)
        x = features(h, self.d[0].pooled)  # (B, D)
        w = torch.stack([d.readout_vectors[i].flatten() for d in self.d]).to(x)  # (2, D)
        b = torch.stack([d.readout_biases[i] for d in self.d]).to(x)
        s = torch.stack([d.scales[i] for d in self.d]).to(x).clamp_min(0.5)
        pos = x @ w.T + b  # (B, 2) pixels
        if self.first is None:
            self.first = pos.detach()
        return -0.5 * (((pos - self.first) / s) ** 2).sum(1)


def main(argv=None) -> None:
    from ..pipeline import load_diffusion, load_hspace_diffusion
    from ..fit import fill_template
    from .layout import h_shape
    from .refit import TEMPLATES, draw

    p = argparse.ArgumentParser(prog="python -m edits.hspace.place", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--samples", type=int, default=1024)
    p.add_argument("--first-seed", type=int, default=700_000)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    model = load_hspace_diffusion(None, load_diffusion(None, device="cpu"))
    seeds = list(range(a.first_seed, a.first_seed + a.samples))
    prompts = [fill_template(TEMPLATES["colour"], s) for s in seeds]
    hs, owners, images, ts = draw(model, prompts, seeds)
    h = np.stack(hs, 1)  # (N, T, D): a plain draw gives one row per trajectory and step, in order
    dirs = fit_place(h, centroid_of(images), ts, h_shape(model, 0), "embedded:" + Path(model.name).name)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for c, d in dirs.items():
        d.save_in(out, f"h_place_{c}")
    print(json.dumps({c: {"held_out_r2": d.meta["held_out_r2"], "residual_px": d.meta["residual_px"]}
                      for c, d in dirs.items()} | {"samples": len(seeds), "wall_s": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()

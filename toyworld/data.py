"""Render the toy-world training set once and cache it (images + factors), never per step."""
from __future__ import annotations

import numpy as np

from .settings import DATA_CACHE
from .world import FACTORS, Scene, render, sample_scene




def scenes_to_arrays(scenes: list[Scene]) -> dict[str, np.ndarray]:
    out = {k: np.array([FACTORS[k].index(getattr(s, k)) for s in scenes], dtype=np.int64) for k in FACTORS}
    out["geom"] = np.array([[s.x, s.y, s.radius] for s in scenes], dtype=np.float32)
    return out


def arrays_to_scene(arrs: dict[str, np.ndarray], i: int) -> Scene:
    x, y, r = (float(v) for v in arrs["geom"][i])
    return Scene(x=x, y=y, radius=r, **{k: FACTORS[k][int(arrs[k][i])] for k in FACTORS})


def make_dataset(n: int, seed: int, include_heldout: bool = False) -> dict[str, np.ndarray]:
    """`n` scenes and their images (uint8, N x 64 x 64 x 3), cached under runs/data/."""
    path = DATA_CACHE / f"toy_{n}_{seed}_{int(include_heldout)}.npz"
    if path.exists():
        with np.load(path) as f:
            return dict(f)
    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng, include_heldout=include_heldout) for _ in range(n)]
    arrs = scenes_to_arrays(scenes)
    arrs["images"] = np.stack([render(s, seed * 1_000_003 + i) for i, s in enumerate(scenes)])
    DATA_CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrs)
    return arrs

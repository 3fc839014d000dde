"""The calls the tab, compare and walks make: an (original, edited) pair, a traversal, the starting noise."""
from __future__ import annotations

import numpy as np
import torch

from ..pipeline import DiffusionModel, check_number, check_seed, make_generator
from ..zerogpu import BATCH, gpu
from .edit import DEFAULT_EDIT, HEdit
from .sampler import sample


@gpu(BATCH)
def edit_pair(model: DiffusionModel, prompt: str, seed: int, direction, strength: float,
              start: float = DEFAULT_EDIT["start"], end: float = DEFAULT_EDIT["end"],
              mode: str = DEFAULT_EDIT["mode"], move: str = DEFAULT_EDIT["move"], siblings: list = (),
              keep: list = (), **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """(original, edited) for one seed; the original is exactly the plain pipeline's image."""
    edit = HEdit(direction, strength, start, end, mode, move, list(siblings), list(keep)).check()
    plain = sample(model, prompt, seed, **kwargs).images[0]
    return plain, sample(model, prompt, seed, edit=edit, **kwargs).images[0]


@gpu(BATCH)
def traversal(model: DiffusionModel, prompt: str, seed: int, direction, strength: float, frames: int = 7,
              start: float = DEFAULT_EDIT["start"], end: float = DEFAULT_EDIT["end"],
              mode: str = DEFAULT_EDIT["mode"], move: str = DEFAULT_EDIT["move"], siblings: list = (),
              keep: list = (), known: dict | None = None, **kwargs) -> tuple[list[float], np.ndarray]:
    """`frames` images from -strength to +strength (one batch, the same seed). `known` maps strengths (rounded
    to 3 decimals) to images (H, W, 3) in [0, 1] already drawn, such as `edit_pair`'s: those frames are
    taken from it rather than drawn again."""
    frames = int(check_number(frames, "Frames", 3, 15, integer=True))
    strength = check_number(strength, "Strength", -1e9, 1e9)
    alphas = np.linspace(-abs(strength), abs(strength), frames).round(3).tolist()
    known = {round(float(a), 3): np.asarray(im, dtype=np.float32) for a, im in (known or {}).items()}
    todo = [a for a in alphas if a not in known]
    drawn = iter(sample(model, prompt, [seed] * len(todo), edit=HEdit(
        direction, todo, start, end, mode, move, list(siblings), list(keep)), **kwargs).images if todo else ())
    return alphas, np.stack([known[a] if a in known else next(drawn) for a in alphas])


def starting_noise(model: DiffusionModel, seeds: list[int]) -> torch.Tensor:
    """The starting noise (B, C, h, w) that `sample` draws for these seeds (CPU generators)."""
    shape = (1, model.pipe.unet.config.in_channels, model.resolution // model.pipe.vae_scale_factor,
             model.resolution // model.pipe.vae_scale_factor)
    return torch.cat([torch.randn(shape, generator=make_generator(check_seed(s))) for s in seeds])

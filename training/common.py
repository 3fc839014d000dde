"""What every training run shares: logging, schedules, checkpoints, EMA of weights, fp16 export, image tensors and
losses."""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from toyworld.settings import ASSETS, RUNS  # noqa: F401  (re-exported for the training modules)


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (N, 3, H, W)


def lr_at(step: int, total: int, base: float, warmup: int = 200) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def save_ckpt(path: Path, **state) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_ckpt(path: Path):
    return torch.load(path, weights_only=True) if path.exists() else None


def weights(*modules: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The parameters of several modules, in order (what an optimiser or an EMA runs over)."""
    return [p for m in modules for p in m.parameters()]


def ema_of(copies: list[torch.nn.Module], decay: float, updates_done: int = 0, constant: bool = False):
    """diffusers' `EMAModel` over the weights of `copies` (the EMA copies of the trained modules, as built or
    loaded from a checkpoint), resumed after `updates_done` updates. Update n (from 1) averages with decay
    min(decay, n / (9 + n)), except that the first update of a fresh run copies the weights; or with `decay`
    itself at every update when `constant`. `ema.step(weights(*trained))` after each optimiser step;
    `ema.copy_to(weights(*copies))` writes the averages back into the copies before they are saved."""
    from diffusers.training_utils import EMAModel  # here: the adversarial GAN's imports need no diffusers

    ema = EMAModel(weights(*copies), decay=decay, min_decay=decay if constant else 0.0,
                   update_after_step=-1 if constant else 0, foreach=True)
    ema.optimization_step = updates_done
    return ema


def _fp16_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}


def object_weight(x: torch.Tensor, weight: float = 8.0) -> torch.Tensor:
    """1 on the background, 1 + weight on the object: the object covers 5-25% of the pixels, and an
    unweighted loss learns the flat background first and the object's colour last (seen: 30% of
    reconstructions kept their colour after 900 unweighted steps)."""
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)  # (B, 3, 4W)
    bg = border.median(dim=-1).values[..., None, None]  # (B, 3, 1, 1)
    fg = ((x - bg).abs().sum(1, keepdim=True) > 0.15).float()  # (B, 1, H, W)
    return 1.0 + weight * fg


def reconstruction_loss(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """L1 + L2 per pixel, object pixels weighted (see object_weight)."""
    return (object_weight(x) * ((y - x).abs() + (y - x).pow(2))).mean()

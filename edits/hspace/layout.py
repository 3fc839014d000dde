"""What "h" is on a given UNet: the mid-block output, optionally followed by the skip tensors entering
the deepest up-blocks, with their names and shapes."""
from __future__ import annotations

import numpy as np
import torch

from ..pipeline import DiffusionModel

# An h with more values than this per step is read per channel (its mean over the positions): SD 1.5's mid-block
# at 512 px gives 1280 x 8 x 8 = 81920 values a step, and a fit keeps N samples x T steps of them in memory.
POOL_ABOVE = 8192


def h_layout(model: DiffusionModel, skip_levels: int = 0) -> list[tuple[str, tuple[int, int, int]]]:
    """Names and (C, H, W) shapes of what is edited: the mid-block output, then the skip tensors
    entering the `skip_levels` deepest up-blocks, in the order the UNet consumes them."""
    unet = model.pipe.unet
    cfg = unet.config
    chans, n = list(cfg.block_out_channels), len(cfg.block_out_channels)
    side = model.resolution // model.pipe.vae_scale_factor
    res = [(chans[0], side)]  # conv_in, then every down-block output pushed on the skip stack
    for i, c in enumerate(chans):
        s = side // 2 ** i
        res += [(c, s)] * cfg.layers_per_block
        if i < n - 1:
            res.append((c, s // 2))
    layout = [("mid", (chans[-1], side // 2 ** (n - 1), side // 2 ** (n - 1)))]
    for level in range(skip_levels):
        k = len(unet.up_blocks[level].resnets)
        taken, res = res[-k:], res[:-k]
        layout += [(f"up{level}.skip{j}", (c, s, s)) for j, (c, s) in enumerate(taken)]  # tuple order
    return layout


def describe(skip_levels: int) -> str:
    """What an edit changes, in words for the tab and the metadata."""
    if skip_levels == 0:
        return "unet.mid_block output"
    return f"unet.mid_block output + the skip tensors entering the {skip_levels} deepest up-block(s)"


def h_shape(model: DiffusionModel, skip_levels: int = 0) -> tuple[int, ...]:
    """(C, H, W) of the mid-block output, or (D,) when skip tensors are included."""
    layout = h_layout(model, skip_levels)
    return layout[0][1] if skip_levels == 0 else (sum(int(np.prod(sh)) for _, sh in layout),)


def full_mid(layout, direction) -> bool:
    """Whether a direction lives on the full (unpooled) mid-block output alone."""
    return len(layout) == 1 and int(np.prod(direction.shape)) == int(np.prod(layout[0][1]))


def pools(model: DiffusionModel, skip_levels: int = 0) -> bool:
    """Whether h on this UNet is read pooled to its channels: the one place this is decided. Fitting captures h
    so (`sample(capture=True)`), a fitted direction records it ("pooled" in its metadata, `Direction.pooled`),
    and a guided edit's readouts read h the way their direction says (`features`). Only the mid-block output
    alone is pooled, never h extended with skip tensors."""
    c, hh, ww = h_layout(model, skip_levels)[0][1]
    return skip_levels == 0 and c * hh * ww > POOL_ABOVE


def features(h: torch.Tensor, pooled: bool) -> torch.Tensor:
    """What a boundary or a readout reads of h (B, C, H, W): (B, C) pooled, else (B, C*H*W); an h already read
    (B, D) is returned as it is."""
    if h.ndim == 2:
        return h.float()
    return h.float().mean(dim=(2, 3)) if pooled else h.float().flatten(1)

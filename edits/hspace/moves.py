"""The moves that write to h, one small strategy each (chosen once per call by `make_move`).

A hook move answers two questions at a step t of its interval: how much to add to the mid-block output
given its conditional half (`mid_delta`), and to the j-th skip tensor (`skip_delta`, "add" only).
The guided move, which never writes to h, lives in `guided.py`.
"""
from __future__ import annotations

import numpy as np
import torch

from ..directions import signed_shift, swap_shift
from .layout import full_mid


def _per_image(strengths, batch: int) -> torch.Tensor:
    s = torch.tensor(strengths, dtype=torch.float32)
    return s.expand(batch) if s.numel() == 1 else s  # (B,)


class AddMove:
    """h <- h + strength * scale_t * d_t (a pooled direction is spread evenly over the positions)."""

    name = "add"
    guides = False

    def __init__(self, edit, layout, batch: int):
        self.edit, self.layout, self.batch = edit, layout, batch

    def _parts(self, t: int) -> list[torch.Tensor]:
        d, scale = self.edit.direction.at_timestep(t)  # unit vector, (C, H, W) or (D,)
        s = _per_image(self.edit.strengths, self.batch).view(-1, 1) * scale  # (B, 1)
        flat = d.float().reshape(-1)
        if len(self.layout) == 1 and flat.numel() == self.layout[0][1][0]:  # pooled: broadcast over space
            c, hh, ww = self.layout[0][1]
            flat = flat.view(c, 1, 1).expand(c, hh, ww).reshape(-1) / (hh * ww) ** 0.5
        out, i = [], 0
        for _, shape in self.layout:
            n = int(np.prod(shape))
            out.append((s * flat[i:i + n]).view(self.batch, *shape))  # (B, C, H, W)
            i += n
        return out

    def mid_delta(self, h_cond: torch.Tensor, t: int) -> torch.Tensor:
        return self._parts(t)[0]

    def skip_delta(self, j: int, t: int) -> torch.Tensor:
        return self._parts(t)[j]


class LandMove(AddMove):
    """h lands `strength` spreads on the target's side of the step's boundary, wherever it started."""

    name = "land"

    def mid_delta(self, h_cond: torch.Tensor, t: int) -> torch.Tensor:
        d = self.edit.direction
        normal = d.at_timestep(t)[0].float().reshape(-1)
        shift = signed_shift(h_cond.flatten(1), normal, d.bias_at(t), d.at_timestep(t)[1],
                             _per_image(self.edit.strengths, self.batch))  # (B,)
        return (shift[:, None] * normal).view(-1, *self.layout[0][1])


class SwapMove(AddMove):
    """The class the readout sees is traded for the target: + s a_target - min(max(s, 0), 1) a_current."""

    name = "swap"

    def mid_delta(self, h_cond: torch.Tensor, t: int) -> torch.Tensor:
        classes = [self.edit.direction, *self.edit.siblings]
        i = [c.index_for(t) for c in classes]
        normals = torch.stack([c.vectors[j].float().reshape(-1) for c, j in zip(classes, i)])  # (K, D)
        offsets = torch.tensor([float(c.meta["class_offset"][j]) for c, j in zip(classes, i)])
        r = torch.stack([c.readout_vectors[j].float().reshape(-1) for c, j in zip(classes, i)])  # (K, D)
        rb = torch.stack([c.readout_biases[j].float() for c, j in zip(classes, i)])  # (K,)
        s = _per_image(self.edit.strengths, self.batch)
        return swap_shift(h_cond.flatten(1), normals, offsets, r, rb, s).view(-1, *self.layout[0][1])


def make_move(edit, layout, batch: int):
    """The move an HEdit asks for, with the documented fallbacks (swap -> land -> add)."""
    from .guided import GuidedMove

    if edit.move == "guided":
        return GuidedMove(edit, batch)
    if edit.move == "recurrent":
        from .recurrence import RecurrentMove
        return RecurrentMove(edit, batch)
    if edit.move == "causal":
        from .causal import make_causal_move
        return make_causal_move(edit, layout, batch)
    mid_only = full_mid(layout, edit.direction)
    if edit.move == "swap" and edit.can_swap and mid_only:
        return SwapMove(edit, layout, batch)
    if edit.move in ("swap", "land") and mid_only:
        return LandMove(edit, layout, batch)
    return AddMove(edit, layout, batch)

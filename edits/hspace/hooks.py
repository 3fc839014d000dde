"""Forward hooks on the UNet: capture h, let a move write to it, and (asymmetric mode) double the batch
after the mid-block so that one pass gives both the edited and the unedited noise prediction."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from .layout import features


@dataclass(frozen=True)
class Capture:
    """What to keep of h at every step: nothing, the conditional half, or both halves; pooled or not."""

    on: bool = False
    uncond: bool = False
    pool: bool = False


@dataclass(frozen=True)
class StepEdit:
    """The edit of one step: the move that writes to h, at timestep t, and whether to double the batch."""

    move: object
    t: int
    double: bool


@dataclass
class Hooks:
    """With `skip_levels` = k > 0, "h" also includes the skip tensors entering the k deepest up-blocks."""

    unet: object
    cfg: bool
    capture: Capture = Capture()
    skip_levels: int = 0
    step: StepEdit | None = None  # the only thing that changes between steps
    h: list[torch.Tensor] = field(default_factory=list)
    h_uncond: list[torch.Tensor] = field(default_factory=list)
    _parts: list[torch.Tensor] = field(default_factory=list)

    def _halves(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = features(x, self.capture.pool)  # (n*B, D)
        if not self.cfg:
            return x, None
        b = x.shape[0] // 2
        return x[b:], x[:b]  # (conditional, unconditional)

    def _store(self, x: torch.Tensor, last: bool) -> None:
        if not self.capture.on:
            return
        self._parts.append(x)
        if last:
            self.h.append(torch.cat([self._halves(p)[0].flatten(1) for p in self._parts], 1).cpu())
            if self.capture.uncond and self.cfg:
                self.h_uncond.append(torch.cat([self._halves(p)[1].flatten(1) for p in self._parts], 1).cpu())
            self._parts = []

    def _add(self, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        d = d.to(device=x.device, dtype=x.dtype)
        return x + (torch.cat([d, d]) if self.cfg else d)  # the latent code is shared by both halves

    def _mid(self, module, args, output):
        h = output  # (n*B, C, H, W), n = 2 under classifier-free guidance
        self._store(h, last=self.skip_levels == 0)
        if self.step is None:
            return None
        hc = (h[h.shape[0] // 2:] if self.cfg else h).float()  # (B, C, H, W): the conditional half
        edited = self._add(h, self.step.move.mid_delta(hc, self.step.t))
        return torch.cat([edited, h]) if self.step.double else edited

    def _up(self, module, args, kwargs, level: int = 0):
        res = kwargs["res_hidden_states_tuple"]
        edit_here = level < self.skip_levels
        if edit_here:
            for j, r in enumerate(res):
                self._store(r, last=level == self.skip_levels - 1 and j == len(res) - 1)
        if self.step is None:
            return None
        edited = res
        if edit_here:
            first = 1 + sum(len(self.unet.up_blocks[i].resnets) for i in range(level))
            edited = tuple(self._add(r, self.step.move.skip_delta(first + j, self.step.t)) for j, r in enumerate(res))
        if self.step.double and kwargs["hidden_states"].shape[0] != res[0].shape[0]:
            kwargs["res_hidden_states_tuple"] = tuple(torch.cat([e, r]) for e, r in zip(edited, res))
            for k in ("temb", "encoder_hidden_states"):
                if kwargs.get(k) is not None:
                    kwargs[k] = torch.cat([kwargs[k], kwargs[k]])
        elif edit_here:
            kwargs["res_hidden_states_tuple"] = edited
        else:
            return None
        return args, kwargs

    @contextmanager
    def installed(self):
        handles = [self.unet.mid_block.register_forward_hook(self._mid)]
        for i, b in enumerate(self.unet.up_blocks):
            hook = lambda m, a, k, i=i: self._up(m, a, k, level=i)  # noqa: E731
            handles.append(b.register_forward_pre_hook(hook, with_kwargs=True))
        try:
            yield self
        finally:
            for hd in handles:
                hd.remove()

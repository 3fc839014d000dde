"""The guided move: an h-space direction applied through the UNet, not added to h.

At each step of the interval, x_t is moved along the gradient of
    log p(target | h) + keep_weight * sum_f log p(f's original class | h)
taken through the down-blocks and the mid-block (the pullback J^T d of the h-space direction; Park et al.
2023; readout guidance, Luo et al. CVPR 2024). p(. | h) are the per-step multinomial readouts fitted with
the directions (`edits.directions.fit_readout`); f runs over the attributes of `HEdit.keep`, and f's
"original class" is what its readout reads at the first edited step. The gradient, normalised to unit
RMS per image (and confined to the object when `Guide.mask`), enters the noise prediction as classifier
guidance does: eps <- eps - strength * sqrt(1 - abar_t) * g. Cost per edited step: one more forward
through the down-blocks and the mid-block (conditional half only) and its backward pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..directions import DirectionError
from .layout import features
from .place import PlaceTerm, is_place


class _Stop(Exception):
    """Raised by a hook to end a forward pass at the mid-block, carrying its output."""

    def __init__(self, h: torch.Tensor):
        self.h = h


def _stop(module, args, output):
    raise _Stop(output)


@dataclass
class Readout:
    """One attribute's per-step multinomial readout: class k's logit is h . W[t, k] + b[t, k]."""

    classes: list[str]
    weights: torch.Tensor  # (T, K, D)
    biases: torch.Tensor  # (T, K)
    directions: list  # to find the step index of a timestep
    pooled: bool = False  # D = C: h is read per channel, as the directions were fitted (Direction.pooled)

    @classmethod
    def of(cls, directions: list) -> "Readout":
        if any(d.readout_vectors is None for d in directions):
            raise DirectionError("A guided edit needs directions fitted with their readouts.")
        if len({d.pooled for d in directions}) > 1 or len({d.shape for d in directions}) > 1:
            raise DirectionError("The classes of this attribute were fitted on different readings of h; refit them "
                                 "together.")
        w = torch.stack([d.readout_vectors.float().flatten(1) for d in directions], 1)  # (T, K, D)
        b = torch.stack([d.readout_biases.float() for d in directions], 1)  # (T, K)
        return cls([str(d.meta.get("class")) for d in directions], w, b, directions, directions[0].pooled)

    def log_probs(self, h: torch.Tensor, t: int) -> torch.Tensor:
        """h (B, C, H, W), or already read (B, D) -> (B, K) log-probabilities of the classes."""
        i = self.directions[0].index_for(t)
        x = features(h, self.pooled)  # (B, D)
        if x.shape[1] != self.weights.shape[2]:
            raise DirectionError(f"This direction reads {self.weights.shape[2]} values of h, but this model's h gives "
                                 f"{x.shape[1]}: it belongs to another model.")
        return torch.log_softmax(x @ self.weights[i].to(x).T + self.biases[i].to(x), 1)  # (B, K)


def keep_readouts(edit) -> list[Readout]:
    """One readout per attribute among `edit.keep`, other than the edited one."""
    mine = edit.direction.meta.get("attribute")
    groups: dict[str, list] = {}
    for d in edit.keep:
        a = d.meta.get("attribute")
        if a != mine and d.readout_vectors is not None and d.shape == edit.direction.shape \
                and d.pooled == edit.direction.pooled and not is_place(d):
            groups.setdefault(a, []).append(d)
    return [Readout.of(sorted(g, key=lambda d: str(d.meta.get("class")))) for g in groups.values() if len(g) > 1]


def object_mask(x0: torch.Tensor) -> torch.Tensor:
    """(B, 1, h, w) in {0, 1}: latent pixels of the predicted clean latent x0 (B, C, h, w) that stand out
    from its border (the background), dilated by one pixel."""
    border = torch.cat([x0[..., 0, :], x0[..., -1, :], x0[..., :, 0], x0[..., :, -1]], -1)  # (B, C, 4w)
    d = (x0 - border.median(-1).values[..., None, None]).norm(dim=1, keepdim=True)  # (B, 1, h, w)
    m = (d > 0.5 * d.flatten(1).quantile(0.99, dim=1).view(-1, 1, 1, 1)).float()
    return F.max_pool2d(m, 3, 1, 1)


class GuidedMove:
    """Readout guidance for one sampling call (it remembers the kept classes read at its first step)."""

    name = "guided"
    guides = True

    def __init__(self, edit, batch: int):
        self.edit, self.batch = edit, batch
        self.target = Readout.of([edit.direction, *edit.siblings])  # the target is class 0
        self.keep = keep_readouts(edit) if edit.guide.keep_weight else []
        self.kept: list[torch.Tensor] | None = None  # per keep readout: (B,) class indices
        place = [d for d in edit.keep if is_place(d)] if edit.guide.place_weight else []
        self.place = PlaceTerm(place) if len(place) == 2 else None

    def objective(self, h: torch.Tensor, t: int) -> torch.Tensor:
        """(B,): log p(target | h) + keep_weight * sum of log p(kept class | h)."""
        obj = self.target.log_probs(h, t)[:, 0]
        if self.keep:
            lps = [r.log_probs(h, t) for r in self.keep]
            if self.kept is None:
                self.kept = [lp.detach().argmax(1) for lp in lps]
            rows = torch.arange(h.shape[0])
            obj = obj + self.edit.guide.keep_weight * sum(lp[rows, k] for lp, k in zip(lps, self.kept))
        if self.place is not None:
            obj = obj + self.edit.guide.place_weight * self.place(h, t)
        return obj

    def gradient(self, unet, x_in: torch.Tensor, t, cond: torch.Tensor) -> torch.Tensor:
        """d objective / d x_t (B, C, h, w), through the down-blocks and the mid-block only."""
        x = x_in.detach().requires_grad_(True)
        handle = unet.mid_block.register_forward_hook(_stop, prepend=True)  # before any other hook
        try:
            with torch.enable_grad():
                try:
                    unet(x, t, encoder_hidden_states=cond, return_dict=False)
                    raise RuntimeError("the UNet's mid-block did not run")
                except _Stop as stop:
                    obj = self.objective(stop.h.float(), int(t))
                    return torch.autograd.grad(obj.sum(), x)[0].detach()
        finally:
            handle.remove()

    def noise_shift(self, g: torch.Tensor, x0: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """-strength * sigma * g, with g masked to the object (optional) and normalised to unit RMS."""
        if self.edit.guide.mask:
            g = g * object_mask(x0.float()).to(g)
        rms = g.flatten(1).norm(dim=1).view(-1, 1, 1, 1) / g[0].numel() ** 0.5
        s = torch.tensor(self.edit.strengths, dtype=g.dtype).view(-1, 1, 1, 1)
        return -s * sigma * g / (rms + 1e-8)  # (B, C, h, w)

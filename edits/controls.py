"""Controls for an edit: a random move of the same size, shaped like the space it moves in.

An edit's clean-edit rate means something only beside the rate of a move that knows nothing of the target
(edits/scores.py). Each control is scored exactly as the edit it stands beside:

- W space (`w_spread`, `random_w_move`): the edit's displacement of W+ replaced, per picture, by a random
  direction drawn from W's own spread (a Gaussian with the covariance of 10 000 sampled w), on the same style
  layers, scaled to the same norm. An isotropic direction would weigh the many directions W barely uses
  as much as those it does.
- h-space, guided move (`random_readouts`): the edit's readouts of the target attribute (the direction and
  its siblings, whose gradient the guided move follows) replaced by random ones of the same norm at each
  step, with zero biases; the preserve terms (`HEdit.keep`), the strength, the interval and the mask stay.
  The guided move normalises its gradient to unit RMS, so the move has the same size at every step.

A prompt has no random move of the same size: the conditioning column of edits/compare.py has no control.
"""
from __future__ import annotations

from dataclasses import replace

import torch


@torch.no_grad()
def w_spread(gan, n: int = 10_000, seed: int = 0) -> torch.Tensor:
    """A square root S (w_dim, w_dim) of the covariance of n sampled w: eps @ S is distributed like w - mean."""
    z = torch.randn(n, gan.generator.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    w = gan.generator.mapping(z).double()  # (n, w_dim)
    cov = torch.cov(w.T)  # (w_dim, w_dim)
    vals, vecs = torch.linalg.eigh(cov)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T  # symmetric square root, (w_dim, w_dim)


def random_w_move(delta: torch.Tensor, spread: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """delta (B, L, w_dim), an edit's displacement of W+, turned to random directions drawn from W's spread:
    per picture one direction, on the layers the edit moved, with the same norm over W+."""
    moved = (delta.abs().sum(-1, keepdim=True) > 0).to(delta)  # (B, L, 1)
    r = (torch.randn(delta.shape[0], delta.shape[-1], generator=gen, dtype=torch.float64) @ spread).to(delta)
    r = r[:, None, :] * moved  # (B, L, w_dim)
    scale = delta.flatten(1).norm(dim=1) / r.flatten(1).norm(dim=1).clamp_min(1e-12)  # (B,)
    return r * scale.view(-1, 1, 1)


def random_readouts(direction, siblings: list, gen: torch.Generator) -> tuple[object, list]:
    """Copies of an h-space direction and its siblings whose readouts are random: one Gaussian vector per
    class, scaled at each step to that class's own readout norm there; biases zero."""
    def shuffled(d):
        rv = d.readout_vectors.float()  # (T, *shape)
        v = torch.randn(rv.shape[1:], generator=gen)
        v = v / v.norm()
        norms = rv.flatten(1).norm(dim=1).view(-1, *([1] * (rv.dim() - 1)))  # (T, 1, ...)
        return replace(d, readout_vectors=norms * v, readout_biases=torch.zeros_like(d.readout_biases))

    return shuffled(direction), [shuffled(s) for s in siblings]

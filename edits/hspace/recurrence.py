"""Readout guidance with self-recurrence (Bansal et al. 2023, "Universal Guidance", §3.3).

A guided step (guided.py) moves x_t a little towards the target's readout and then denoises once; on a small
model the readout's gradient is noisy and one nudge per step is often undone by the next. Self-recurrence
repeats each guided step: after the step t -> t-1, x_{t-1} is noised back to t,
    x_t' = sqrt(abar_t / abar_{t-1}) x_{t-1} + sqrt(1 - abar_t / abar_{t-1}) eps,   eps ~ N(0, I)
(eps drawn from each image's own seeded generator, so an edit stays reproducible), and the guided step is
taken again from x_t', `Guide.recurrence` times in all. Each repetition lets the network redraw what the
nudge changed, as a fresh sample would, before the next nudge. Cost: that many guided steps per edited
step. An image of the batch at strength 0 keeps its first (plain) step, so strength 0 is still the
pipeline's picture, also inside a traversal's batch.
"""
from __future__ import annotations

import torch

from .guided import GuidedMove


def renoise(scheduler, t: int, x_prev: torch.Tensor, generators) -> torch.Tensor:
    """x_{t-1} (B, C, h, w) noised back to step t, one generator per image."""
    prev_t = t - scheduler.config.num_train_timesteps // scheduler.num_inference_steps
    a_t = scheduler.alphas_cumprod[t]
    a_prev = scheduler.alphas_cumprod[prev_t] if prev_t >= 0 else scheduler.final_alpha_cumprod
    ratio = (a_t / a_prev).to(x_prev.dtype)
    eps = torch.cat([torch.randn((1, *x_prev.shape[1:]), generator=g, dtype=x_prev.dtype) for g in generators])
    return ratio.sqrt() * x_prev + (1 - ratio).sqrt() * eps.to(x_prev.device)  # (B, C, h, w)


class RecurrentMove(GuidedMove):
    """The guided move, each of its steps taken `edit.guide.recurrence` times (`step` replaces the sampler's
    guided step)."""

    name = "recurrent"

    def step(self, run, t, latents: torch.Tensor, guided_step) -> torch.Tensor:
        first = x = guided_step(run, t, latents)
        for _ in range(max(int(self.edit.guide.recurrence), 1) - 1):
            x = guided_step(run, t, renoise(run.scheduler, int(t), x, run.generators))
        still = torch.tensor([float(s) == 0.0 for s in self.edit.strengths] * (x.shape[0] // len(self.edit.strengths)))
        return torch.where(still.view(-1, 1, 1, 1).to(x.device), first, x)

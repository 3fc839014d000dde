"""The sampling loop: diffusers' StableDiffusionPipeline step for step (so with no edit, or strength 0,
it gives exactly the pipeline's pixels), with an h-space edit on the steps of its interval.

Asymmetric mode (Kwon et al. 2023, "Asyrp"), for the moves that write to h: the edited prediction is used
only for the predicted-x0 term of the DDIM step, the unedited one for the direction term; both come from
one UNet pass, the batch being doubled after the mid-block.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..pipeline import (MAX_GUIDANCE, MAX_STEPS, DiffusionModel, InputError, check_number, check_prompt,
                        check_seed, make_generator)
from .edit import HEdit
from .hooks import Capture, Hooks, StepEdit
from .layout import h_layout, h_shape, pools
from .moves import make_move


@dataclass
class SampleResult:
    images: np.ndarray  # (B, H, W, 3) float32 in [0, 1]
    timesteps: list[int]
    h: list[torch.Tensor] = field(default_factory=list)  # per step: (B, D) flattened (pooled: D = C)
    h_uncond: list[torch.Tensor] = field(default_factory=list)


@dataclass
class _Run:
    """Everything one call fixes before the first step."""

    pipe: object
    scheduler: object
    embeds: torch.Tensor  # [uncond, cond] under classifier-free guidance, else cond
    cfg: bool
    guidance_scale: float
    generators: list
    steps: int
    hooks: Hooks
    edit: HEdit | None = None
    move: object = None

    @property
    def cond(self) -> torch.Tensor:
        return self.embeds[self.embeds.shape[0] // 2:] if self.cfg else self.embeds


def _as_eps(scheduler, t: int, x_t: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """The UNet's output as a noise prediction, whatever the scheduler's `prediction_type`."""
    a = scheduler.alphas_cumprod[t].to(x_t.dtype)
    kind = scheduler.config.prediction_type
    if kind == "v_prediction":
        return a.sqrt() * out + (1 - a).sqrt() * x_t
    if kind == "sample":
        return (x_t - a.sqrt() * out) / (1 - a).sqrt()
    return out


def _eps_shift_as_output(scheduler, t: int, shift: torch.Tensor) -> torch.Tensor:
    """How the UNet's output changes when its noise prediction changes by `shift` (x_t fixed)."""
    a = scheduler.alphas_cumprod[t].to(shift.dtype)
    kind = scheduler.config.prediction_type
    if kind == "v_prediction":
        return shift / a.sqrt()
    if kind == "sample":
        return -(1 - a).sqrt() / a.sqrt() * shift
    return shift


def _ddim_prev(scheduler, t: int, x0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """x_{t-1} = sqrt(a_prev) * x0 + sqrt(1 - a_prev) * eps (deterministic DDIM, eta = 0)."""
    prev_t = t - scheduler.config.num_train_timesteps // scheduler.num_inference_steps
    a_prev = scheduler.alphas_cumprod[prev_t] if prev_t >= 0 else scheduler.final_alpha_cumprod
    return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps


def _guide(eps: torch.Tensor, gs: float) -> torch.Tensor:
    """Classifier-free guidance on a [unconditional, conditional] batch, as the SD pipeline does it."""
    e_u, e_c = eps.chunk(2)
    return e_u + gs * (e_c - e_u)


def _predict(run: _Run, latents: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The (guided) UNet output, and the unedited one when the batch was doubled after the mid-block."""
    x_in = torch.cat([latents] * 2) if run.cfg else latents
    x_in = run.scheduler.scale_model_input(x_in, t)
    out = run.pipe.unet(x_in, t, encoder_hidden_states=run.embeds, return_dict=False)[0]
    orig = None
    if run.hooks.step is not None and run.hooks.step.double:
        out, orig = out.chunk(2)
        orig = _guide(orig, run.guidance_scale) if run.cfg else orig
    return (_guide(out, run.guidance_scale) if run.cfg else out), orig


def _ddim(run: _Run, t, latents: torch.Tensor, out: torch.Tensor, orig: torch.Tensor | None) -> torch.Tensor:
    """One DDIM step; with `orig`, its direction term comes from the unedited output (asymmetric)."""
    if orig is None:
        return run.scheduler.step(out, t, latents, eta=0.0, generator=run.generators, return_dict=False)[0]
    x0 = run.scheduler.step(out, t, latents, eta=0.0, generator=run.generators, return_dict=True).pred_original_sample
    return _ddim_prev(run.scheduler, int(t), x0, _as_eps(run.scheduler, int(t), latents, orig))


def _guided_step(run: _Run, t, latents: torch.Tensor) -> torch.Tensor:
    """The plain prediction, shifted along the readouts' gradient (see guided.py)."""
    out, _ = _predict(run, latents, t)
    sch, ti = run.scheduler, int(t)
    g = run.move.gradient(run.pipe.unet, sch.scale_model_input(latents, t), t, run.cond)  # (B, C, h, w)
    a = sch.alphas_cumprod[ti].to(latents.dtype)
    x0 = (latents - (1 - a).sqrt() * _as_eps(sch, ti, latents, out)) / a.sqrt()
    shifted = out + _eps_shift_as_output(sch, ti, run.move.noise_shift(g, x0, (1 - a).sqrt()))
    return _ddim(run, t, latents, shifted, out if run.edit.guide.apply == "x0" else None)


def _step(run: _Run, i: int, t, latents: torch.Tensor) -> torch.Tensor:
    active = run.edit is not None and run.edit.active(i / run.steps)
    if active and run.move.guides:
        run.hooks.step = None
        own = getattr(run.move, "step", None)  # a move that repeats the guided step (recurrence.py)
        return own(run, t, latents, _guided_step) if own else _guided_step(run, t, latents)
    run.hooks.step = StepEdit(run.move, int(t), run.edit.mode == "asymmetric") if active else None
    out, orig = _predict(run, latents, t)
    return _ddim(run, t, latents, out, orig)


def _checked(model, prompts, seeds, steps, guidance_scale):
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    seeds = [seeds] if np.isscalar(seeds) else list(seeds)
    if len(prompts) == 1 and len(seeds) > 1:
        prompts = prompts * len(seeds)
    if len(prompts) != len(seeds):
        raise InputError("Give one prompt per seed (or a single prompt for all).")
    steps = check_number(model.default_steps if steps is None else steps, "Steps", 1, MAX_STEPS, integer=True)
    gs = check_number(model.default_guidance if guidance_scale is None else guidance_scale,
                      "Guidance scale", 0.0, MAX_GUIDANCE)
    return [check_prompt(p) for p in prompts], [check_seed(s) for s in seeds], steps, gs


def _check_edit(model, edit: HEdit, batch: int, skip_levels: int) -> None:
    edit.check()
    if len(edit.strengths) not in (1, batch):
        raise InputError("Give one strength per image (or a single strength for all).")
    edit.direction.check_compatible(h_shape(model, skip_levels))


def _encode(pipe, prompts, negative_prompt, cfg, device) -> torch.Tensor:
    neg = [check_prompt(negative_prompt)] * len(prompts) if negative_prompt else None
    cond, uncond = pipe.encode_prompt(prompts, device, 1, cfg, neg)
    return torch.cat([uncond, cond]) if cfg else cond


def _decode(pipe, latents: torch.Tensor) -> np.ndarray:
    img = pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)[0]
    return pipe.image_processor.postprocess(img, output_type="np", do_denormalize=[True] * len(latents))


@torch.no_grad()
def sample(model: DiffusionModel, prompts: list[str] | str, seeds: list[int] | int, *,
           negative_prompt: str = "", num_inference_steps: int | None = None,
           guidance_scale: float | None = None, edit: HEdit | None = None, capture: bool = False,
           capture_uncond: bool = False, pool: bool | None = None, decode: bool = True,
           skip_levels: int | None = None, latents: torch.Tensor | None = None) -> SampleResult:
    """Sample a batch (one seed per image), optionally capturing and/or editing h at every step.

    `skip_levels` (default: what the edit's direction was fitted on, else 0) extends h with the skip
    tensors entering that many of the deepest up-blocks. `pool` (default: `layout.pools`, the one choice) captures
    h pooled to its channels. `latents` (B, C, h, w) replaces the seeds'
    starting noise (latent walks); the seeds are then only labels.
    """
    pipe = model.pipe
    prompts, seeds, steps, gs = _checked(model, prompts, seeds, num_inference_steps, guidance_scale)
    if skip_levels is None:
        skip_levels = int(edit.direction.meta.get("skip_levels", 0)) if edit is not None else 0
    layout = h_layout(model, skip_levels)
    if edit is not None:
        _check_edit(model, edit, len(seeds), skip_levels)
    device, cfg = pipe.unet.device, gs > 1.0 and pipe.unet.config.time_cond_proj_dim is None
    pool = pools(model, skip_levels) if pool is None else pool
    hooks = Hooks(pipe.unet, cfg, Capture(capture, capture_uncond, pool), skip_levels)
    scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)  # per call: no shared state
    with model.lock, hooks.installed():
        embeds = _encode(pipe, prompts, negative_prompt, cfg, device)
        scheduler.set_timesteps(steps, device=device)
        gens = [make_generator(s) for s in seeds]
        if latents is not None:
            latents = latents.to(device=device, dtype=embeds.dtype)
        latents = pipe.prepare_latents(len(seeds), pipe.unet.config.in_channels, model.resolution, model.resolution,
                                       embeds.dtype, device, gens, latents)  # (B, 4, h, w)
        run = _Run(pipe, scheduler, embeds, cfg, gs, gens, steps, hooks, edit,
                   None if edit is None else make_move(edit, layout, len(seeds)))
        for i, t in enumerate(scheduler.timesteps):
            latents = _step(run, i, t, latents)
        images = _decode(pipe, latents) if decode else np.zeros((len(seeds), 0, 0, 3), dtype=np.float32)
    return SampleResult(images=images, timesteps=[int(t) for t in scheduler.timesteps], h=hooks.h,
                        h_uncond=hooks.h_uncond)

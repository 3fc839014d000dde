"""h-space: capture and edit the UNet bottleneck (the mid-block output) while sampling.

    from edits.hspace import HEdit, sample
    out = sample(model, ["a large circle on a white background"] * 2, seeds=[7, 7],
                 edit=HEdit(direction, strengths=[0.0, 8.0]))        # original and edited
    out.images  # (2, H, W, 3) float in [0, 1]

The edit is a forward hook on `unet.mid_block` (any SD-family UNet), never a re-implemented
UNet forward. The sampling loop below mirrors diffusers' StableDiffusionPipeline step for step,
so with no edit (or strength 0) it gives exactly the pipeline's pixels.

Modes (Kwon et al. 2023, "Asyrp"):
- symmetric:  h_t <- h_t + a*d_t and the edited noise prediction is used for the whole DDIM step.
- asymmetric: the edited prediction is used only for the predicted-x0 term of the DDIM step and the
  unedited one for the direction term. Both predictions come from one UNet pass: after the
  mid-block the batch is doubled ([edited, unedited]), so the down-blocks and the mid-block run once.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from .pipeline import DiffusionModel, InputError, check_number, check_prompt, check_seed, make_generator

MODES = ("asymmetric", "symmetric")
MAX_STRENGTH = 100.0


@dataclass
class HEdit:
    """What to add to h: strength * scale_t * d_t on the steps in [start, end) (fractions of the schedule).

    `direction` is a `edits.directions.Direction` in h-space (one unit vector per fitted timestep,
    and the spread of h along it, `scale`, so that a strength is counted in standard deviations).
    `strengths` has one value per image of the batch.
    """

    direction: object
    strengths: list[float] | float = 1.0
    start: float = 0.0
    end: float = 0.6
    mode: str = "asymmetric"

    def check(self) -> "HEdit":
        if self.mode not in MODES:
            raise InputError(f"The mode must be one of {', '.join(MODES)}.")
        s = [self.strengths] if np.isscalar(self.strengths) else list(self.strengths)
        self.strengths = [check_number(v, "Strength", -MAX_STRENGTH, MAX_STRENGTH) for v in s]
        self.start = check_number(self.start, "The start of the edit interval", 0.0, 1.0)
        self.end = check_number(self.end, "The end of the edit interval", 0.0, 1.0)
        if self.end <= self.start:
            raise InputError("The edit interval is empty: its end must come after its start.")
        return self


@dataclass
class SampleResult:
    images: np.ndarray  # (B, H, W, 3) float32 in [0, 1]
    timesteps: list[int]
    h: list[torch.Tensor] = field(default_factory=list)  # per step: (B, C, H, W) or (B, C) if pooled
    h_uncond: list[torch.Tensor] = field(default_factory=list)


class _Hooks:
    """The forward hooks: capture h, add the edit, and (asymmetric) double the batch after the mid-block."""

    def __init__(self, unet):
        self.unet = unet
        self.capture = False
        self.capture_uncond = False
        self.pool = False
        self.cfg = False
        self.delta: torch.Tensor | None = None  # (B, C, H, W), added to each CFG half
        self.double = False
        self.h: list[torch.Tensor] = []
        self.h_uncond: list[torch.Tensor] = []

    def _mid(self, module, args, output):
        h = output  # (n*B, C, H, W), n = 2 under classifier-free guidance
        if self.capture:
            hh = h.float().mean(dim=(2, 3)) if self.pool else h.float()
            b = hh.shape[0] // 2 if self.cfg else hh.shape[0]
            self.h.append(hh[b:].cpu() if self.cfg else hh.cpu())  # the conditional half
            if self.capture_uncond and self.cfg:
                self.h_uncond.append(hh[:b].cpu())
        if self.delta is None:
            return None
        delta = self.delta.to(h.dtype)
        if self.cfg:
            delta = torch.cat([delta, delta])  # the latent code is shared by both halves
        edited = h + delta  # (n*B, C, H, W)
        return torch.cat([edited, h]) if self.double else edited

    def _up(self, module, args, kwargs):
        if not self.double:
            return None
        res = kwargs["res_hidden_states_tuple"]
        if kwargs["hidden_states"].shape[0] == res[0].shape[0]:
            return None
        kwargs["res_hidden_states_tuple"] = tuple(torch.cat([r, r]) for r in res)
        for k in ("temb", "encoder_hidden_states"):
            if kwargs.get(k) is not None:
                kwargs[k] = torch.cat([kwargs[k], kwargs[k]])
        return args, kwargs

    @contextmanager
    def installed(self):
        handles = [self.unet.mid_block.register_forward_hook(self._mid)]
        handles += [b.register_forward_pre_hook(self._up, with_kwargs=True) for b in self.unet.up_blocks]
        try:
            yield self
        finally:
            for hd in handles:
                hd.remove()


def h_shape(model: DiffusionModel) -> tuple[int, int, int]:
    """(C, H, W) of the mid-block output at the model's default resolution."""
    unet = model.pipe.unet
    c = unet.config.block_out_channels[-1]
    side = model.resolution // model.pipe.vae_scale_factor // 2 ** (len(unet.config.block_out_channels) - 1)
    return c, side, side


def _ddim_prev(scheduler, t: int, x0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """x_{t-1} = sqrt(a_prev) * x0 + sqrt(1 - a_prev) * eps (deterministic DDIM, eta = 0)."""
    prev_t = t - scheduler.config.num_train_timesteps // scheduler.num_inference_steps
    a_prev = scheduler.alphas_cumprod[prev_t] if prev_t >= 0 else scheduler.final_alpha_cumprod
    return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps


def _edit_delta(edit: HEdit, t: int, step_frac: float, batch: int, device, dtype) -> torch.Tensor | None:
    if not edit.start <= step_frac < edit.end or not any(edit.strengths):
        return None  # strength 0 is the plain sampler, exactly
    d, scale = edit.direction.at_timestep(t)  # (C, H, W) unit vector, float
    s = torch.tensor(edit.strengths, dtype=torch.float32).view(-1, 1, 1, 1) * scale  # (B, 1, 1, 1)
    if s.shape[0] == 1 and batch > 1:
        s = s.expand(batch, 1, 1, 1)
    return (s * d.float()).to(device=device, dtype=dtype)  # (B, C, H, W)


@torch.no_grad()
def sample(model: DiffusionModel, prompts: list[str] | str, seeds: list[int] | int, *,
           negative_prompt: str = "", num_inference_steps: int | None = None,
           guidance_scale: float | None = None, edit: HEdit | None = None, capture: bool = False,
           capture_uncond: bool = False, pool: bool | None = None, decode: bool = True) -> SampleResult:
    """Sample a batch (one seed per image), optionally capturing and/or editing h at every step."""
    pipe = model.pipe
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    seeds = [seeds] if np.isscalar(seeds) else list(seeds)
    if len(prompts) == 1 and len(seeds) > 1:
        prompts = prompts * len(seeds)
    if len(prompts) != len(seeds):
        raise InputError("Give one prompt per seed (or a single prompt for all).")
    prompts = [check_prompt(p) for p in prompts]
    seeds = [check_seed(s) for s in seeds]
    steps = check_number(model.default_steps if num_inference_steps is None else num_inference_steps,
                         "Steps", 1, 100, integer=True)
    gs = check_number(model.default_guidance if guidance_scale is None else guidance_scale,
                      "Guidance scale", 0.0, 30.0)
    if edit is not None:
        edit.check()
        if len(edit.strengths) not in (1, len(seeds)):
            raise InputError("Give one strength per image (or a single strength for all).")
        edit.direction.check_compatible(h_shape(model))
    batch, device = len(seeds), pipe.unet.device
    cfg = gs > 1.0 and pipe.unet.config.time_cond_proj_dim is None
    scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)  # per call: no shared state
    hooks = _Hooks(pipe.unet)
    hooks.capture, hooks.capture_uncond, hooks.cfg = capture, capture_uncond, cfg
    c, hh, ww = h_shape(model)
    hooks.pool = (c * hh * ww > 8192) if pool is None else pool

    with model.lock, hooks.installed():
        cond, uncond = pipe.encode_prompt(prompts, device, 1, cfg, [check_prompt(negative_prompt)] * batch
                                          if negative_prompt else None)
        embeds = torch.cat([uncond, cond]) if cfg else cond
        scheduler.set_timesteps(steps, device=device)
        timesteps = scheduler.timesteps
        gens = [make_generator(s) for s in seeds]
        latents = pipe.prepare_latents(batch, pipe.unet.config.in_channels, model.resolution, model.resolution,
                                       embeds.dtype, device, gens, None)  # (B, 4, h, w)
        for i, t in enumerate(timesteps):
            delta = None if edit is None else _edit_delta(edit, int(t), i / len(timesteps), batch,
                                                          device, embeds.dtype)
            asym = delta is not None and edit.mode == "asymmetric"
            hooks.delta, hooks.double = delta, asym
            x_in = torch.cat([latents] * 2) if cfg else latents
            x_in = scheduler.scale_model_input(x_in, t)
            eps = pipe.unet(x_in, t, encoder_hidden_states=embeds, return_dict=False)[0]
            if asym:
                eps, eps_orig = eps.chunk(2)
            if cfg:
                e_u, e_c = eps.chunk(2)
                eps = e_u + gs * (e_c - e_u)
            if asym:
                if cfg:
                    o_u, o_c = eps_orig.chunk(2)
                    eps_orig = o_u + gs * (o_c - o_u)
                x0 = scheduler.step(eps, t, latents, eta=0.0, generator=gens, return_dict=True).pred_original_sample
                latents = _ddim_prev(scheduler, int(t), x0, eps_orig)
            else:
                latents = scheduler.step(eps, t, latents, eta=0.0, generator=gens, return_dict=False)[0]
        images = np.zeros((batch, 0, 0, 3), dtype=np.float32)
        if decode:
            img = pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)[0]
            images = pipe.image_processor.postprocess(img, output_type="np", do_denormalize=[True] * batch)
    return SampleResult(images=images, timesteps=[int(t) for t in timesteps], h=hooks.h, h_uncond=hooks.h_uncond)


# ------------------------------------------------------------------ the default edit
# The strength, interval and mode that `python -m benchmarks hspace` measures and the tab starts at.
DEFAULT_EDIT = {"strength": 8.0, "start": 0.0, "end": 0.6, "mode": "asymmetric"}


def edit_pair(model: DiffusionModel, prompt: str, seed: int, direction, strength: float,
              start: float = DEFAULT_EDIT["start"], end: float = DEFAULT_EDIT["end"],
              mode: str = DEFAULT_EDIT["mode"], **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """(original, edited) for one seed; the original is exactly the plain pipeline's image."""
    plain = sample(model, prompt, seed, **kwargs).images[0]
    edited = sample(model, prompt, seed, edit=HEdit(direction, strength, start, end, mode), **kwargs).images[0]
    return plain, edited


def traversal(model: DiffusionModel, prompt: str, seed: int, direction, strength: float, frames: int = 7,
              start: float = DEFAULT_EDIT["start"], end: float = DEFAULT_EDIT["end"],
              mode: str = DEFAULT_EDIT["mode"], **kwargs) -> tuple[list[float], np.ndarray]:
    """`frames` images from -strength to +strength (one batch, the same seed)."""
    frames = int(check_number(frames, "Frames", 3, 15, integer=True))
    alphas = np.linspace(-abs(strength), abs(strength), frames).round(3).tolist()
    out = sample(model, prompt, [seed] * frames, edit=HEdit(direction, alphas, start, end, mode), **kwargs)
    return alphas, out.images

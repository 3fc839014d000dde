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

from .directions import can_swap, signed_shift, swap_shift
from .pipeline import (MAX_GUIDANCE, MAX_STEPS, DiffusionModel, InputError, check_number, check_prompt, check_seed,
                       make_generator)

MODES = ("asymmetric", "symmetric")
MOVES = ("land", "add", "swap")
MAX_STRENGTH = 100.0


@dataclass
class HEdit:
    """How to move h along d_t on the steps in [start, end) (fractions of the schedule).

    `direction` is a `edits.directions.Direction` in h-space (one unit vector per fitted timestep,
    the boundary's offset, and the spread of h along it, `scale`, so that a strength is counted in
    standard deviations). `strengths` has one value per image of the batch. `move`:
    - "land": h lands `strength` spreads on the target's side of that step's boundary, wherever it
      started (`edits.directions.signed_shift`, as in W-space); for a direction on the full mid-block
      output (not pooled, no skip tensors), else "add" is used;
    - "add": h <- h + strength * scale_t * d_t;
    - "swap": a class swap, as in W-space (`edits.wspace._swap_move`): at each step the direction's
      readout (and its `siblings'`, the attribute's other classes) tells which class h is in, and
      h <- h + strength * a_target - min(max(strength, 0), 1) * a_current, a_c being class c's offset
      from the mean of all samples at that step (the mean-difference normal times `class_offset`); for
      a direction on the full mid-block output with a readout, else "land" is used.
    """

    direction: object
    strengths: list[float] | float = 1.0
    start: float = 0.0
    end: float = 0.6
    mode: str = "asymmetric"
    move: str = "land"
    siblings: list = field(default_factory=list)  # the attribute's other classes, for "swap"

    @property
    def can_swap(self) -> bool:
        return can_swap([self.direction, *self.siblings])

    def check(self) -> "HEdit":
        if self.mode not in MODES:
            raise InputError(f"The mode must be one of {', '.join(MODES)}.")
        if self.move not in MOVES:
            raise InputError(f"The move must be one of {', '.join(MOVES)}.")
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
    h: list[torch.Tensor] = field(default_factory=list)  # per step: (B, D) flattened (pooled: D = C)
    h_uncond: list[torch.Tensor] = field(default_factory=list)


class _Hooks:
    """The forward hooks: capture h, add the edit, and (asymmetric) double the batch after the mid-block.

    With `skip_levels` = k > 0, "h" also includes the skip tensors entering the k deepest up-blocks
    (the features the UNet carries around its bottleneck), edited the same way.
    """

    def __init__(self, unet, skip_levels: int = 0):
        self.unet = unet
        self.skip_levels = skip_levels
        self.capture = False
        self.capture_uncond = False
        self.pool = False
        self.cfg = False
        self.delta: list[torch.Tensor] | None = None  # per part of the layout: (B, *shape)
        self.land = None  # or (normal (D,), bias, scale, strengths (B,)): the delta depends on h itself
        self.swap = None  # or (normals (K, D), offsets (K,), readout (K, D), readout bias (K,), strengths (B,))
        self.double = False
        self.h: list[torch.Tensor] = []
        self.h_uncond: list[torch.Tensor] = []
        self._parts: list[torch.Tensor] = []

    def _halves(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = x.float().mean(dim=(2, 3)) if self.pool else x.float()
        if not self.cfg:
            return x, None
        b = x.shape[0] // 2
        return x[b:], x[:b]  # (conditional, unconditional)

    def _store(self, x: torch.Tensor, last: bool) -> None:
        if self.capture:
            self._parts.append(x)
            if last:
                cond = torch.cat([self._halves(p)[0].flatten(1) for p in self._parts], 1).cpu()
                self.h.append(cond)
                if self.capture_uncond and self.cfg:
                    self.h_uncond.append(torch.cat([self._halves(p)[1].flatten(1) for p in self._parts], 1).cpu())
                self._parts = []

    def _add(self, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        d = d.to(x.dtype)
        return x + (torch.cat([d, d]) if self.cfg else d)  # the latent code is shared by both halves

    def _mid(self, module, args, output):
        h = output  # (n*B, C, H, W), n = 2 under classifier-free guidance
        self._store(h, last=self.skip_levels == 0)
        if self.delta is None:
            return None
        delta = self.delta[0]
        if self.swap is not None:
            hc = (h[h.shape[0] // 2:] if self.cfg else h).float().flatten(1)  # (B, D): the conditional half
            delta = swap_shift(hc, *(v.to(hc) for v in self.swap)).view_as(delta).to(h.dtype)
        elif self.land is not None:
            hc = (h[h.shape[0] // 2:] if self.cfg else h).float().flatten(1)  # (B, D): the conditional half, unpooled
            normal, bias, scale, strengths = (v.to(hc) if torch.is_tensor(v) else v for v in self.land)
            delta = (signed_shift(hc, normal, bias, scale, strengths)[:, None] * normal).view_as(delta).to(h.dtype)
        edited = self._add(h, delta)
        return torch.cat([edited, h]) if self.double else edited

    def _up(self, module, args, kwargs, level: int = 0):
        res = kwargs["res_hidden_states_tuple"]
        edit_here = level < self.skip_levels
        if edit_here:
            for j, r in enumerate(res):
                self._store(r, last=level == self.skip_levels - 1 and j == len(res) - 1)
        if self.delta is not None and edit_here:
            first = 1 + sum(len(self.unet.up_blocks[i].resnets) for i in range(level))
            edited = tuple(self._add(r, self.delta[first + j]) for j, r in enumerate(res))
        else:
            edited = res
        if self.double and kwargs["hidden_states"].shape[0] != res[0].shape[0]:
            kwargs["res_hidden_states_tuple"] = tuple(torch.cat([e, r]) for e, r in zip(edited, res))
            for k in ("temb", "encoder_hidden_states"):
                if kwargs.get(k) is not None:
                    kwargs[k] = torch.cat([kwargs[k], kwargs[k]])
        elif edit_here and self.delta is not None:
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


def _as_eps(scheduler, t: int, x_t: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """The UNet's output as a noise prediction, whatever the scheduler's `prediction_type`."""
    a = scheduler.alphas_cumprod[t].to(x_t.dtype)
    kind = scheduler.config.prediction_type
    if kind == "v_prediction":
        return a.sqrt() * out + (1 - a).sqrt() * x_t
    if kind == "sample":
        return (x_t - a.sqrt() * out) / (1 - a).sqrt()
    return out


def _ddim_prev(scheduler, t: int, x0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """x_{t-1} = sqrt(a_prev) * x0 + sqrt(1 - a_prev) * eps (deterministic DDIM, eta = 0)."""
    prev_t = t - scheduler.config.num_train_timesteps // scheduler.num_inference_steps
    a_prev = scheduler.alphas_cumprod[prev_t] if prev_t >= 0 else scheduler.final_alpha_cumprod
    return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps


def _guide(eps: torch.Tensor, gs: float) -> torch.Tensor:
    """Classifier-free guidance on a [unconditional, conditional] batch, as the SD pipeline does it."""
    e_u, e_c = eps.chunk(2)
    return e_u + gs * (e_c - e_u)


def _edit_delta(edit: HEdit, t: int, step_frac: float, batch: int, device, dtype,
                layout) -> list[torch.Tensor] | None:
    if not edit.start <= step_frac < edit.end or not any(edit.strengths):
        return None  # strength 0 is the plain sampler, exactly
    d, scale = edit.direction.at_timestep(t)  # unit vector, (C, H, W) or (D,)
    s = torch.tensor(edit.strengths, dtype=torch.float32).view(-1, 1) * scale  # (B, 1)
    if s.shape[0] == 1 and batch > 1:
        s = s.expand(batch, 1)
    flat = d.float().reshape(-1)
    if len(layout) == 1 and flat.numel() == layout[0][1][0]:  # a pooled direction: broadcast over space
        c, hh, ww = layout[0][1]
        flat = flat.view(c, 1, 1).expand(c, hh, ww).reshape(-1) / (hh * ww) ** 0.5
    out, i = [], 0
    for _, shape in layout:
        n = int(np.prod(shape))
        out.append((s * flat[i:i + n]).view(batch, *shape).to(device=device, dtype=dtype))  # (B, C, H, W)
        i += n
    return out


def _swapping(edit: HEdit, t: int, batch: int, layout) -> tuple | None:
    """(normals, offsets, readout, readout bias, strengths (B,)) for a "swap" edit on the full mid-block
    output, with readouts, else None."""
    d, _ = edit.direction.at_timestep(t)
    if edit.move != "swap" or not edit.can_swap or len(layout) != 1 or d.numel() != int(np.prod(layout[0][1])):
        return None
    classes = [edit.direction, *edit.siblings]
    i = [c.index_for(t) for c in classes]
    normals = torch.stack([c.vectors[j].float().reshape(-1) for c, j in zip(classes, i)])  # (K, D)
    offsets = torch.tensor([float(c.meta["class_offset"][j]) for c, j in zip(classes, i)])
    r = torch.stack([c.readout_vectors[j].float().reshape(-1) for c, j in zip(classes, i)])
    rb = torch.stack([c.readout_biases[j].float() for c, j in zip(classes, i)])
    s = torch.tensor(edit.strengths, dtype=torch.float32)
    return normals, offsets, r, rb, s.expand(batch) if s.numel() == 1 else s


def _landing(edit: HEdit, t: int, batch: int, layout) -> tuple | None:
    """(normal (D,), bias, scale, strengths (B,)) for a "land" edit on the full mid-block output (also a
    "swap" that cannot swap), else None."""
    d, scale = edit.direction.at_timestep(t)
    if edit.move == "add" or (edit.move == "swap" and edit.can_swap) or len(layout) != 1 \
            or d.numel() != int(np.prod(layout[0][1])):
        return None
    s = torch.tensor(edit.strengths, dtype=torch.float32)
    return d.float().reshape(-1), edit.direction.bias_at(t), scale, s.expand(batch) if s.numel() == 1 else s


@torch.no_grad()
def sample(model: DiffusionModel, prompts: list[str] | str, seeds: list[int] | int, *,
           negative_prompt: str = "", num_inference_steps: int | None = None,
           guidance_scale: float | None = None, edit: HEdit | None = None, capture: bool = False,
           capture_uncond: bool = False, pool: bool | None = None, decode: bool = True,
           skip_levels: int | None = None, latents: torch.Tensor | None = None) -> SampleResult:
    """Sample a batch (one seed per image), optionally capturing and/or editing h at every step.

    `skip_levels` (default: what the edit's direction was fitted on, else 0) extends h with the skip
    tensors entering that many of the deepest up-blocks. `latents` (B, C, h, w) replaces the seeds'
    starting noise (latent walks); the seeds are then only labels.
    """
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
                         "Steps", 1, MAX_STEPS, integer=True)
    gs = check_number(model.default_guidance if guidance_scale is None else guidance_scale,
                      "Guidance scale", 0.0, MAX_GUIDANCE)
    if skip_levels is None:
        skip_levels = int(edit.direction.meta.get("skip_levels", 0)) if edit is not None else 0
    layout = h_layout(model, skip_levels)
    if edit is not None:
        edit.check()
        if len(edit.strengths) not in (1, len(seeds)):
            raise InputError("Give one strength per image (or a single strength for all).")
        edit.direction.check_compatible(h_shape(model, skip_levels))
    batch, device = len(seeds), pipe.unet.device
    cfg = gs > 1.0 and pipe.unet.config.time_cond_proj_dim is None
    scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)  # per call: no shared state
    hooks = _Hooks(pipe.unet, skip_levels)
    hooks.capture, hooks.capture_uncond, hooks.cfg = capture, capture_uncond, cfg
    c, hh, ww = layout[0][1]
    hooks.pool = (c * hh * ww > 8192 and skip_levels == 0) if pool is None else pool

    with model.lock, hooks.installed():
        cond, uncond = pipe.encode_prompt(prompts, device, 1, cfg, [check_prompt(negative_prompt)] * batch
                                          if negative_prompt else None)
        embeds = torch.cat([uncond, cond]) if cfg else cond
        scheduler.set_timesteps(steps, device=device)
        timesteps = scheduler.timesteps
        gens = [make_generator(s) for s in seeds]
        if latents is not None:
            latents = latents.to(device=device, dtype=embeds.dtype)
        latents = pipe.prepare_latents(batch, pipe.unet.config.in_channels, model.resolution, model.resolution,
                                       embeds.dtype, device, gens, latents)  # (B, 4, h, w)
        for i, t in enumerate(timesteps):
            delta = None if edit is None else _edit_delta(edit, int(t), i / len(timesteps), batch,
                                                          device, embeds.dtype, layout)
            asym = delta is not None and edit.mode == "asymmetric"
            hooks.delta, hooks.double = delta, asym
            hooks.land = None if delta is None else _landing(edit, int(t), batch, layout)
            hooks.swap = None if delta is None else _swapping(edit, int(t), batch, layout)
            x_in = torch.cat([latents] * 2) if cfg else latents
            x_in = scheduler.scale_model_input(x_in, t)
            eps = pipe.unet(x_in, t, encoder_hidden_states=embeds, return_dict=False)[0]
            if asym:
                eps, eps_orig = eps.chunk(2)
            eps = _guide(eps, gs) if cfg else eps
            if asym:
                eps_orig = _guide(eps_orig, gs) if cfg else eps_orig
                x0 = scheduler.step(eps, t, latents, eta=0.0, generator=gens, return_dict=True).pred_original_sample
                latents = _ddim_prev(scheduler, int(t), x0, _as_eps(scheduler, int(t), latents, eps_orig))
            else:
                latents = scheduler.step(eps, t, latents, eta=0.0, generator=gens, return_dict=False)[0]
        images = np.zeros((batch, 0, 0, 3), dtype=np.float32)
        if decode:
            img = pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)[0]
            images = pipe.image_processor.postprocess(img, output_type="np", do_denormalize=[True] * batch)
    return SampleResult(images=images, timesteps=[int(t) for t in timesteps], h=hooks.h, h_uncond=hooks.h_uncond)


# ------------------------------------------------------------------ the default edit
# What `python -m benchmarks hspace` measures and the tab starts at.
DEFAULT_EDIT = {"strength": 1.0, "start": 0.0, "end": 0.6, "mode": "asymmetric", "move": "swap"}


def default_edit(direction, strengths: list[float] | float, siblings: list = ()) -> HEdit:
    """The default edit (interval, mode, move) at these strengths."""
    return HEdit(direction, strengths, **{k: v for k, v in DEFAULT_EDIT.items() if k != "strength"},
                 siblings=list(siblings))


def edit_pair(model: DiffusionModel, prompt: str, seed: int, direction, strength: float,
              start: float = DEFAULT_EDIT["start"], end: float = DEFAULT_EDIT["end"],
              mode: str = DEFAULT_EDIT["mode"], move: str = DEFAULT_EDIT["move"], siblings: list = (),
              **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """(original, edited) for one seed; the original is exactly the plain pipeline's image."""
    plain = sample(model, prompt, seed, **kwargs).images[0]
    edited = sample(model, prompt, seed, edit=HEdit(direction, strength, start, end, mode, move, list(siblings)),
                    **kwargs).images[0]
    return plain, edited


def traversal(model: DiffusionModel, prompt: str, seed: int, direction, strength: float, frames: int = 7,
              start: float = DEFAULT_EDIT["start"], end: float = DEFAULT_EDIT["end"],
              mode: str = DEFAULT_EDIT["mode"], move: str = DEFAULT_EDIT["move"], siblings: list = (),
              **kwargs) -> tuple[list[float], np.ndarray]:
    """`frames` images from -strength to +strength (one batch, the same seed)."""
    frames = int(check_number(frames, "Frames", 3, 15, integer=True))
    alphas = np.linspace(-abs(strength), abs(strength), frames).round(3).tolist()
    out = sample(model, prompt, [seed] * frames, edit=HEdit(direction, alphas, start, end, mode, move, list(siblings)),
                 **kwargs)
    return alphas, out.images


def starting_noise(model: DiffusionModel, seeds: list[int]) -> torch.Tensor:
    """The starting noise (B, C, h, w) that `sample` draws for these seeds (CPU generators)."""
    shape = (1, model.pipe.unet.config.in_channels, model.resolution // model.pipe.vae_scale_factor,
             model.resolution // model.pipe.vae_scale_factor)
    return torch.cat([torch.randn(shape, generator=make_generator(check_seed(s))) for s in seeds])

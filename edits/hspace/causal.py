"""Causal directions in h: fitted by the effect a move of h has on the picture, not by what h correlates with.

For a sample and a step t, the pullback of an attribute's class k to h is
    g_k = d log p(k | decode(x0(h))) / d h
where x0 is the step's predicted clean latent (classifier-free guidance included, the same delta added to
both halves of the mid-block's output as an edit adds it) and p a differentiable reader of the decoded
picture (`readers.py`: the palette for colour, the toy classifier for shape; never the judge). Averaged
over samples (each unit-normalised, and only over samples the reader does not already read as k), it is
the direction d_{t,k}: where a small move of h raises the class most, on average.

The edit (`CausalMove`) adds h <- h + strength * scale_t * d_{t,k} on the steps of its interval, through
Asyrp's asymmetric DDIM step (the edited noise prediction is used only for the predicted x0): no backward
pass at edit time, one UNet pass per step (the batch doubled after the mid-block). scale_t is the spread
(standard deviation) of the fitting samples' h along d_{t,k}, so a strength counts in those spreads.

The files (`h_causal_{attribute}_{class}.safetensors`) are `Direction`s of space "h-causal" (so that the
loaders of space "h" never mix them with the boundaries): their vectors are the d_{t,k}; `h_std` (T, *shape),
the per-step spread of h, is kept beside them for the random control of the same size.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..directions import Direction, DirectionError, load_directions
from ..pipeline import DiffusionModel, make_generator
from .layout import h_shape
from .moves import AddMove, _per_image
from .sampler import _as_eps, _checked, _decode, _encode, _guide

SPACE = "h-causal"
DEFAULT_STRENGTH = 64.0  # spreads of h along the direction (one strength measured so far: FINDINGS.md §8)


# ------------------------------------------------------------------ the pullback along a trajectory
@dataclass
class Pullback:
    """What `pullback` gathers on each step of its interval, for N samples and K classes."""

    classes: tuple[str, ...]
    timesteps: list[int]  # the steps gathered
    grads: np.ndarray  # (N, T, K, D): d log p(k) / d h
    log_probs: np.ndarray  # (N, T, K): the reader's reading of the predicted x0
    h: np.ndarray  # (N, T, D): the conditional half of h
    images: np.ndarray  # (N, H, W, 3) float in [0, 1]: the final pictures
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)


class _AddDelta:
    """A forward hook adding delta (B, C, H, W) to both halves of the mid-block output (as edits do)."""

    def __init__(self):
        self.delta = None

    def __call__(self, module, args, output):
        if self.delta is None:
            return None
        d = self.delta.to(output.dtype)
        n = output.shape[0] // d.shape[0]
        self.h = output.detach()
        return output + torch.cat([d] * n)


def _x0(scheduler, t: int, x_t: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    a = scheduler.alphas_cumprod[t].to(x_t.dtype)
    return (x_t - (1 - a).sqrt() * _as_eps(scheduler, t, x_t, out)) / a.sqrt()


def _jacobian(z: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """dz / d delta, (B, F, D), per image (the images of a batch do not interact): F backward passes, batched
    where autograd can vectorise them."""
    b, f = z.shape
    try:
        eye = torch.eye(f, dtype=z.dtype)[:, None, :].expand(-1, b, -1)  # (F, B, F)
        jac = torch.autograd.grad(z, delta, grad_outputs=eye, is_grads_batched=True, retain_graph=True)[0]
        return jac.flatten(2).transpose(0, 1)
    except RuntimeError:  # an op without a batching rule (some UNets): one pass per feature
        return torch.stack([torch.autograd.grad(z[:, i].sum(), delta, retain_graph=True)[0].flatten(1)
                            for i in range(f)], 1)


def _step_pullback(pipe, reader, scheduler, hook: _AddDelta, latents, t, embeds, cfg, gs):
    """One step: the (plain) UNet output, the per-class gradients (B, K, D), log p (B, K) and h (B, D)."""
    b = latents.shape[0]
    hook.delta = None
    with torch.enable_grad():
        hook.delta = torch.zeros(b, *hook.shape, dtype=latents.dtype, requires_grad=True)
        x_in = torch.cat([latents] * 2) if cfg else latents
        out = pipe.unet(scheduler.scale_model_input(x_in, t), t, encoder_hidden_states=embeds, return_dict=False)[0]
        out = _guide(out, gs) if cfg else out
        x0 = _x0(scheduler, int(t), latents, out)
        img = pipe.vae.decode(x0 / pipe.vae.config.scaling_factor, return_dict=False)[0]  # (B, 3, H, W)
        z = reader.features(img)  # (B, F)
        jac = _jacobian(z, hook.delta)  # (B, F, D)
        zz = z.detach().requires_grad_(True)
        lp = reader.log_probs(zz)  # (B, K)
        dlp = torch.stack([torch.autograd.grad(lp[:, k].sum(), zz, retain_graph=True)[0]
                           for k in range(lp.shape[1])], 1)  # (B, K, F)
    hc = hook.h[hook.h.shape[0] - b:].flatten(1).float()  # the conditional half (B, D)
    hook.delta = None
    return out.detach(), torch.einsum("bkf,bfd->bkd", dlp, jac), lp.detach(), hc


@torch.no_grad()
def pullback(model: DiffusionModel, prompts: list[str], seeds: list[int], reader, *, start: float = 0.0,
             end: float = 1.0, num_inference_steps: int | None = None, guidance_scale: float | None = None,
             batch_size: int = 8, every: int = 1) -> Pullback:
    """Sample every seed along its plain trajectory, gathering, on every `every`-th step in [start, end), the
    gradient of each class's log p(class | decoded x0) with respect to h (`reader` decides the classes). A
    sample's pullback changes slowly from step to step (cosine 0.93 between neighbours on the embedded model),
    so `every` = 2 halves the cost and loses little; an edit uses the nearest gathered step."""
    t0 = time.perf_counter()
    pipe = model.pipe
    prompts, seeds, steps, gs = _checked(model, prompts, seeds, num_inference_steps, guidance_scale)
    cfg = gs > 1.0 and pipe.unet.config.time_cond_proj_dim is None
    hook = _AddDelta()
    hook.shape = h_shape(model)
    grads, lps, hs, images, kept_ts = [], [], [], [], None
    handle = pipe.unet.mid_block.register_forward_hook(hook)
    try:
        with model.lock:
            for i0 in range(0, len(seeds), batch_size):
                ps, ss = prompts[i0:i0 + batch_size], seeds[i0:i0 + batch_size]
                scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
                scheduler.set_timesteps(steps, device=pipe.unet.device)
                embeds = _encode(pipe, ps, "", cfg, pipe.unet.device)
                gens = [make_generator(s) for s in ss]
                latents = pipe.prepare_latents(len(ss), pipe.unet.config.in_channels, model.resolution,
                                               model.resolution, embeds.dtype, pipe.unet.device, gens, None)
                g_b, lp_b, h_b, ts = [], [], [], []
                first = next((i for i in range(steps) if start <= i / steps), 0)
                for i, t in enumerate(scheduler.timesteps):
                    if start <= i / steps < end and (i - first) % every == 0:
                        out, g, lp, hc = _step_pullback(pipe, reader, scheduler, hook, latents, t, embeds, cfg, gs)
                        g_b.append(g.numpy()), lp_b.append(lp.numpy()), h_b.append(hc.numpy()), ts.append(int(t))
                    else:
                        x_in = torch.cat([latents] * 2) if cfg else latents
                        out = pipe.unet(x_in, t, encoder_hidden_states=embeds, return_dict=False)[0]
                        out = _guide(out, gs) if cfg else out
                    latents = scheduler.step(out, t, latents, eta=0.0, return_dict=False)[0]
                images.append(_decode(pipe, latents))
                grads.append(np.stack(g_b, 1)), lps.append(np.stack(lp_b, 1)), hs.append(np.stack(h_b, 1))
                kept_ts = ts
    finally:
        handle.remove()
    return Pullback(tuple(reader.classes), kept_ts, np.concatenate(grads), np.concatenate(lps), np.concatenate(hs),
                    np.concatenate(images), time.perf_counter() - t0)


# ------------------------------------------------------------------ fitting
def fit_causal(pb: Pullback, attribute: str, model_name: str, reader_name: str, shape: tuple[int, ...],
               classes: list[str] | None = None, prompt: str = "", seed: int = 0) -> dict[str, Direction]:
    """One direction per class from a `Pullback`: per step, the mean of the unit-normalised gradients of
    log p(class) over the samples whose reader does not already give the class p >= 0.5 (over all of them where
    fewer than two are left), renormalised.

    meta["split_half"]: per step, the cosine between the directions fitted on two random halves of the samples
    (how much of the direction is signal rather than sample noise); meta["alignment"]: per step, the mean cosine
    of the direction with each counted sample's own gradient (what share of a sample's pullback it follows)."""
    n, steps, _, dims = pb.grads.shape
    rng = np.random.default_rng(seed)
    half = rng.permutation(n) < n // 2
    unit = pb.grads / np.maximum(np.linalg.norm(pb.grads, axis=-1, keepdims=True), 1e-12)  # (N, T, K, D)
    h_std = pb.h.std(0)  # (T, D)
    out = {}
    for k, c in enumerate(pb.classes):
        if classes is not None and c not in classes:
            continue
        vec, scale, split, align, counted = [], [], [], [], []
        for t in range(steps):
            sel = np.exp(pb.log_probs[:, t, k]) < 0.5  # (N,) samples not already read as c
            if sel.sum() < 2:  # (nearly) every sample reads as c already: all of them vote
                sel = np.ones(n, dtype=bool)
            d = unit[sel, t, k].mean(0)
            d = d / max(float(np.linalg.norm(d)), 1e-12)
            a, b = unit[sel & half, t, k].mean(0), unit[sel & ~half, t, k].mean(0)
            split.append(float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)))
            align.append(float((unit[sel, t, k] @ d).mean()))
            vec.append(d), scale.append(float((pb.h[:, t] @ d).std()) or 1.0), counted.append(int(sel.sum()))
        meta = {"space": SPACE, "model": model_name, "attribute": attribute, "class": c, "timesteps": pb.timesteps,
                "samples": n, "reader": reader_name, "labeller": reader_name, "prompt": prompt,
                "method": "causal (mean pullback of the reader's log p to h)", "edits": "unet.mid_block output",
                "skip_levels": 0, "counted": counted, "split_half": [round(v, 4) for v in split],
                "alignment": [round(v, 4) for v in align], "fit_seconds": round(pb.seconds, 1), **pb.meta}
        d = Direction(torch.from_numpy(np.stack(vec)).float().reshape(steps, *shape), torch.tensor(scale),
                      torch.zeros(steps), meta)
        d.h_std = torch.from_numpy(h_std).float().reshape(steps, *shape)
        out[c] = d
    return out


def save_causal(d: Direction, folder, stem: str) -> Path:
    """`Direction.save_in`, plus the per-step spread of h (`h_std`, the random control's shape) in the same file."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = d.save_in(folder, stem)
    if getattr(d, "h_std", None) is not None:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata()
        save_file({**load_file(str(path)), "h_std": d.h_std.contiguous().float()}, str(path), metadata=header)
    return path


def load_causal(folder) -> dict[str, Direction]:
    """The causal directions in a folder (files of space "h-causal"), keyed 'attribute: class', each with its
    `h_std` (None when the file has none)."""
    from safetensors import safe_open

    out = {}
    for path in sorted(Path(folder).glob("*.safetensors")):
        d = Direction.load(path)
        if d.meta.get("space") != SPACE:
            continue
        with safe_open(str(path), framework="pt") as f:
            h_std = f.get_tensor("h_std").float() if "h_std" in f.keys() else None
        d.h_std = h_std if h_std is not None and h_std.shape == d.vectors.shape else None
        out[d.label] = d
    return out


@lru_cache(maxsize=4)
def _shipped(folder: str) -> dict[str, Direction]:
    return load_causal(folder) if Path(folder).is_dir() else {}


def causal_for(direction: Direction, folder=None) -> Direction | None:
    """The causal direction of the same model, attribute and class as an h-space `direction` (itself when it is
    one), from `folder` (default: the shipped directions), or None."""
    if direction.meta.get("space") == SPACE:
        return direction
    from toyworld.settings import DIRECTIONS

    found = _shipped(str(folder or DIRECTIONS)).get(direction.label)
    if found is None or found.meta.get("model") != direction.meta.get("model") or found.shape != direction.shape:
        return None
    return found


# ------------------------------------------------------------------ the edit and its control
class CausalMove(AddMove):
    """h <- h + strength * scale_t * d_t along the causal direction (asymmetric: see `HEdit.mode`)."""

    name = "causal"


def make_causal_move(edit, layout, batch: int):
    """The causal move for an edit whose direction is a causal direction or has one shipped beside it; else
    the guided move (the documented fallback, as swap falls back to land)."""
    causal = causal_for(edit.direction)
    if causal is None:
        from .edit import can_read
        from .guided import GuidedMove

        if can_read(edit.direction, edit.siblings):
            return GuidedMove(edit, batch)
        raise DirectionError(f"There is no causal direction for {edit.direction.label!r} (and no readout to guide "
                             "by instead): fit one with `python -m edits.hspace.causal`.")
    return CausalMove(replace(edit, direction=causal), layout, batch)


def random_like(causal: Direction, generator: torch.Generator) -> Direction:
    """The control of a causal direction: at each step a random unit direction drawn from h's own spread
    there (a Gaussian with the per-dimension standard deviation `h_std`; isotropic when there is none), with
    the same scales, so that the same strength moves h by the same norm."""
    std = causal.h_std if getattr(causal, "h_std", None) is not None else torch.ones_like(causal.vectors)
    r = torch.randn(causal.vectors.shape, generator=generator) * std  # (T, *shape)
    r = r / r.flatten(1).norm(dim=1).view(-1, *([1] * (r.dim() - 1)))
    out = replace(causal, vectors=r, meta={**causal.meta, "control": "random direction shaped like h's spread"})
    out.h_std = getattr(causal, "h_std", None)
    return out


# ------------------------------------------------------------------ the command line
TEMPLATES = {"colour": "a {size} {shape} on a {background} background",  # the attribute left unsaid
             "shape": "a {size} {colour} shape on a {background} background"}


def fit_attribute(model: DiffusionModel, attribute: str, samples: int, first_seed: int, start: float = 0.2,
                  end: float = 0.8, reader=None, batch_size: int = 8, every: int = 2) -> dict[str, Direction]:
    """Causal directions for every class of `attribute`, from `samples` prompts that leave it unsaid."""
    from ..fit import fill_template
    from .readers import make_reader

    reader = reader or make_reader(attribute)
    template = TEMPLATES[attribute]
    seeds = list(range(first_seed, first_seed + samples))
    pb = pullback(model, [fill_template(template, s) for s in seeds], seeds, reader, start=start, end=end,
                  batch_size=batch_size, every=every)
    pb.meta = {"interval": [start, end], "every": every, "first_seed": first_seed}
    name = "embedded:toy-diffusion" if model.is_embedded else str(model.name)
    return fit_causal(pb, attribute, name, reader.name, h_shape(model), prompt=template)


def main(argv=None) -> None:
    """python -m edits.hspace.causal --attribute colour --samples 24 --out assets/directions"""
    import argparse

    from ..pipeline import load_diffusion

    p = argparse.ArgumentParser(prog="python -m edits.hspace.causal", description=main.__doc__)
    p.add_argument("--attribute", default="colour", choices=sorted(TEMPLATES))
    p.add_argument("--samples", type=int, default=24)
    p.add_argument("--first-seed", type=int, default=400_000)
    p.add_argument("--start", type=float, default=0.2)
    p.add_argument("--end", type=float, default=0.8)
    p.add_argument("--every", type=int, default=2, help="gather every this many steps of the interval")
    p.add_argument("--model", default=None, help="diffusers folder (default: the embedded model)")
    p.add_argument("--out", required=True, help="folder for h_causal_{attribute}_{class}.safetensors (+ .json)")
    a = p.parse_args(argv)
    model = load_diffusion(a.model, device="cpu")
    dirs = fit_attribute(model, a.attribute, a.samples, a.first_seed, a.start, a.end, every=a.every)
    for c, d in dirs.items():
        path = save_causal(d, a.out, f"h_causal_{a.attribute}_{c}")
        print(f"{path.name}: split-half {np.mean(d.meta['split_half']):.2f}, {d.meta['fit_seconds']} s to fit")


if __name__ == "__main__":
    main()

"""Latent walks: frames along a path in a latent space, written as an animated GIF and an MP4.

    frames = diffusion_walk(model, "a large circle on a white background", 7, 8, frames=12)
    frames = gan_walk(gan, 7, 8, frames=24)
    frames = direction_walk(gan, w_dirs, "colour", "blue", 3.0, 12, seed=7, picture=start)  # start: (64, 64, 3) uint8
    write_gif(frames, "walk.gif"); write_mp4(frames, "walk.mp4")

Between two seeds, the diffusion model's starting noise is interpolated on the sphere (slerp keeps the
noise's norm, so every frame is a plausible starting point) under a fixed prompt; the StyleGAN's w is
interpolated on a line (W is where StyleGAN interpolates well). Along a direction, the edit's strength
goes from -strength to +strength: in h-space from the prompt's picture at the seed (its frame at strength 0),
in W from a `picture` brought into W by the GAN's encoder (the app passes the same prompt's picture, so that
both walks start from one picture), else from the seed's own code.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .pipeline import InputError, check_name, check_number, check_seed, to_uint8
from .wspace import DEFAULT_PSI
from .zerogpu import BATCH, W_EDIT, gpu

MAX_FRAMES = 48
MIN_SIDE = 256  # small frames are enlarged (nearest neighbour) to at least this many pixels


def check_frames(n) -> int:
    try:
        return int(check_number(n, "The number of frames", 2, MAX_FRAMES, integer=True))
    except InputError:
        raise InputError(f"A walk needs between 2 and {MAX_FRAMES} frames.") from None


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation of the flattened tensors (linear when they are nearly parallel)."""
    fa, fb = a.reshape(-1).double(), b.reshape(-1).double()
    cos = torch.clamp(fa @ fb / (fa.norm() * fb.norm()).clamp_min(1e-12), -1.0, 1.0)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:
        return lerp(a, b, t)
    s = torch.sin(omega)
    out = torch.sin((1 - t) * omega) / s * fa + torch.sin(t * omega) / s * fb
    return out.reshape(a.shape).to(a.dtype)


# ------------------------------------------------------------------ frames
@gpu(BATCH)
def diffusion_walk(model, prompt: str, seed_a, seed_b, frames: int, **kwargs) -> list[np.ndarray]:
    """Slerp between two seeds' starting noise under one prompt (one batch)."""
    from .hspace import sample, starting_noise

    a, b = check_seed(seed_a), check_seed(seed_b)
    if a == b:
        raise InputError("Choose two different seeds to walk between.")
    n = check_frames(frames)
    na, nb = starting_noise(model, [a, b])
    noise = torch.stack([slerp(na, nb, t) for t in np.linspace(0, 1, n)])  # (n, C, h, w)
    return list(to_uint8(sample(model, prompt, [a] * n, latents=noise, **kwargs).images))


@gpu(W_EDIT)
def gan_walk(gan, seed_a, seed_b, frames: int, truncation_psi: float = DEFAULT_PSI) -> list[np.ndarray]:
    """Linear interpolation of w between two seeds."""
    a, b = check_seed(seed_a), check_seed(seed_b)
    if a == b:
        raise InputError("Choose two different seeds to walk between.")
    n = check_frames(frames)
    psi = check_number(truncation_psi, "Truncation ψ", 0.0, 1.5)
    wa, wb = gan.w_from_seeds([a, b], psi)
    return list(gan.render(torch.stack([lerp(wa, wb, float(t)) for t in np.linspace(0, 1, n)])))


@gpu(BATCH)
def direction_walk(model, directions: dict, attribute: str, target: str, strength: float, frames: int,
                   seed, prompt: str = "", space: str | None = None, picture: np.ndarray | None = None,
                   **kwargs) -> list[np.ndarray]:
    """From -strength to +strength along a fitted direction: `space` "h" (a diffusion model; `kwargs`, such
    as num_inference_steps, guidance_scale and negative_prompt, go to its sampling) or "w" (a GAN, from
    `picture` (H, W, 3) uint8 brought into W when given, else from the seed's code); by default the
    directions' own space."""
    n = check_frames(frames)
    attribute, target = check_name(attribute, "attribute"), check_name(target, "target")
    key = f"{attribute}: {target}"
    if space not in (None, "h", "w"):
        raise InputError(f"A direction walk is in h-space or in W, not {str(space)[:20]!r}.")
    d = directions.get(key)
    if d is None:
        from .directions import HOW_TO_FIT

        raise InputError(f"There is no direction for {key!r}. Known: {', '.join(sorted(directions)) or 'none'}."
                         + (f" {HOW_TO_FIT[space]}" if space else ""))
    strength = check_number(strength, "The strength", 0.0, 100.0)
    space = space or d.meta.get("space", "h")
    if space not in ("h", "w"):
        raise InputError(f"A direction walk is in h-space or in W, not {str(space)[:20]!r}.")
    if space == "w":
        from .wspace import apply_edits, invert, make_edit

        w = invert(model, picture) if picture is not None else model.w_from_seed(check_seed(seed))
        return list(model.render(torch.cat([apply_edits(model, w, [make_edit(directions, attribute, target, float(s))])
                                            for s in np.linspace(-strength, strength, n)])))
    from .directions import others_of, siblings_of
    from .hspace import default_edit, sample

    s = check_seed(seed)
    edit = default_edit(d, list(np.linspace(-strength, strength, n)), siblings_of(directions, d),
                        others_of(directions, d))
    return list(to_uint8(sample(model, prompt, [s] * n, edit=edit, **kwargs).images))


# ------------------------------------------------------------------ files
def _prepare(frames) -> list[np.ndarray]:
    if len(frames) < 2:
        raise InputError(f"A walk needs between 2 and {MAX_FRAMES} frames.")
    arr = [np.asarray(f) for f in frames]
    if any(f.shape != arr[0].shape or f.ndim != 3 or f.shape[2] != 3 for f in arr):
        raise InputError("All frames of a walk must be RGB images of the same size.")
    h, w = arr[0].shape[:2]
    k = max(1, -(-MIN_SIDE // min(h, w)))  # integer enlargement, nearest neighbour
    out = []
    for f in arr:
        f = np.repeat(np.repeat(f.astype(np.uint8), k, 0), k, 1)
        f = np.pad(f, ((0, f.shape[0] % 2), (0, f.shape[1] % 2), (0, 0)), mode="edge")  # even sides for H.264
        out.append(np.ascontiguousarray(f))
    return out


def write_gif(frames, path, fps: int = 8) -> Path:
    from PIL import Image

    fps = check_number(fps, "Frames per second", 1, 60, integer=True)
    path = Path(path)
    ims = [Image.fromarray(f) for f in _prepare(frames)]
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=int(round(1000 / fps)), loop=0,
                optimize=False, disposal=1)
    return path


def write_mp4(frames, path, fps: int = 8) -> Path:
    """H.264 in yuv420p (plays in browsers), through the ffmpeg binary bundled with imageio-ffmpeg."""
    import imageio_ffmpeg

    fps = check_number(fps, "Frames per second", 1, 60, integer=True)
    path = Path(path)
    fr = _prepare(frames)
    h, w = fr[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         macro_block_size=1, quality=8, ffmpeg_log_level="error")
    writer.send(None)  # start the encoder
    for f in fr:
        writer.send(f)
    writer.close()
    return path

"""Load any Stable-Diffusion-family text-to-image pipeline and sample from it, seeded.

    from edits.pipeline import load_diffusion
    model = load_diffusion("assets/toy-diffusion")           # or "stabilityai/sd-turbo"
    image = model.generate("a large red circle on a white background", seed=7)

The embedded toy model and a Hub model go through exactly the same code. Device and dtype
are chosen automatically (CUDA + fp16 when present, CPU + fp32 otherwise); the seed drives a
CPU `torch.Generator`, so one seed gives the same image on every run and machine type.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from toyworld.settings import EMBEDDED_DIFFUSION, MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_SEED, MAX_STEPS  # noqa: F401


class InputError(ValueError):
    """Bad user input, with a message meant for the person who typed it."""


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message is one plain sentence."""


# ------------------------------------------------------------ input checks
def check_seed(seed) -> int:
    try:
        value = float(seed)
    except (TypeError, ValueError):
        raise InputError(f"The seed must be a whole number, not {str(seed)[:40]!r}.") from None
    if not math.isfinite(value) or value != int(value):
        raise InputError("The seed must be a whole number.")
    if not 0 <= value <= MAX_SEED:
        raise InputError(f"The seed must be between 0 and {MAX_SEED}.")
    return int(value)


def check_prompt(prompt, what: str = "prompt") -> str:
    if prompt is None:
        return ""
    if not isinstance(prompt, str):
        raise InputError(f"The {what} must be text.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InputError(f"The {what} is {len(prompt)} characters long; please keep it under {MAX_PROMPT_CHARS}.")
    return prompt.strip()


def check_number(value, name: str, low: float, high: float, integer: bool = False) -> float | int:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number.") from None
    if not math.isfinite(v):
        raise InputError(f"{name} must be a finite number.")
    if not low <= v <= high:
        raise InputError(f"{name} must be between {low:g} and {high:g} (got {v:g}).")
    if integer:
        if v != int(v):
            raise InputError(f"{name} must be a whole number.")
        return int(v)
    return v


def to_uint8(images):
    """Float images in [0, 1] (any shape) to uint8, rounded and clipped."""
    import numpy as np

    return np.clip(np.round(np.asarray(images) * 255.0), 0, 255).astype(np.uint8)


def make_generator(seed: int) -> torch.Generator:
    """A CPU generator: the same seed gives the same starting noise on any device."""
    return torch.Generator("cpu").manual_seed(int(seed))


def pick_device(device: str | None = None) -> tuple[torch.device, torch.dtype]:
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    return dev, (torch.float16 if dev.type == "cuda" else torch.float32)


# ------------------------------------------------------------ the model wrapper
@dataclass
class DiffusionModel:
    """A loaded pipeline, its name, and a lock so that one sampling runs at a time."""

    pipe: object
    name: str
    default_steps: int = 25
    default_guidance: float = 5.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def device(self) -> torch.device:
        return self.pipe.unet.device

    @property
    def resolution(self) -> int:
        return int(self.pipe.unet.config.sample_size) * int(self.pipe.vae_scale_factor)

    @property
    def is_embedded(self) -> bool:
        return Path(self.name).resolve() == EMBEDDED_DIFFUSION.resolve()

    def check(self, prompt, negative_prompt, seed, num_inference_steps, guidance_scale) -> dict:
        """Validated, normalised arguments, or an InputError that says what is wrong."""
        return dict(
            prompt=check_prompt(prompt),
            negative_prompt=check_prompt(negative_prompt, "negative prompt"),
            seed=check_seed(seed),
            num_inference_steps=check_number(num_inference_steps, "Steps", 1, MAX_STEPS, integer=True),
            guidance_scale=check_number(guidance_scale, "Guidance scale", 0.0, MAX_GUIDANCE),
        )

    @torch.no_grad()
    def generate(self, prompt: str = "", negative_prompt: str = "", seed: int = 0,
                 num_inference_steps: int | None = None, guidance_scale: float | None = None,
                 output_type: str = "pil", **kwargs):
        """One image for one seed. Extra keyword arguments go to the diffusers pipeline."""
        a = self.check(prompt, negative_prompt, seed,
                       self.default_steps if num_inference_steps is None else num_inference_steps,
                       self.default_guidance if guidance_scale is None else guidance_scale)
        with self.lock:
            out = self.pipe(
                prompt=a["prompt"], negative_prompt=a["negative_prompt"] or None,
                num_inference_steps=a["num_inference_steps"], guidance_scale=a["guidance_scale"],
                generator=make_generator(a["seed"]), height=self.resolution, width=self.resolution,
                output_type=output_type, **kwargs,
            )
        return out.images[0]

    @torch.no_grad()
    def generate_batch(self, prompts: list[str], seeds: list[int], num_inference_steps: int | None = None,
                       guidance_scale: float | None = None, output_type: str = "np", **kwargs):
        """A batch, one seed per image; image i equals `generate(prompts[i], seed=seeds[i])`.

        The starting noise of each image is drawn from its own seed's generator, so
        batching never changes an image.
        """
        steps = self.default_steps if num_inference_steps is None else num_inference_steps
        gs = self.default_guidance if guidance_scale is None else guidance_scale
        gens = [make_generator(check_seed(s)) for s in seeds]
        with self.lock:
            out = self.pipe(prompt=[check_prompt(p) for p in prompts], num_inference_steps=steps,
                            guidance_scale=gs, generator=gens, height=self.resolution,
                            width=self.resolution, output_type=output_type, **kwargs)
        return out.images


def load_diffusion(source: str | Path | None = None, device: str | None = None,
                   dtype: torch.dtype | None = None) -> DiffusionModel:
    """Load an SD-family text-to-image pipeline from a local folder or a Hub id.

    Raises ModelLoadError with one sentence when it cannot (offline, unknown id, corrupt folder).
    """
    from diffusers import DDIMScheduler, DiffusionPipeline
    from diffusers.utils import logging as dlogging

    source = str(source or EMBEDDED_DIFFUSION)
    dev, auto_dtype = pick_device(device)
    local = Path(source).expanduser()
    if local.exists() and not (local / "model_index.json").is_file():
        raise ModelLoadError(f"{source} is a folder but not a diffusers pipeline (it has no model_index.json).")
    if not local.exists() and (source.startswith((".", "/", "~")) or source.count("/") != 1):
        raise ModelLoadError(f"There is no folder {source!r}, and it is not a Hub id of the form 'owner/name'.")
    from transformers.utils import logging as tlogging

    previous = dlogging.get_verbosity()
    dlogging.set_verbosity_error()
    dlogging.disable_progress_bar()
    tlogging.disable_progress_bar()
    try:
        pipe = DiffusionPipeline.from_pretrained(str(local) if local.exists() else source,
                                                 dtype=dtype or auto_dtype, safety_checker=None,
                                                 requires_safety_checker=False)
    except Exception as e:  # diffusers raises many types: OSError, ValueError, EnvironmentError, ...
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        where = "folder" if local.exists() else "Hub model"
        raise ModelLoadError(f"Could not load the {where} {source!r}: {first}") from None
    finally:
        dlogging.set_verbosity(previous)
        dlogging.enable_progress_bar()
        tlogging.enable_progress_bar()
    missing = [c for c in ("unet", "vae", "text_encoder", "tokenizer", "scheduler") if getattr(pipe, c, None) is None]
    if missing:
        raise ModelLoadError(f"{source!r} is not a Stable-Diffusion-style text-to-image pipeline "
                             f"(it lacks {', '.join(missing)}).")
    # DDIM everywhere: deterministic given the seed, and the h-space asymmetric step needs it.
    if not isinstance(pipe.scheduler, DDIMScheduler):
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe = pipe.to(dev)
    pipe.set_progress_bar_config(disable=True)
    model = DiffusionModel(pipe=pipe, name=source)
    if "turbo" in source.lower():
        model.default_steps, model.default_guidance = 4, 0.0
    return model


def load_hspace_diffusion(source: str | Path | None = None, main: DiffusionModel | None = None,
                          device: str | None = None) -> DiffusionModel:
    """The model whose h-space the edits move: `source` if given, else the main model itself (the one behind
    `generate`, so that an unedited h-space image is the Imagination image), else the embedded default."""
    if source is not None:
        return load_diffusion(source, device=device)
    return main or load_diffusion(None, device=device)

"""Load any Stable-Diffusion-family text-to-image pipeline and sample from it, seeded.

    from edits.pipeline import load_diffusion
    model = load_diffusion("assets/toy-diffusion")           # or "stabilityai/sd-turbo"
    image = model.generate("a large red circle on a white background", seed=7)

The embedded toy model and a Hub model go through exactly the same code. Device and dtype
are chosen automatically (CUDA + fp16 when present, CPU + fp32 otherwise); the seed drives a
CPU `torch.Generator`, so one seed gives the same image on every run and machine type.
"""
from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from toyworld.settings import (EMBEDDED_DIFFUSION, MAX_GUIDANCE, MAX_NAME_CHARS, MAX_PROMPT_CHARS,  # noqa: F401
                               MAX_SEED, MAX_STEPS, WORKER_TORCH_THREADS)

from .zerogpu import BATCH, GENERATE, gpu


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


_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # tabs and newlines included: a prompt is one line


def check_text(text, what: str, limit: int) -> str:
    """Text a person typed, bounded before any work: at most `limit` characters, no broken characters
    (lone surrogates); control characters (tabs, newlines, ...) become spaces. Stripped."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise InputError(f"The {what} must be text.")
    if len(text) > limit:
        raise InputError(f"The {what} is {len(text)} characters long; please keep it under {limit}.")
    if _SURROGATE.search(text):
        raise InputError(f"The {what} holds a broken character (a lone surrogate); please retype it.")
    return _CONTROL.sub(" ", text).strip()


def check_prompt(prompt, what: str = "prompt") -> str:
    return check_text(prompt, what, MAX_PROMPT_CHARS)


def check_name(name, what: str) -> str:
    """An attribute, class or target name (looked up, never used as a file name)."""
    return check_text(name, what, MAX_NAME_CHARS)


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


def worker_threads(n: int = WORKER_TORCH_THREADS) -> None:
    """In a thread other than the main one (a server's request), use `n` torch threads (0: leave torch's
    default). On this 2-core CPU one picture took 0.84 s with one thread in a worker thread and 2.3-3.0 s
    with two (the main thread: 0.8 s with two), so the app's requests run single-threaded. Torch's thread
    count is per thread here (OpenMP), so the main thread (scripts, benchmarks, notebooks) is not affected.

    The app calls it once per request, in the wrapper every request passes through (demo.common.friendly),
    never inside a lock. The thread count does not change what is drawn beyond the tolerance of
    `edits.metrics.same_picture`."""
    if n > 0 and threading.current_thread() is not threading.main_thread() and torch.get_num_threads() != n:
        torch.set_num_threads(n)


class FairLock:
    """A lock that lets waiters in in the order they came (threading.Lock does not: a long job that
    re-takes it between batches could starve a short one waiting for it)."""

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._next = self._serving = 0

    def __enter__(self):
        with self._cond:
            ticket, self._next = self._next, self._next + 1
            self._cond.wait_for(lambda: self._serving == ticket)
        return self

    def __exit__(self, *exc):
        with self._cond:
            self._serving += 1
            self._cond.notify_all()
        return False


# ------------------------------------------------------------ the model wrapper
def check_knobs(num_inference_steps, guidance_scale, negative_prompt="") -> dict:
    """The shared sampling settings, checked (None: the model's default, kept as None), as `sample` and the
    pipelines take them: num_inference_steps, guidance_scale, negative_prompt."""
    return dict(
        num_inference_steps=None if num_inference_steps is None else check_number(
            num_inference_steps, "Steps", 1, MAX_STEPS, integer=True),
        guidance_scale=None if guidance_scale is None else check_number(guidance_scale, "Guidance scale", 0.0,
                                                                         MAX_GUIDANCE),
        negative_prompt=check_prompt(negative_prompt, "negative prompt"),
    )


# The embedded model's default: the fewest DDIM steps that keep the prompt both ways it is measured: within the
# 95 % interval of every judge's reading at 25 steps (`python -m benchmarks steps`) and at the classifier's
# adherence floors (`python -m benchmarks imagination`, benchmarks.imagination.FLOORS; its "fewer_steps" holds
# the readings of the fewer settings). tests/test_steps.py holds this equal to what those files say.
# DPM-Solver++ holds at fewer steps, but the h-space moves are written for DDIM's step.
EMBEDDED_STEPS = 15


@dataclass
class DiffusionModel:
    """A loaded pipeline, its name, and a lock so that one sampling runs at a time."""

    pipe: object
    name: str
    default_steps: int = 25
    default_guidance: float = 5.0
    lock: FairLock = field(default_factory=FairLock, repr=False)
    batcher: object = field(default=None, repr=False)  # edits.batching.Batcher: concurrent callers share batches

    def __post_init__(self):
        from .batching import Batcher

        self.batcher = self.batcher or Batcher(self)

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
        return dict(prompt=check_prompt(prompt), seed=check_seed(seed),
                    **check_knobs(num_inference_steps, guidance_scale, negative_prompt))

    @gpu(GENERATE)
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

    @gpu(BATCH)
    @torch.no_grad()
    def generate_batch(self, prompts: list[str], seeds: list[int], num_inference_steps: int | None = None,
                       guidance_scale: float | None = None, output_type: str = "np",
                       negative_prompts: list[str] | None = None, **kwargs):
        """A batch, one seed per image; image i is the same picture (edits.metrics.same_picture) as
        `generate(prompts[i], negative_prompts[i], seeds[i])`.

        The starting noise of each image is drawn from its own seed's generator, so
        batching never changes an image beyond a rounding of the CPU's batched kernels.
        """
        steps = self.default_steps if num_inference_steps is None else num_inference_steps
        gs = self.default_guidance if guidance_scale is None else guidance_scale
        gens = [make_generator(check_seed(s)) for s in seeds]
        negative = None
        if negative_prompts is not None and any(negative_prompts):  # "" reads as no negative prompt
            negative = [check_prompt(n, "negative prompt") for n in negative_prompts]
        with self.lock:
            out = self.pipe(prompt=[check_prompt(p) for p in prompts], negative_prompt=negative,
                            num_inference_steps=steps, guidance_scale=gs, generator=gens, height=self.resolution,
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
    if local.exists():
        check_pipeline_folder(local)
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
    if model.is_embedded:
        model.default_steps = EMBEDDED_STEPS
    elif "turbo" in source.lower():
        model.default_steps, model.default_guidance = 4, 0.0
    return model


SD_COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")  # what every tab needs of a pipeline
WEIGHTS = ("*.safetensors", "*.bin")


def _json_file(path: Path, what: str) -> dict:
    """A JSON object read from `path`, or a ModelLoadError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        why = "not valid JSON" if isinstance(e, ValueError) else "unreadable"
        raise ModelLoadError(f"{path} is {why}, so the {what} cannot be read.") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} holds no JSON object, so the {what} cannot be read.")
    return data


def check_pipeline_folder(folder: Path) -> None:
    """Before diffusers reads a local pipeline folder: one sentence naming the file that is missing or wrong
    (model_index.json absent, invalid or naming no pipeline; a component's subfolder, its config or its weights)."""
    if not folder.is_dir():
        raise ModelLoadError(f"{folder} is a file, not a diffusers pipeline folder.")
    index = folder / "model_index.json"
    if not index.is_file():
        raise ModelLoadError(f"{folder} is a folder but not a diffusers pipeline (it has no model_index.json).")
    spec = _json_file(index, "pipeline")
    if not isinstance(spec.get("_class_name"), str) or not spec["_class_name"]:
        raise ModelLoadError(f"{index} names no pipeline class (its \"_class_name\" is missing), so it is not a "
                             "diffusers pipeline index; save the pipeline again with save_pretrained.")
    for name in SD_COMPONENTS:
        entry = spec.get(name)
        if not (isinstance(entry, list) and len(entry) == 2 and entry[1]):
            raise ModelLoadError(f"{index} lists no {name}, so {folder.name} is not a Stable-Diffusion-style "
                                 "text-to-image pipeline.")
        sub = folder / name
        if not sub.is_dir():
            raise ModelLoadError(f"{folder} has no {name}/ subfolder, which its model_index.json lists.")
        if name == "tokenizer":
            if not ((sub / "tokenizer.json").is_file() or (sub / "vocab.json").is_file()):
                raise ModelLoadError(f"{sub} has neither tokenizer.json nor vocab.json: the tokenizer is missing.")
            continue
        config = sub / ("scheduler_config.json" if name == "scheduler" else "config.json")
        if not config.is_file():
            raise ModelLoadError(f"{sub} has no {config.name}.")
        _json_file(config, name)
        if name != "scheduler" and not any(f for pattern in WEIGHTS for f in sub.glob(pattern)):
            raise ModelLoadError(f"{sub} has no weights (no .safetensors or .bin file).")


def load_hspace_diffusion(source: str | Path | None = None, main: DiffusionModel | None = None,
                          device: str | None = None) -> DiffusionModel:
    """The model whose h-space the edits move: `source` if given, else the main model itself (the one behind
    `generate`, so that an unedited h-space image is the Imagination image), else the embedded default."""
    if source is not None:
        return load_diffusion(source, device=device)
    return main or load_diffusion(None, device=device)


# ------------------------------------------------------------ what the text encoder will read of a prompt
CLOSED_VOCABULARY = 5000  # a tokenizer with fewer entries knows a closed list of words (the toy world's)


@dataclass
class PromptReport:
    """What a model's tokenizer makes of a prompt: words it does not know, and text it cuts off."""

    unknown: list[str]  # words spelt out in pieces, cut or not (only for closed vocabularies)
    cut: str  # the text after the tokenizer's limit, "" when it all fits
    max_tokens: int

    @property
    def ok(self) -> bool:
        return not self.unknown and not self.cut

    def message(self) -> str:
        parts = []
        if self.unknown:
            parts.append("not understood: " + ", ".join(self.unknown))
        if self.cut:
            parts.append(f"cut after {self.max_tokens - 2} tokens, never read: “{self.cut}”")
        return " · ".join(parts)


def prompt_report(model: DiffusionModel, prompt) -> PromptReport:
    """Name the words of `prompt` the model's text encoder will not read.

    A CLIP tokenizer (the toy one included) splits text into words and each word into tokens, with
    `</w>` ending a word. In a closed vocabulary (the embedded model's, fewer than CLOSED_VOCABULARY
    tokens) every known word is one token, so a word spelt in several pieces is not understood; in an open
    one (real CLIP) any word is tokenized and only truncation is reported. The text encoder reads at most
    `model_max_length` tokens, start and end markers included: words past that are cut.
    """
    tok = model.pipe.tokenizer
    prompt = check_prompt(prompt)
    tokens = tok.tokenize(prompt) if prompt else []
    words: list[list[str]] = []
    current: list[str] = []
    for t in tokens:
        current.append(t)
        if t.endswith("</w>"):
            words.append(current)
            current = []
    if current:
        words.append(current)
    closed = len(tok) < CLOSED_VOCABULARY
    budget = int(tok.model_max_length) - 2  # start and end markers
    unknown, cut, used = [], [], 0
    for pieces in words:
        text = "".join(pieces).replace("</w>", "")
        if closed and len(pieces) > 1 and text not in unknown:
            unknown.append(text)
        if used + len(pieces) > budget:
            cut.append(text)
        used += len(pieces)
    return PromptReport(unknown=unknown, cut=_join_words(cut), max_tokens=int(tok.model_max_length))


def _join_words(words: list[str]) -> str:
    out = ""
    for w in words:
        out += w if (not out or w in ",.!?;:") else " " + w
    return out

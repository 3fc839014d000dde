"""What every tab shares: the loaded models, error handling, and small UI helpers."""
from __future__ import annotations

import functools
import logging
import math
import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from edits.pipeline import MAX_SEED, DiffusionModel, InputError, ModelLoadError
from toyworld.settings import ROOT, SESSION_FILES, SESSION_TTL_S

log = logging.getLogger("demo")

CSS = """
.pixelated img { image-rendering: pixelated; }
.explain { font-size: 0.95em; opacity: 0.9; }
"""
IMAGE_HEIGHT = 320


@dataclass
class Models:
    """Everything loaded once at start-up and only read afterwards (shared by all users)."""

    diffusion: DiffusionModel
    h_directions: dict = field(default_factory=dict)  # "attribute: class" -> Direction (h-space)
    gan: object | None = None  # edits.wspace.GANModel, or None when not installed
    w_directions: dict = field(default_factory=dict)  # "attribute: class" -> Direction (W space)
    h_diffusion: DiffusionModel | None = None  # the model of the h-space edits, when not `diffusion`

    @property
    def hspace_model(self) -> DiffusionModel:
        return self.h_diffusion or self.diffusion


def _server_paths() -> list[str]:
    roots = {str(ROOT), str(SESSION_FILES), tempfile.gettempdir(), os.path.expanduser("~"),
             os.environ.get("GRADIO_TEMP_DIR", "")}
    return sorted((r for r in roots if len(r) > 1), key=len, reverse=True)


def public_message(text: str, limit: int = 300) -> str:
    """A message fit for a visitor: no server paths, no control characters, at most `limit` characters."""
    text = str(text)
    for root in _server_paths():
        text = re.sub(re.escape(root) + r"[^\s'\"]*", "<file>", text)
    text = re.sub("[\x00-\x1f\x7f-\x9f\ud800-\udfff]", " ", text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def friendly(fn):
    """Turn every failure into a gr.Error with a sentence a workshop participant understands.

    Input problems keep their own message (without server paths) and log one line; anything unexpected
    is logged on the server (with its traceback) and the user sees a short apology instead.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error as e:
            log.info("refused in %s: %s", fn.__name__, public_message(e.message, 200))
            raise
        except (InputError, ModelLoadError) as e:
            message = public_message(e)
            log.info("bad input in %s: %s", fn.__name__, message)
            raise gr.Error(message, print_exception=False) from None
        except Exception:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error("Something went wrong on our side while making this image. "
                           "Please try again, perhaps with other settings.", print_exception=False) from None

    return wrapper


# ------------------------------------------------------------------ inputs as a person may type them
def _lenient_number(component, original):
    """Slider and Number: a payload Gradio's own preprocess would refuse (NaN, Infinity, text, a value off
    the slider) goes through untouched, so that the tab's own check answers it in a sentence (Gradio would
    answer "Could not preprocess input", or log a traceback for a value off the slider)."""

    def preprocess(payload):
        if isinstance(payload, bool) or not isinstance(payload, (int, float)) or not math.isfinite(payload):
            return payload
        try:
            return original(payload)
        except Exception:
            return payload

    return preprocess


def _checked_choice(component, original):
    """Dropdown and Radio without custom values: anything off the list gets one short sentence."""

    def preprocess(payload):
        try:
            return original(payload)
        except Exception:
            label = public_message(component.label or "this choice", 60)
            raise gr.Error(f"Choose one of the offered values for '{label}'.", print_exception=False) from None

    return preprocess


def lenient_inputs(blocks: gr.Blocks) -> None:
    """Make every numeric and choice input of `blocks` answer bad payloads (NaN, Infinity, text, lists)
    with the app's own sentence rather than Gradio's "Could not preprocess input" and a traceback."""
    for component in blocks.blocks.values():
        if isinstance(component, (gr.Slider, gr.Number)):
            component.preprocess = _lenient_number(component, component.preprocess)
        elif isinstance(component, (gr.Dropdown, gr.Radio)) and not getattr(component, "allow_custom_value", False):
            component.preprocess = _checked_choice(component, component.preprocess)


# ------------------------------------------------------------------ each visitor's own files
class SessionFiles:
    """One visitor's folder for the files the app hands back (walks, fitted directions): under
    SESSION_FILES, emptied before each new result (Gradio has copied the last one into its own cache by
    then), removed when the session ends or SESSION_TTL_S after its last use (gr.State below)."""

    def __init__(self):
        SESSION_FILES.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix="session_", dir=SESSION_FILES))

    def fresh(self) -> Path:
        """The folder, emptied of the previous result."""
        if not self.path.is_dir():
            self.path.mkdir(parents=True)
        for child in self.path.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink(missing_ok=True)
        return self.path

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __deepcopy__(self, memo):  # gr.State copies values; a folder is not copied
        return self


def session_files_state() -> gr.State:
    """A gr.State that holds a SessionFiles (None until the first file) and removes it at the end."""
    return gr.State(None, time_to_live=SESSION_TTL_S,
                    delete_callback=lambda v: v.remove() if isinstance(v, SessionFiles) else None)


def session_folder(files: SessionFiles | None) -> tuple[SessionFiles, Path]:
    files = files if isinstance(files, SessionFiles) else SessionFiles()
    return files, files.fresh()


def sweep_session_files(max_age_s: float = SESSION_TTL_S) -> int:
    """Remove session folders left from an earlier run (older than max_age_s); the number removed."""
    if not SESSION_FILES.is_dir():
        return 0
    n, now = 0, time.time()
    for child in SESSION_FILES.glob("session_*"):
        if now - child.stat().st_mtime > max_age_s:
            shutil.rmtree(child, ignore_errors=True)
            n += 1
    return n


def new_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


def seed_controls(value: int = 7) -> tuple[gr.Number, gr.Button]:
    with gr.Row(equal_height=True):
        seed = gr.Number(value=value, label="Seed (shared by every tab)", scale=4,
                         info="The same seed gives the same starting noise, hence the same image.")
        dice = gr.Button("🎲 New seed", scale=1)
    return seed, dice


def image_out(label: str) -> gr.Image:
    return gr.Image(label=label, type="pil", format="png", height=IMAGE_HEIGHT, interactive=False,
                    elem_classes=["pixelated"])

"""What every tab shares: the loaded models, error handling, and small UI helpers."""
from __future__ import annotations

import functools
import logging
import secrets
from dataclasses import dataclass, field

import gradio as gr

from edits.pipeline import MAX_SEED, DiffusionModel, InputError, ModelLoadError

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

    def classifier_for(self, attribute: str):
        from edits.labelers import ToyClassifierLabeler

        return ToyClassifierLabeler(attribute)


def friendly(fn):
    """Turn every failure into a gr.Error with a sentence a workshop participant understands.

    Input problems keep their own message; anything unexpected is logged on the server
    (with its traceback) and the user sees a short apology instead of a traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (InputError, ModelLoadError) as e:
            raise gr.Error(str(e), print_exception=False) from None
        except Exception:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error("Something went wrong on our side while making this image. "
                           "Please try again, perhaps with other settings.", print_exception=False) from None

    return wrapper


def new_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


def seed_controls(value: int = 7) -> tuple[gr.Number, gr.Button]:
    with gr.Row(equal_height=True):
        seed = gr.Number(value=value, label="Seed (shared by every tab)", precision=0, scale=4,
                         info="The same seed gives the same starting noise, hence the same image.")
        dice = gr.Button("🎲 New seed", scale=1)
    return seed, dice


def image_out(label: str) -> gr.Image:
    return gr.Image(label=label, type="pil", format="png", height=IMAGE_HEIGHT, interactive=False,
                    elem_classes=["pixelated"])

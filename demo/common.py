"""What every tab shares: the loaded models, error handling, and small UI helpers."""
from __future__ import annotations

import copy
import functools
import logging
import math
import os
import re
import secrets
import shutil
import tempfile
import time
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from edits.pipeline import MAX_SEED, DiffusionModel, InputError, ModelLoadError, prompt_report, worker_threads
from toyworld.settings import MEASURED, ROOT, SESSION_FILES, SESSION_TTL_S, SPACE_ID

log = logging.getLogger("demo")

# Images are shown at DISPLAY px, drawn from the native 64 px picture by nearest neighbour
# (`image-rendering: pixelated`): every pixel becomes an exact square, nothing is invented,
# and the download button still gives the native file.
DISPLAY = 320

CSS = f"""
.pixelated img, .pixelated video {{ image-rendering: pixelated; }}
.big-image .image-container > button, .big-image .image-frame {{
    width: 100% !important; height: 100% !important; display: flex !important;
    align-items: center; justify-content: center;
}}
.big-image .image-frame img, .big-image img.big {{
    width: min({DISPLAY}px, 100%) !important; height: auto !important; max-height: 100% !important;
    aspect-ratio: 1 / 1; object-fit: contain !important;
}}
.strip .thumbnail-item, .strip .thumbnail-item img {{ min-width: 0; }}
.strip .grid-wrap {{ height: auto !important; min-height: 0 !important; max-height: none !important;
                    overflow: visible !important; }}
.strip .thumbnail-item img {{ image-rendering: pixelated; object-fit: contain !important; }}
.lead {{ font-size: 1.05em; margin: 0 0 .25em 0; }}
.atlas img {{ width: 100% !important; max-width: 560px; height: auto !important; max-height: none !important; }}
.atlas .image-container {{ height: auto !important; }}
.note {{ min-height: 1.5em; }}
/* an accordion's rows come out a few px wider than its box, which then shows a horizontal scrollbar */
.gr-accordion {{ overflow-x: hidden !important; }}
.note p {{ margin: 0; }}
/* a measured table in a narrow column: numbers and words are never cut in two, cells stay tight */
.measured-table table {{ font-size: .9em; }}
.measured-table th, .measured-table td {{ word-break: normal !important; overflow-wrap: normal !important;
                                         padding: 4px 6px !important; }}
#header h1 {{ margin-bottom: 0; }}
#header p {{ margin-top: .25em; }}
.tabs .tab-container {{ flex-wrap: wrap; height: auto !important; row-gap: 2px; }}
@media (max-width: 640px) {{
  .strip .grid-container {{ grid-template-columns: repeat(4, minmax(0, 1fr)) !important; }}
  .tabs .tab-container button {{ padding-left: 8px !important; padding-right: 8px !important; }}
  #header h1 {{ font-size: 1.4em; }}
}}
"""


@dataclass
class Models:
    """Everything loaded once at start-up and only read afterwards (shared by all users)."""

    diffusion: DiffusionModel
    h_directions: dict = field(default_factory=dict)  # "attribute: class" -> Direction (h-space)
    gan: object | None = None  # edits.gan.GANModel, or None when not installed
    w_directions: dict = field(default_factory=dict)  # "attribute: class" -> Direction (W space)
    s_directions: dict = field(default_factory=dict)  # "attribute: class" -> Direction (StyleSpace channels)
    h_diffusion: DiffusionModel | None = None  # the model of the h-space edits, when not `diffusion`

    @property
    def hspace_model(self) -> DiffusionModel:
        return self.h_diffusion or self.diffusion


@dataclass
class Own:
    """The visitor's own directions (fitted or loaded in their session), one gr.State per space, shared by every
    tab: the h-space and W-space tabs write them; walks, compare and the atlas read them over the shipped ones
    (`edits.directions.merged`). A dict "attribute: class" -> Direction, kept SESSION_TTL_S after last use."""

    h: gr.State
    w: gr.State

    @classmethod
    def states(cls) -> "Own":
        return cls(gr.State({}, time_to_live=SESSION_TTL_S), gr.State({}, time_to_live=SESSION_TTL_S))


# the labellers a visitor may fit their own directions with (h and W tabs): the tab's names -> edits.fit's
FIT_LABELLERS = {"classifier": "classifier", "colour pixels": "colour", "my CSV": "csv"}


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


def chosen_labeller(choices: dict, labeller, attribute: str, csv_path, n: int):
    """The labeller a visitor chose for a fit ('Fit your own' in the h and W tabs) and the seeds to label, or an
    InputError that says what to do."""
    from edits.fit import make_labeller, seeds_for

    kind = choices.get(labeller)
    if kind is None:
        raise InputError(f"Choose a labeller among: {', '.join(choices)}.")
    if kind == "csv" and not csv_path:
        raise InputError("Upload a CSV of seed,label rows first (or choose another labeller).")
    lab = make_labeller(kind, attribute, labels_csv=csv_path)
    return lab, seeds_for(lab, n)


def friendly(fn):
    """Turn every failure into a gr.Error with a sentence a workshop participant understands.

    Input problems keep their own message (without server paths) and log one line; anything unexpected
    is logged on the server (with its traceback) and the user sees a short apology instead.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        worker_threads()  # every request draws with the server's thread count (edits.pipeline.worker_threads)
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


SEED_INFO = ("The seed fixes each generator's starting noise: the same seed and settings always give "
             "the same picture. Each tab names the model it draws with.")


def seed_controls(value: int = 7) -> tuple[gr.Number, gr.Button]:
    with gr.Row(equal_height=True):
        seed = gr.Number(value=value, label="Seed (shared by every tab)", scale=4, info=SEED_INFO)
        dice = gr.Button("New seed", scale=1, min_width=100)
    return seed, dice


KNOBS_LABEL = "Settings: steps, guidance, negative prompt (shared with the h-space and Side-by-side tabs)"


def sampling_knobs(model) -> list:
    """[steps, guidance, negative prompt]: the sampling settings of the Imagination tab, which the h-space and
    Side-by-side tabs (and the diffusion walks) take as their own last inputs, so that one seed and one
    prompt give one picture in every tab. Made inside the Imagination tab's settings accordion."""
    from edits.pipeline import MAX_GUIDANCE, MAX_STEPS

    with gr.Row():
        steps = Slider(1, 50, value=model.default_steps, step=1, label="Steps", api_range=(1, MAX_STEPS),
                       info=f"default {model.default_steps}")
        guidance = Slider(0, 15, value=model.default_guidance, step=0.5, label="Guidance",
                          api_range=(0, MAX_GUIDANCE),
                          info=f"how closely to follow the prompt; default {model.default_guidance:g}")
    negative = gr.Textbox("", label="Negative prompt (what to steer away from)", max_lines=1)
    return [steps, guidance, negative]


def measured(name: str) -> dict:
    """The last full run of `python -m benchmarks NAME` (assets/measured/NAME.json), or {} when there is none:
    tabs quote measured numbers from there, never by hand."""
    import json

    try:
        out = json.loads((MEASURED / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def model_name(model) -> str:
    """A short readable name for a model: the last part of its folder or Hub id."""
    name = str(getattr(model, "name", "") or "").rstrip("/")
    return name.rsplit("/", 1)[-1] or "the model"


def note_for(model, prompt) -> str:
    """What the model did not read of the prompt, in one line (empty when it read everything)."""
    try:
        message = prompt_report(model, prompt).message()
    except Exception:  # the note is a courtesy: never let it fail the image
        return ""
    return f"⚠️ {message}" if message else ""


def Slider(minimum: float, maximum: float, *, api_range: tuple[float, float] | None = None, **kwargs) -> gr.Slider:
    """A slider whose handle spans the useful range, while scripts may still pass what the handler accepts.

    `api_range` (default: the handle's range) bounds what the endpoint takes; the handler validates the rest.
    """
    slider = gr.Slider(minimum, maximum, **kwargs)
    low, high = api_range or (minimum, maximum)

    def preprocess(payload):
        gr.Number.raise_if_out_of_bounds(payload, low, high)
        return gr.Number.round_to_precision(payload, slider.precision)

    slider.preprocess = preprocess
    return slider


def image_out(label: str, value=None) -> gr.Image:
    """A 64 px picture shown at DISPLAY px, pixel for pixel (nearest neighbour); downloads stay native."""
    return gr.Image(value, label=label, type="pil", format="png", height=DISPLAY + 40, interactive=False,
                    min_width=280, elem_classes=["pixelated", "big-image"])


def strip_out(label: str, columns: int = 7) -> gr.Gallery:
    return gr.Gallery(label=label, columns=columns, object_fit="contain", format="png",
                      elem_classes=["pixelated", "strip"], preview=False)


def signed(x: float, digits: int = 2) -> str:
    """+1.5, −0.25, 0 (never "-0.0")."""
    v = round(float(x), digits)
    if v == 0:
        return "0"
    return f"{v:+g}".replace("-", "−")


def lead(text: str) -> gr.Markdown:
    """The at most two short sentences a tab opens with."""
    return gr.Markdown(text, elem_classes=["lead"])


def explain(text: str) -> None:
    """The longer explanation, closed, for a talk audience."""
    with gr.Accordion("What am I looking at?", open=False):
        gr.Markdown(text)


def docs_link(*paths: str) -> str:
    """Links to the repository's own documents (on a Hugging Face Space, to its files)."""
    def one(p):
        return f"[`{p}`](https://huggingface.co/spaces/{SPACE_ID}/blob/main/{p})" if SPACE_ID else f"`{p}`"

    return ", ".join(one(p) for p in paths)


def card_of(model) -> str | None:
    """The repository path of a model's card (README.md in its folder), when the model is one of ours."""
    from pathlib import Path

    name = str(getattr(model, "name", "") or "")
    for folder in (Path(name), ROOT / "assets" / name):
        try:
            card = (folder / "README.md").resolve()
            if name and card.is_file():
                return str(card.relative_to(ROOT))
        except (ValueError, OSError):
            continue
    return None


def docs_line(*paths: str | None) -> str:
    """One line that sends the curious to the measurements, kept in the repository's documents."""
    return f"<small>Measurements and model cards: {docs_link(*[p for p in paths if p])}.</small>"


class FirstViews:
    """The first views already drawn, shared by all visitors: a seed and settings always give the same
    pictures, so the second visitor to open a tab on seed 7 gets them at once. Small, least recently used
    first out; only results made of pictures and text are kept (never paths to temporary files)."""

    def __init__(self, size: int = 128):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    @staticmethod
    def key(name: str, inputs) -> tuple | None:
        frozen = []
        for x in inputs:
            if isinstance(x, dict):
                if x:  # a visitor's own directions: theirs alone
                    return None
                x = ()
            try:
                hash(x)
            except TypeError:
                return None
            frozen.append(x)
        return (name, *frozen)

    def get(self, key):
        """A copy of the kept view: Gradio may change an output (a gr.update dict) while sending it, and the
        next visitor must get the view as it was made."""
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return copy.deepcopy(self.items[key])
        return None

    def put(self, key, value):
        with self.lock:
            self.items[key] = copy.deepcopy(value)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


def lazy(name: str, fn, n_outputs: int, cache: FirstViews | None = None):
    """Wrap a tab's refresh `fn(*inputs)` so that it runs only for the tab on show and a seed it has not drawn.

    Returns `run(current_tab, seed, drawn_seed, *inputs) -> (*outputs, drawn_seed)`: the tab's first view
    for a seed is computed when the tab is opened (or the seed changes while it is open), then kept in the
    visitor's gr.State; with `cache`, the same first view is also shared with later visitors.
    """
    def run(current, seed, drawn, *inputs):
        if current != name or (drawn is not None and drawn == seed):
            return [gr.skip()] * (n_outputs + 1)
        key = cache.key(name, inputs) if cache is not None else None
        out = cache.get(key) if key is not None else None
        if out is None:
            out = fn(*inputs)
            out = list(out) if isinstance(out, (list, tuple)) else [out]
            if key is not None:
                cache.put(key, out)
        return [*out, seed]

    run.__name__ = f"show_{name}"
    return run

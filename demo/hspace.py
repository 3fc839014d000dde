"""Potentiality in diffusion: keep the prompt and the seed, move h (the UNet bottleneck)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd

from edits.directions import Direction, DirectionError, others_of, siblings_of
from edits.fit import collect_h, fill_template, fit_h
from edits.hspace import DEFAULT_EDIT, MAX_STRENGTH, edit_pair, h_shape, traversal
from edits.labelers import FACTORS, ColourLabeler, CSVLabeler
from edits.pipeline import InputError, to_uint8
from toyworld.settings import DIRECTIONS, MAX_FIT_SAMPLES, TRAVERSAL_FRAMES

from .common import Models, friendly, image_out

ATTRIBUTES = ("colour", "shape", "size")

EXPLAIN = """
This model's bottleneck h (`unet.mid_block`) reads colour, shape and size, but adding a direction to h
barely changes the picture, because the skip connections carry the decision around it. So the edit moves the
noisy image along the gradient of the direction's readout of h, through the UNet, holding the other factors'
readouts where they were, and the whole network redraws the same seed.
"""
CONFLICT = ("When the prompt names another colour, the prompt wins: the edit reached its target in 0.15 of 20 "
            "measured conflicts.\n")



def _choices(models: Models, mine: dict | None, attribute: str) -> list[str]:
    names = {d.meta["class"] for d in models.h_directions.values() if d.meta.get("attribute") == attribute}
    names |= {d.meta["class"] for d in (mine or {}).values() if d.meta.get("attribute") == attribute}
    return sorted(names)


def _find(models: Models, mine: dict | None, attribute: str, target: str) -> Direction:
    key = f"{attribute}: {target}"
    found = (mine or {}).get(key) or models.h_directions.get(key)
    if found is None:
        known = ", ".join(sorted(set(models.h_directions) | set(mine or {}))) or "none"
        raise InputError(f"There is no h-space direction for {key!r}. Known directions: {known}.")
    return found


def _siblings(models: Models, mine: dict | None, d: Direction) -> list[Direction]:
    """The other classes for a swap: from the same set as d (the user's own fit, else the shipped ones)."""
    own = mine or {}
    return siblings_of(own if any(v is d for v in own.values()) else models.h_directions, d)


def _others(models: Models, mine: dict | None, d: Direction) -> list[Direction]:
    """The other attributes' directions, whose readouts a guided edit holds where they were."""
    return others_of({**models.h_directions, **(mine or {})}, d)


SWEEP = DIRECTIONS / "sweep.json"
FINDING = DIRECTIONS / "FINDINGS.md"


def _load_sweep() -> dict | None:
    import json

    if not SWEEP.is_file() and not FINDING.is_file():
        return None
    data = json.loads(SWEEP.read_text()) if SWEEP.is_file() else {"rows": [], "n": 0}
    text = FINDING.read_text() if FINDING.is_file() else ""
    return {"table": pd.DataFrame(data["rows"]) if data["rows"] else None, "n": data["n"], "text": text}


def create_tab(models: Models, seed: gr.Number) -> dict:
    model = models.hspace_model
    gr.Markdown(EXPLAIN + CONFLICT, elem_classes=["explain"])
    mine = gr.State({})  # this visitor's own fitted or uploaded directions
    attrs = sorted({d.meta.get("attribute") for d in models.h_directions.values()}) or list(ATTRIBUTES)
    first = "colour" if "colour" in attrs else attrs[0]
    with gr.Row():
        with gr.Column(scale=1):
            prompt = gr.Textbox(label="Prompt (leave the edited attribute unsaid)",
                                value="a large circle on a white background", max_lines=2)
            with gr.Row():
                attribute = gr.Dropdown(attrs, value=first, label="Attribute", allow_custom_value=True)
                targets = _choices(models, None, first)
                target = gr.Dropdown(targets, value="blue" if "blue" in targets else (targets or [None])[0],
                                     label="Target", allow_custom_value=True)
            strength = gr.Slider(-MAX_STRENGTH / 2, MAX_STRENGTH / 2, value=DEFAULT_EDIT["strength"], step=0.25,
                                 label="Strength (guided: the gradient's scale; swap: 1 = the target class; "
                                       "land / add: standard deviations)")
            with gr.Accordion("Edit interval and mode", open=False):
                with gr.Row():
                    start = gr.Slider(0, 1, value=DEFAULT_EDIT["start"], step=0.05, label="Edit from (fraction of steps)")
                    end = gr.Slider(0, 1, value=DEFAULT_EDIT["end"], step=0.05, label="…until")
                mode = gr.Radio(["asymmetric", "symmetric"], value=DEFAULT_EDIT["mode"], label="Mode")
                move = gr.Radio([("guided through the UNet", "guided"), ("swap the class", "swap"),
                                 ("land on the target's side", "land"), ("add", "add")],
                                value=DEFAULT_EDIT["move"], label="Strength means")
            button = gr.Button("Edit", variant="primary")
        with gr.Column(scale=2):
            with gr.Row():
                original = image_out("Original (same seed, same prompt)")
                edited = image_out("Edited in h-space")
            strip = gr.Gallery(label="Traversal: from −strength to +strength", columns=7, height=160,
                               object_fit="contain", elem_classes=["pixelated"])

    sweep = _load_sweep()
    if sweep is not None:
        with gr.Accordion("Measured: how far does h-space steer colour? (embedded model)", open=True):
            gr.Markdown(sweep["text"])
            if sweep["table"] is not None:
                gr.LinePlot(sweep["table"], x="strength", y="success", color="mode", y_lim=[0.0, 1.0], height=260,
                            label=f"Colour edit success against strength ({sweep['n']} seeds per point)")

    with gr.Accordion("Fit your own direction", open=False):
        gr.Markdown("Sample *N* images from a prompt template, label them, and fit one boundary per denoising "
                    "step. Placeholders `{colour}` `{shape}` `{size}` `{background}` are filled at random. "
                    "The result stays in your session only; download it to keep it.")
        with gr.Row():
            fit_prompt = gr.Textbox(label="Prompt template", value="a {size} {shape} on a {background} background")
            fit_attribute = gr.Dropdown(list(FACTORS), value="colour", label="Attribute", allow_custom_value=True)
            labeller = gr.Radio(["classifier", "colour pixels", "my CSV"], value="classifier", label="Labeller")
            n_samples = gr.Slider(16, MAX_FIT_SAMPLES, value=128, step=16, label="Samples (N)")
        with gr.Row():
            csv_file = gr.File(label="CSV of seed,label (for 'my CSV'; seeds 0..N-1)", file_types=[".csv"],
                               type="filepath")
            upload = gr.File(label="…or load a direction file (.safetensors)", file_types=[".safetensors"],
                             type="filepath")
        fit_button = gr.Button("Fit", variant="secondary")
        fit_status = gr.Markdown()
        with gr.Row():
            acc_plot = gr.LinePlot(x="step", y="accuracy", color="class", label="Held-out boundary accuracy per step",
                                   y_lim=[0.0, 1.0], height=260)
            download = gr.File(label="Download your directions", interactive=False)

    @friendly
    def edit(prompt, seed, attribute, target, strength, start, end, mode, move, mine):
        d = _find(models, mine, attribute, target)
        a, b = edit_pair(model, prompt, seed, d, strength, start, end, mode, move, _siblings(models, mine, d),
                         _others(models, mine, d))
        return to_uint8(a), to_uint8(b)

    @friendly
    def strip_fn(prompt, seed, attribute, target, strength, start, end, mode, move, mine):
        d = _find(models, mine, attribute, target)
        alphas, imgs = traversal(model, prompt, seed, d, strength or DEFAULT_EDIT["strength"], TRAVERSAL_FRAMES,
                                 start, end, mode,
                                 move, _siblings(models, mine, d), _others(models, mine, d))
        return [(to_uint8(im), f"{a:+g}") for a, im in zip(alphas, imgs)]

    @friendly
    def fit(template, attribute, labeller, n, csv_path, mine, progress=gr.Progress()):
        n = int(n)
        if not 16 <= n <= MAX_FIT_SAMPLES:
            raise InputError(f"N must be between 16 and {MAX_FIT_SAMPLES} on this server.")
        fill_template(template, 0)  # checks the placeholders before any sampling
        if labeller == "my CSV":
            if not csv_path:
                raise InputError("Upload a CSV of seed,label rows first (or choose another labeller).")
            if Path(csv_path).stat().st_size > 2**20:
                raise InputError("The CSV is larger than 1 MB.")
            lab = CSVLabeler(Path(csv_path).read_text(errors="replace"), attribute)
            seeds = [s for s in lab.seeds if 0 <= s < 2**32][:n]
            if len(seeds) < 16:
                raise InputError("The CSV needs at least 16 rows with seeds.")
        elif labeller == "colour pixels":
            if attribute != "colour":
                raise InputError("The pixel labeller reads colour only; choose the classifier for other attributes.")
            lab, seeds = ColourLabeler(), list(range(n))
        else:
            lab = models.classifier_for(attribute)
            seeds = list(range(n))
        progress(0, desc="sampling")
        samples = collect_h(model, template, seeds, progress=lambda f: progress(0.9 * f, desc="sampling"))
        progress(0.9, desc="labelling and fitting")
        labels = lab(samples.images, seeds=samples.seeds)
        dirs = fit_h(samples, list(labels), attribute, model.name, labeller, h_shape(model), template=template)
        mine = {**(mine or {}), **{d.label: d for d in dirs.values()}}
        rows = [{"step": i, "accuracy": a, "class": c} for c, d in dirs.items() for i, a in enumerate(d.meta["accuracy"])]
        folder = Path(tempfile.mkdtemp(prefix="directions_"))
        # Files are named by index, never by the user's attribute or class names.
        files = [str(d.save_in(folder, f"h_{i:02d}")) for i, d in enumerate(dirs.values())]
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(dirs[next(iter(dirs))].meta["class_counts"].items()))
        msg = (f"Fitted {len(dirs)} direction(s) for **{attribute}** from {len(seeds)} samples ({counts}). "
               f"Mean held-out accuracy {np.mean([np.mean(d.meta['accuracy']) for d in dirs.values()]):.2f}. "
               "They are now in the Target list.")
        return mine, pd.DataFrame(rows), files, msg, gr.update(value=attribute, choices=sorted(set(attrs) | {attribute}))

    @friendly
    def load_file(path, mine):
        if not path:
            return mine, gr.update()
        d = Direction.load(path)
        if d.meta.get("space") != "h":
            raise DirectionError("This direction was fitted in another space (not h-space).")
        d.check_compatible(h_shape(model, int(d.meta.get("skip_levels", 0))))
        return {**(mine or {}), d.label: d}, f"Loaded **{d.label}** ({d.meta.get('samples', '?')} samples)."

    def refresh_targets(attribute, mine):
        ch = _choices(models, mine, attribute)
        return gr.update(choices=ch, value=ch[0] if ch else None)

    edit_inputs = [prompt, seed, attribute, target, strength, start, end, mode, move, mine]
    ev = gr.on([button.click, prompt.submit, strength.release], edit, edit_inputs, [original, edited],
               api_name="edit_h", concurrency_id="model", show_progress="minimal", trigger_mode="always_last")
    ev.then(strip_fn, edit_inputs, strip, api_name=False, concurrency_id="model", show_progress="minimal")
    attribute.change(refresh_targets, [attribute, mine], target, api_name=False, queue=False)
    fit_button.click(fit, [fit_prompt, fit_attribute, labeller, n_samples, csv_file, mine],
                     [mine, acc_plot, download, fit_status, attribute], api_name="fit_h", concurrency_id="model")
    upload.upload(load_file, [upload, mine], [mine, fit_status], api_name=False)
    return {"refresh": (edit, edit_inputs, [original, edited])}

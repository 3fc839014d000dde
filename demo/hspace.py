"""Potentiality in diffusion: keep the prompt and the seed, move h (the UNet bottleneck)."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import numpy as np
import pandas as pd

from edits.directions import Direction, DirectionError, merged, no_direction, others_of, siblings_of
from edits.fit import collect_h, fill_template, fit_h
from edits.hspace import DEFAULT_EDIT, MAX_STRENGTH, HEdit, edit_pair, h_shape, traversal
from edits.labelers import FACTORS
from edits.pipeline import InputError, check_name, check_number, check_prompt, check_seed, to_uint8
from toyworld.settings import H_TRAVERSAL_FRAMES, LONG_JOB_BATCH, MAX_FIT_SAMPLES

from .common import (FIT_LABELLERS, chosen_labeller, Models, Own, Slider, card_of, docs_line, explain, friendly, image_out, lead, measured,
                     model_name, note_for, session_files_state, session_folder, signed, strip_out)
from .sharing import CONCURRENCY, LONG, MODEL

ATTRIBUTES = ("colour", "shape", "size")
LABELLERS = FIT_LABELLERS  # the tab's names -> edits.fit's
STRENGTH_INFO = {"recurrent": "0.5 = the measured default nudge, 0 = the original; larger pushes harder",
                 "guided": "1 = the measured nudge, taken once per step; 0 = the original",
                 "swap": "1 = swap to the target class (default), 0 = the original, negative = away",
                 "land": "standard deviations on the target's side of the boundary",
                 "add": "standard deviations added along the direction"}

LEAD = ("Same prompt, same seed: the edit pushes the model's inner code (*h-space*, its narrowest layer) "
        "along a direction while the picture forms.")

EXPLAIN = """
A diffusion model passes everything it is drawing through a narrow layer in the middle of its network,
the **bottleneck** (its output is called **h-space**). Here the prompt and the seed stay fixed. Each
direction was learnt from labelled pictures: a readout of h that tells, say, blue objects from the others.
This is **potentiality**: nothing new is told to the model; we move within what it already holds.

Adding the direction to h barely changes this model's picture: its skip connections carry the decision
around the bottleneck. So the default edit nudges the forming image, at every step of its interval and with a
fixed strength, towards where the readout of h says "blue" and where the other readouts (shape, size,
background) say what they said at first, and takes each of those steps three times (noising back in between) so
that the nudge settles in; the whole network redraws the same seed. (*guided* takes each step once.) It does not check
that the readout ends on "blue": the nudge has the same size whatever the readout says. Strength scales it; 0
gives the original, which is the Imagination tab's picture for the same prompt, seed and settings (steps,
guidance and negative prompt are that tab's). Not every edit lands, and a small model
sometimes draws no object at all — then try another seed. How often edits land is measured in the documents
linked below.
"""


def conflict_line(m: dict) -> str:
    """One sentence on conflict edits, from the h-space benchmark's last full run (assets/measured/hspace.json)."""
    if m.get("move") != DEFAULT_EDIT["move"] or m.get("conflict_edit_success") is None:
        return ""
    won = m["conflict_edit_success"]
    who = "the prompt wins" if won < 0.5 else "the edit wins"
    return (f"\n**When the prompt names another colour, {who}:** the edit reached its target in "
            f"{won:.2f} of {m.get('n', '?')} measured conflicts.\n")



def _choices(models: Models, mine: dict | None, attribute: str) -> list[str]:
    return sorted({d.meta["class"] for d in merged(models.h_directions, mine).values()
                   if d.meta.get("attribute") == attribute})


def _find(models: Models, mine: dict | None, attribute: str, target: str) -> Direction:
    key = f"{check_name(attribute, 'attribute')}: {check_name(target, 'target')}"
    seen = merged(models.h_directions, mine)  # the visitor's own attributes over the shipped ones
    if key not in seen:
        raise InputError(no_direction("h", key, seen))
    return seen[key]


def _siblings(models: Models, mine: dict | None, d: Direction) -> list[Direction]:
    """The other classes of d's attribute, for a swap or a guided edit (fitted with d)."""
    return siblings_of(merged(models.h_directions, mine), d)


def _others(models: Models, mine: dict | None, d: Direction) -> list[Direction]:
    """The other attributes' directions, whose readouts a guided edit holds where they were."""
    return others_of(merged(models.h_directions, mine), d)


def create_tab(models: Models, seed: gr.Number, own: Own | None = None, knobs: list | None = None) -> dict:
    """The h-space tab: the edit (`_edit_layout`, `_edit_handlers`), fitting one's own directions
    (`_fit_layout`, `_fit_handlers`), and their events (`_wire`). What the visitor fits or loads goes into
    `own.h`, which the other tabs read too. `knobs`: the Imagination tab's steps, guidance and negative prompt,
    the edit's last inputs."""
    model = models.hspace_model
    other = (" — another model than the Imagination tab's, so one seed may draw another picture here"
             if model is not models.diffusion else "")
    lead(f"{LEAD} Drawn by *{model_name(model)}*{other}.")
    mine = (own or Own.states()).h  # this visitor's own fitted or uploaded directions
    files = session_files_state()  # and the folder their files are written to

    attrs = sorted({d.meta.get("attribute") for d in models.h_directions.values()}) or list(ATTRIBUTES)
    ui = _edit_layout(models, model, attrs)
    fit_ui = _fit_layout()
    return _wire(model, ui, fit_ui, seed, mine, files, _edit_handlers(models, model),
                 _fit_handlers(model, attrs), knobs or [gr.State(None), gr.State(None), gr.State("")])


def _edit_layout(models: Models, model, attrs: list[str]) -> SimpleNamespace:
    """The edit's controls, the original and edited pictures, the note, the strip and the explanations."""
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
            strength = Slider(-1, 3, value=DEFAULT_EDIT["strength"], step=0.25, label="Strength",
                              info=STRENGTH_INFO[DEFAULT_EDIT["move"]], api_range=(-MAX_STRENGTH / 2, MAX_STRENGTH / 2))
            button = gr.Button("Edit", variant="primary")
            with gr.Accordion("Edit interval and mode", open=False):
                with gr.Row():
                    start = gr.Slider(0, 1, value=DEFAULT_EDIT["start"], step=0.05, label="Edit from (fraction of steps)")
                    end = gr.Slider(0, 1, value=DEFAULT_EDIT["end"], step=0.05, label="…until")
                mode = gr.Radio(["asymmetric", "symmetric"], value=DEFAULT_EDIT["mode"], label="Mode")
                move = gr.Radio([("guided, each step three times", "recurrent"), ("guided through the UNet", "guided"),
                                 ("swap the class", "swap"),
                                 ("land on the target's side", "land"), ("add", "add")],
                                value=DEFAULT_EDIT["move"], label="Strength means")
        with gr.Column(scale=2):
            with gr.Row():
                original = image_out("Original (same seed, prompt and settings as Imagination)")
                edited = image_out("Edited in h-space")
            note = gr.Markdown(elem_classes=["note"])
    strip = strip_out("From −strength to +strength", columns=H_TRAVERSAL_FRAMES)
    explain(EXPLAIN + conflict_line(measured("hspace")))
    gr.Markdown(docs_line("assets/directions/FINDINGS.md", card_of(model)))
    return SimpleNamespace(prompt=prompt, attribute=attribute, target=target, strength=strength, button=button,
                           start=start, end=end, mode=mode, move=move, original=original, edited=edited, note=note,
                           strip=strip)


def _fit_layout() -> SimpleNamespace:
    """The "Fit your own direction" accordion: template, attribute, labeller, N, CSV, upload, status, plot."""
    with gr.Accordion("Fit your own direction", open=False):
        gr.Markdown("Sample *N* images from a prompt template, label them, and fit one boundary per denoising "
                    "step. Placeholders `{colour}` `{shape}` `{size}` `{background}` are filled at random. "
                    "The result stays in your session only; download it to keep it.")
        with gr.Row():
            fit_prompt = gr.Textbox(label="Prompt template", value="a {size} {shape} on a {background} background")
            fit_attribute = gr.Dropdown(list(FACTORS), value="colour", label="Attribute", allow_custom_value=True)
            labeller = gr.Radio(list(LABELLERS), value="classifier", label="Labeller")
            n_samples = gr.Slider(16, MAX_FIT_SAMPLES, value=min(128, MAX_FIT_SAMPLES), step=16, label="Samples (N)")
        with gr.Row():
            csv_file = gr.File(label="CSV of seed,label (for 'my CSV'; seeds 0..N-1)", file_types=[".csv"],
                               type="filepath")
            upload = gr.File(label="…or load a direction file (.safetensors)", file_types=[".safetensors"],
                             type="filepath")
        fit_button = gr.Button("Fit", variant="secondary")
        fit_status = gr.Markdown()
        with gr.Row():
            # no fixed height: at 260 px the legend (one entry per class) is cut off
            acc_plot = gr.LinePlot(x="step", y="accuracy", color="class", label="Held-out boundary accuracy per step",
                                   y_lim=[0.0, 1.0], x_title="denoising step", y_title="held-out accuracy",
                                   color_title="class")
            download = gr.File(label="Download your directions", interactive=False)
    return SimpleNamespace(fit_prompt=fit_prompt, fit_attribute=fit_attribute, labeller=labeller, n_samples=n_samples,
                           csv_file=csv_file, upload=upload, fit_button=fit_button, fit_status=fit_status,
                           acc_plot=acc_plot, download=download)


def _checked(models: Models, prompt, seed, attribute, target, strength, start, end, mode, move, mine):
    """Every argument checked before any sampling: (direction, siblings, the checked edit)."""
    check_prompt(prompt), check_seed(seed)
    d = _find(models, mine, attribute, target)
    siblings = _siblings(models, mine, d)
    return d, siblings, HEdit(d, strength, start, end, mode, move, siblings).check()


def _knobs(steps, guidance, negative_prompt) -> dict:
    """The Imagination tab's settings as `edits.hspace.sample` takes them (None: the model's default)."""
    return dict(num_inference_steps=steps, guidance_scale=guidance, negative_prompt=negative_prompt or "")


def _edit_handlers(models: Models, model) -> SimpleNamespace:
    """edit (/edit_h), strip_fn (its traversal strip), refresh_targets and show (the tab's first view)."""

    @friendly
    def edit(prompt, seed, attribute, target, strength, start, end, mode, move, mine, steps=None, guidance=None,
             negative_prompt=""):
        d, siblings, e = _checked(models, prompt, seed, attribute, target, strength, start, end, mode, move, mine)
        a, b = edit_pair(model, prompt, seed, d, e.strengths[0], e.start, e.end, e.mode, e.move, siblings,
                         _others(models, mine, d), **_knobs(steps, guidance, negative_prompt))
        return to_uint8(a), to_uint8(b)

    @friendly
    def strip_fn(prompt, seed, attribute, target, strength, start, end, mode, move, mine, steps=None, guidance=None,
                 negative_prompt="", original=None, edited=None):
        """The strip; `original` and `edited` (the pair just shown) are reused as its 0 and ±strength frames."""
        d, siblings, e = _checked(models, prompt, seed, attribute, target, strength, start, end, mode, move, mine)
        known = {}
        if original is not None and edited is not None and e.strengths[0]:
            known = {0.0: np.asarray(original, dtype=np.float32)[..., :3] / 255,
                     e.strengths[0]: np.asarray(edited, dtype=np.float32)[..., :3] / 255}
        alphas, imgs = traversal(model, prompt, seed, d, e.strengths[0] or DEFAULT_EDIT["strength"], H_TRAVERSAL_FRAMES,
                                 e.start, e.end, e.mode, e.move, siblings, _others(models, mine, d), known=known,
                                 **_knobs(steps, guidance, negative_prompt))
        return [(to_uint8(im), signed(a)) for a, im in zip(alphas, imgs)]

    @friendly
    def plain(prompt, seed, steps=None, guidance=None, negative_prompt=""):
        return model.generate(prompt, negative_prompt or "", seed, steps, guidance)

    def refresh_targets(attribute, mine):
        ch = _choices(models, mine, attribute)
        return gr.update(choices=ch, value=ch[0] if ch else None)

    def show(*args):
        """The first view for a seed: the edit, its strip and the prompt note; on a model without any h-space
        direction yet, the original picture and the sentence that says how to fit one."""
        prompt, seed, mine, knobs = args[0], args[1], args[9], args[10:13]  # as in _wire's edit_inputs
        if not models.h_directions and not mine:
            return (plain(prompt, seed, *knobs), None, [],
                    "No h-space direction has been fitted for this model yet: fit one under “Fit your own "
                    "direction” below (or with `python -m edits.fit hspace`), and it appears in the Target list.")
        pair = edit(*args)
        return (*pair, strip_fn(*args, *pair), note_for(model, args[0]))

    return SimpleNamespace(edit=edit, strip_fn=strip_fn, refresh_targets=refresh_targets, show=show)


def _fit_handlers(model, attrs: list[str]) -> SimpleNamespace:
    """fit (/fit_h: sample, label and fit the visitor's own directions) and load_file (an uploaded direction)."""

    @friendly
    def fit(template, attribute, labeller, n, csv_path, mine, files=None, progress=gr.Progress()):
        n = check_number(n, "N", 16, MAX_FIT_SAMPLES, integer=True)
        attribute = check_name(attribute, "attribute")
        fill_template(template, 0)  # checks the template before any sampling
        lab, seeds = chosen_labeller(LABELLERS, labeller, attribute, csv_path, n)
        progress(0, desc="sampling")
        samples = collect_h(model, template, seeds, batch_size=LONG_JOB_BATCH,
                            progress=lambda f: progress(0.9 * f, desc="sampling"))
        progress(0.9, desc="labelling and fitting")
        labels = lab(samples.images, seeds=samples.seeds)
        dirs = fit_h(samples, list(labels), attribute, model.name, LABELLERS[labeller], h_shape(model), template=template)
        mine = merged(mine, {d.label: d for d in dirs.values()})  # a refit attribute replaces its earlier fit
        rows = [{"step": i, "accuracy": a, "class": c} for c, d in dirs.items() for i, a in enumerate(d.meta["accuracy"])]
        files, folder = session_folder(files)
        # Files are named by index, never by the user's attribute or class names.
        paths = [str(d.save_in(folder, f"h_{i:02d}")) for i, d in enumerate(dirs.values())]
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(dirs[next(iter(dirs))].meta["class_counts"].items()))
        msg = (f"Fitted {len(dirs)} direction(s) for **{attribute}** from {len(seeds)} samples ({counts}). "
               f"Mean held-out accuracy {np.mean([np.mean(d.meta['accuracy']) for d in dirs.values()]):.2f}. "
               "They are now in the Target list.")
        return (mine, pd.DataFrame(rows), paths, msg, gr.update(value=attribute, choices=sorted(set(attrs) | {attribute})),
                files)

    @friendly
    def load_file(path, mine):
        if not path:
            return mine, gr.update()
        d = Direction.load(path)
        if d.meta.get("space") != "h":
            raise DirectionError("This direction was fitted in another space (not h-space).")
        d.check_compatible(h_shape(model, check_number(d.meta.get("skip_levels", 0), "The file's skip_levels", 0, 8,
                                                       integer=True)))
        return {**(mine or {}), d.label: d}, f"Loaded **{d.label}** ({d.meta.get('samples', '?')} samples)."

    return SimpleNamespace(fit=fit, load_file=load_file)


def _wire(model, ui: SimpleNamespace, fit_ui: SimpleNamespace, seed: gr.Number, mine: gr.State, files: gr.State,
          h: SimpleNamespace, f: SimpleNamespace, knobs: list) -> dict:
    """The tab's events (endpoints /edit_h and /fit_h) and its first view; `knobs` (steps, guidance, negative
    prompt) are /edit_h's last arguments."""
    edit_inputs = [ui.prompt, seed, ui.attribute, ui.target, ui.strength, ui.start, ui.end, ui.mode, ui.move, mine,
                   *knobs]
    ev = gr.on([ui.button.click, ui.prompt.submit, ui.strength.release], h.edit, edit_inputs, [ui.original, ui.edited],
               api_name="edit_h", concurrency_id=MODEL, concurrency_limit=CONCURRENCY[MODEL], show_progress="minimal",
               trigger_mode="always_last")
    ev.then(lambda p: note_for(model, p), ui.prompt, ui.note, api_name=False, queue=False)
    ev.then(h.strip_fn, [*edit_inputs, ui.original, ui.edited], ui.strip, api_name=False, concurrency_id=MODEL,
            concurrency_limit=CONCURRENCY[MODEL], show_progress="minimal")
    ui.move.change(lambda m: gr.update(info=STRENGTH_INFO.get(m, "")), ui.move, ui.strength, api_name=False,
                   queue=False)
    ui.attribute.change(h.refresh_targets, [ui.attribute, mine], ui.target, api_name=False, queue=False)
    fit_ui.fit_button.click(f.fit, [fit_ui.fit_prompt, fit_ui.fit_attribute, fit_ui.labeller, fit_ui.n_samples,
                                    fit_ui.csv_file, mine, files],
                            [mine, fit_ui.acc_plot, fit_ui.download, fit_ui.fit_status, ui.attribute, files],
                            api_name="fit_h", concurrency_id=LONG, concurrency_limit=CONCURRENCY[LONG],
                            show_progress="full")
    fit_ui.upload.upload(f.load_file, [fit_ui.upload, mine], [mine, fit_ui.fit_status], api_name=False)
    return {"refresh": (h.show, edit_inputs, [ui.original, ui.edited, ui.strip, ui.note])}

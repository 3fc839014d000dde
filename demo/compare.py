"""Imagination next to potentiality: one seed, one target change, three methods, measured side by side."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pandas as pd

from edits.compare import METHODS, TITLES, compare_batch, factors_from_prompt, summarise
from edits.directions import merged
from edits.labelers import FACTORS
from edits.pipeline import check_name, check_number, check_prompt, check_seed
from toyworld.settings import LONG_JOB_BATCH, MAX_COMPARE_SEEDS

from .common import Models, Own, explain, friendly, image_out, lead
from .sharing import CONCURRENCY, LONG, MODEL

UNSAID = "(unsaid)"

LEAD = "One wish — *make it blue* — granted three ways from the same seed, each measured."

EXPLAIN = """
The same wish — *make it blue*, *make it a star* — granted three ways. **Imagination** rewrites the
prompt: the model composes a new scene from the words. **Potentiality** keeps what the model was given and
moves its inner code instead: in the diffusion model's bottleneck (**h-space**), and in the StyleGAN's
**W space**, along directions learnt from labelled pictures.

Each column shows the picture before and after, and three measurements: **target reached** (the colour
read from the pixels, the rest by a small classifier), **other factors kept** (shape, size, background…
unchanged), and **distance** (0 = the same picture, larger = more of it changed).

The *before* pictures can differ for one seed: the h-space column leaves the edited attribute out of its
prompt, so that the direction — not the words — decides it (it runs on the Imagination model itself); the
StyleGAN has no prompt at all: with an encoder it starts from the Imagination picture brought into its W space
(its redrawing is shown), without one from its seed's own scene. *Run over many seeds* counts how often each
method succeeds.
"""


def _badge(col) -> str:
    if col.original is None:
        return f"*{col.note or 'not available'}*"
    mark = {True: "✅", False: "❌"}
    reached = "already there" if col.already else ("reached" if col.reached else "not reached")
    read = col.labels["edited"]
    return (f"{mark[bool(col.reached)]} target {reached} · {mark[bool(col.kept)]} other factors "
            f"{'kept' if col.kept else 'changed'} · distance **{col.distance:.3f}**  \n"
            f"<small>read after the edit: {read['size']} {read['colour']} {read['shape']} on {read['background']}</small>")


def create_tab(models: Models, seed: gr.Number, own: Own | None = None) -> dict:
    """The Side-by-side tab: its components (`_layout`), its handlers (`_handlers`), their events (`_wire`); the
    h-space and W-space columns use the visitor's own directions (`own`) over the shipped ones."""
    lead(LEAD)
    ui = _layout()
    return _wire(ui, seed, own or Own.states(), *_handlers(models))


def _layout() -> SimpleNamespace:
    """The controls, the three before/after columns (`cols`: method -> (before, after, badge)) and the
    many-seeds accordion, in the order the page shows them."""
    cols = {}
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            with gr.Row():
                attribute = gr.Radio(["colour", "shape"], value="colour", label="Change the")
                target = gr.Dropdown(list(FACTORS["colour"]), value="blue", label="…to", allow_custom_value=True)
            button = gr.Button("Compare on this seed", variant="primary")
            with gr.Accordion("Base scene (default: a large red circle on a white background)", open=False):
                with gr.Row():
                    size = gr.Dropdown([UNSAID, *FACTORS["size"]], value="large", label="Size", min_width=100)
                    colour = gr.Dropdown([UNSAID, *FACTORS["colour"]], value="red", label="Colour", min_width=100)
                with gr.Row():
                    shape = gr.Dropdown([UNSAID, *FACTORS["shape"]], value="circle", label="Shape", min_width=100)
                    background = gr.Dropdown([UNSAID, *FACTORS["background"]], value="white", label="Background",
                                             min_width=100)
                base_prompt = gr.Textbox(label="…or a base prompt (overrides the four above)", max_lines=1,
                                         placeholder="a small yellow square on a black background")
        with gr.Column(scale=3):
            with gr.Row():
                for m in METHODS:
                    with gr.Column(min_width=270):
                        gr.Markdown(f"**{TITLES[m]}**")
                        a, b = image_out("before"), image_out("after")
                        cols[m] = (a, b, gr.Markdown())
    explain(EXPLAIN)
    with gr.Accordion("Run over many seeds", open=False):
        gr.Markdown("The same base scene and target over the seeds *seed, seed+1, …*: how often does each "
                    "method reach the target, and what does it keep? (Success and preservation count only "
                    "seeds whose unedited image did not already show the target.)")
        with gr.Row():
            n_seeds = gr.Slider(2, MAX_COMPARE_SEEDS, value=min(8, MAX_COMPARE_SEEDS), step=1, label="N seeds")
            run_many = gr.Button("Run over N seeds", variant="primary")
        table = gr.Dataframe(headers=["method", "target reached", "other factors kept", "distance (1 − SSIM)", "n"],
                             interactive=False)
    return SimpleNamespace(attribute=attribute, target=target, button=button, size=size, colour=colour, shape=shape,
                           background=background, base_prompt=base_prompt, cols=cols, n_seeds=n_seeds,
                           run_many=run_many, table=table)


def _base_of(size, colour, shape, background, prompt):
    prompt = check_prompt(prompt, "base prompt")
    if prompt:
        return factors_from_prompt(prompt)
    return {k: v for k, v in dict(size=size, colour=colour, shape=shape, background=background).items()
            if v and v != UNSAID}


def _handlers(models: Models):
    """(run_one, run_n, refresh_targets): one seed's three columns, the table over N seeds, the target list."""

    @friendly
    def run_one(seed, size, colour, shape, background, prompt, attribute, target, mine_h=None, mine_w=None):
        attribute, target = check_name(attribute, "attribute"), check_name(target, "target")
        base = _base_of(size, colour, shape, background, prompt)
        row = compare_batch(models.diffusion, models.gan, merged(models.h_directions, mine_h),
                            merged(models.w_directions, mine_w), [seed], [base], [attribute], [target],
                            h_diffusion=models.h_diffusion)[0]
        out = []
        for m in METHODS:
            c = row[m]
            out += [c.original, c.edited, _badge(c)]
        return out

    @friendly
    def run_n(seed, size, colour, shape, background, prompt, attribute, target, n, mine_h=None, mine_w=None,
              progress=gr.Progress()):
        n = check_number(n, "N", 1, MAX_COMPARE_SEEDS, integer=True)
        first = check_seed(seed)
        attribute, target = check_name(attribute, "attribute"), check_name(target, "target")
        seeds = [(first + i) % 2**32 for i in range(n)]
        base = _base_of(size, colour, shape, background, prompt)
        rows = compare_batch(models.diffusion, models.gan, merged(models.h_directions, mine_h),
                             merged(models.w_directions, mine_w), seeds, [base] * n, [attribute] * n, [target] * n,
                             progress=lambda f: progress(f, desc="sampling and measuring"),
                             batch_size=max(1, LONG_JOB_BATCH // 2),
                             h_diffusion=models.h_diffusion)
        summ = summarise(rows)
        return pd.DataFrame([[TITLES[m], s["success"], s["preservation"], s["distance"], s["n"]]
                             for m, s in summ.items()],
                            columns=["method", "target reached", "other factors kept", "distance (1 − SSIM)", "n"])

    def refresh_targets(attribute):
        values = list(FACTORS.get(attribute, ()))
        return gr.update(choices=values, value="blue" if "blue" in values else "star")

    return run_one, run_n, refresh_targets


def _wire(ui: SimpleNamespace, seed: gr.Number, own: Own, run_one, run_n, refresh_targets) -> dict:
    """The tab's events (endpoints /compare and /compare_many) and its first view."""
    inputs = [seed, ui.size, ui.colour, ui.shape, ui.background, ui.base_prompt, ui.attribute, ui.target]
    outputs = [x for m in METHODS for x in ui.cols[m]]
    gr.on([ui.button.click, ui.base_prompt.submit], run_one, [*inputs, own.h, own.w], outputs, api_name="compare",
          concurrency_id=MODEL, concurrency_limit=CONCURRENCY[MODEL], show_progress="minimal")
    ui.run_many.click(run_n, [*inputs, ui.n_seeds, own.h, own.w], ui.table, api_name="compare_many",
                      concurrency_id=LONG, concurrency_limit=CONCURRENCY[LONG], show_progress="full")
    ui.attribute.change(refresh_targets, ui.attribute, ui.target, api_name=False, queue=False)
    return {"refresh": (run_one, [*inputs, own.h, own.w], outputs)}

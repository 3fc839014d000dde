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
from toyworld.world import HELDOUT

from .common import Models, Own, explain, friendly, image_out, lead, measured
from .sharing import CONCURRENCY, LONG, MODEL

UNSAID = "(unsaid)"

LEAD = "One starting picture, one wish — *make it blue* — granted three ways, each scored."

EXPLAIN = """
The same wish — *make it blue*, *make it a star* — granted three ways to **one starting picture**: the base
scene with the attribute you change left unsaid ("a large circle on a white background"), drawn at the seed
with the Imagination tab's settings (steps, guidance, negative prompt). It is the *before* of every column.

**Imagination** says the target in the prompt ("a large blue circle on a white background", same seed): the
model composes a new scene from the words. **Potentiality** keeps what the model was given and moves its
inner code instead: in the diffusion model's bottleneck (**h-space**, the same sampling with the h-space tab's
edit), and in the StyleGAN's **W space**: the starting picture is brought into W by the GAN's encoder, drawn
again (shown: the round trip loses some of it), then moved along the W direction.

Every picture is read by an independent judge (it redraws the scene with the toy world's own renderer; it
shares nothing with the labellers the directions were fitted with). An edit is **clean** when the target is
reached *and* every other factor (shape, size, background, colour) is kept, on the same edit: an edit that
does nothing is never clean. The W edit is scored from its round trip, which is read apart. **Distance**: 0 =
the same picture, larger = more of it changed. *Run over many seeds* counts clean edits, with a 95 % interval.
"""


def _rate(s: dict, key: str) -> str:
    ci = s.get(f"clean_edit_ci_{key}")
    rate = s.get(f"clean_edit_rate_{key}")
    return "—" if rate is None else f"{rate:.2f}" + (f" [{ci[0]:.2f}–{ci[1]:.2f}]" if ci else "")


def heldout_sentence(m: dict) -> str:
    """What `python -m benchmarks heldout` measured (assets/measured/heldout.json), in one sentence; every
    number from that file."""
    if not m:
        return "<small>Not measured yet: `python -m benchmarks heldout`.</small>"
    names = {"conditioning": "the prompt", "hspace": "h-space", "wspace": "W"}
    parts = [f"{names[k]} {_rate(m[k], 'heldout')} against {_rate(m[k], 'seen')}" for k in names if k in m]
    n = m.get("rows_per_group", "?")
    return (f"<small>Measured (`heldout.json`) over {n} starting pictures asked to become one of these pairs and "
            f"{n} asked to become a seen pair of the same colours and shapes; clean edits, unseen against seen, "
            f"with 95 % intervals: {'; '.join(parts)}.</small>")


def heldout_case(pair: str):
    """The controls for one held-out pair, e.g. 'red star': a star with its colour unsaid, made red (the base
    scene's accordion opened, so that the visitor sees what was set)."""
    colour, shape = next(((c, s) for c, s in HELDOUT if f"{c} {s}" == pair), HELDOUT[0])
    return (gr.update(value="colour"), gr.update(choices=list(FACTORS["colour"]), value=colour), UNSAID, shape, "",
            gr.update(open=True))


def _scene(read: dict) -> str:
    return " ".join(str(read.get(k) or "?") for k in ("size", "colour", "shape")) + f" on {read.get('background') or '?'}"


def _badge(col) -> str:
    if col.original is None:
        return f"*{col.note or 'not available'}*"
    mark = {True: "✅", False: "❌"}
    s = col.score
    if s is None:
        head = "*not scored*"
    elif not s.valid_before:
        head = "the judge finds no clean scene before the edit: not scored"
    elif s.already:
        head = "the picture before already shows the target: not scored"
    else:
        head = (f"{mark[s.clean]} **{'clean edit' if s.clean else 'not clean'}** · {mark[s.reached]} target "
                f"{'reached' if s.reached else 'not reached'} · {mark[s.kept]} other factors "
                f"{'kept' if s.kept else 'changed'}")
    lines = [f"{head} · distance **{col.distance:.3f}**"]
    if col.redrawn is not None and "redrawn" in col.labels:
        trip = {True: "kept every factor", False: "changed the scene",
                None: "started from no clean scene"}[col.inversion_kept]
        lines.append(f"<small>brought into W: read as {_scene(col.labels['redrawn'])} (the round trip {trip}); "
                     "the edit is scored from there</small>")
    lines.append(f"<small>read after the edit: {_scene(col.labels.get('edited', {}))}</small>")
    if col.note:
        lines.append(f"<small>{col.note}</small>")
    return "  \n".join(lines)


def create_tab(models: Models, seed: gr.Number, own: Own | None = None, knobs: list | None = None) -> dict:
    """The Side-by-side tab: its components (`_layout`), its handlers (`_handlers`), their events (`_wire`); the
    h-space and W-space columns use the visitor's own directions (`own`) over the shipped ones. `knobs`: the
    Imagination tab's steps, guidance and negative prompt, the endpoints' last inputs."""
    lead(LEAD)
    ui = _layout()
    return _wire(ui, seed, own or Own.states(), knobs or [gr.State(None), gr.State(None), gr.State("")],
                 *_handlers(models))


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
            gr.Markdown("**Pairs no model ever saw** (left out of every training set): ask for one, on this seed")
            with gr.Row():
                unseen = [gr.Button(f"{c} {s}", size="sm", min_width=120) for c, s in HELDOUT]
            gr.Markdown(heldout_sentence(measured("heldout")))
            with gr.Accordion("Base scene (what you change is left unsaid)", open=False) as base_scene:
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
                        a = image_out("before (the starting picture)")
                        if m == "wspace":
                            redrawn = image_out("brought into W (the encoder's code, drawn again)")
                        b = image_out("after")
                        cols[m] = (a, b, gr.Markdown())
    explain(EXPLAIN)
    with gr.Accordion("Run over many seeds", open=False):
        gr.Markdown("The same base scene and target over the seeds *seed, seed+1, …*: how often is each "
                    "method's edit clean (target reached and everything else kept, on the same edit)? Seeds "
                    "whose starting picture already shows the target are counted apart.")
        with gr.Row():
            n_seeds = gr.Slider(2, MAX_COMPARE_SEEDS, value=min(8, MAX_COMPARE_SEEDS), step=1, label="N seeds")
            run_many = gr.Button("Run over N seeds", variant="primary")
        table = gr.Dataframe(headers=TABLE, interactive=False)
    return SimpleNamespace(attribute=attribute, target=target, button=button, size=size, colour=colour, shape=shape,
                           background=background, base_prompt=base_prompt, cols=cols, redrawn=redrawn,
                           n_seeds=n_seeds, run_many=run_many, table=table, unseen=unseen,
                           base_scene=base_scene)


def _base_of(size, colour, shape, background, prompt):
    prompt = check_prompt(prompt, "base prompt")
    if prompt:
        return factors_from_prompt(prompt)
    return {k: v for k, v in dict(size=size, colour=colour, shape=shape, background=background).items()
            if v and v != UNSAID}


TABLE = ["method", "clean edits", "95 % interval", "target reached", "other factors kept", "n", "already there"]


def _table_row(m: str, s: dict) -> list:
    ci = s.get("clean_edit_ci")
    return [TITLES.get(m, m), s["clean_edit_rate"], "—" if not ci else f"{ci[0]:.2f}–{ci[1]:.2f}", s["reached"],
            s["kept"], s["n"], s["already"]]


def _knobs(steps, guidance, negative_prompt) -> dict:
    """The Imagination tab's settings as `compare_batch` takes them (None: the model's default)."""
    return dict(num_inference_steps=steps, guidance_scale=guidance, negative_prompt=negative_prompt or "")


def _handlers(models: Models):
    """(run_one, run_n, refresh_targets): one seed's three columns, the table over N seeds, the target list."""

    @friendly
    def run_one(seed, size, colour, shape, background, prompt, attribute, target, steps=None, guidance=None,
                negative_prompt="", mine_h=None, mine_w=None):
        attribute, target = check_name(attribute, "attribute"), check_name(target, "target")
        base = _base_of(size, colour, shape, background, prompt)
        row = compare_batch(models.diffusion, models.gan, merged(models.h_directions, mine_h),
                            merged(models.w_directions, mine_w), [seed], [base], [attribute], [target],
                            h_diffusion=models.h_diffusion, **_knobs(steps, guidance, negative_prompt))[0]
        out = []
        for m in METHODS:
            c = row[m]
            out += [c.original, c.edited, _badge(c)]
        return [*out, row["wspace"].redrawn]

    @friendly
    def run_n(seed, size, colour, shape, background, prompt, attribute, target, n, steps=None, guidance=None,
              negative_prompt="", mine_h=None, mine_w=None, progress=gr.Progress()):
        n = check_number(n, "N", 1, MAX_COMPARE_SEEDS, integer=True)
        first = check_seed(seed)
        attribute, target = check_name(attribute, "attribute"), check_name(target, "target")
        seeds = [(first + i) % 2**32 for i in range(n)]
        base = _base_of(size, colour, shape, background, prompt)
        rows = compare_batch(models.diffusion, models.gan, merged(models.h_directions, mine_h),
                             merged(models.w_directions, mine_w), seeds, [base] * n, [attribute] * n, [target] * n,
                             progress=lambda f: progress(f, desc="sampling and measuring"),
                             batch_size=max(1, LONG_JOB_BATCH // 2),
                             h_diffusion=models.h_diffusion, **_knobs(steps, guidance, negative_prompt))
        return pd.DataFrame([_table_row(m, s) for m, s in summarise(rows).items()], columns=TABLE)

    def refresh_targets(attribute):
        values = list(FACTORS.get(attribute, ()))
        return gr.update(choices=values, value="blue" if "blue" in values else "star")

    return run_one, run_n, refresh_targets


def _wire(ui: SimpleNamespace, seed: gr.Number, own: Own, knobs: list, run_one, run_n, refresh_targets) -> dict:
    """The tab's events (endpoints /compare and /compare_many, whose last arguments are the shared `knobs`;
    the visitor's own directions `own` follow as hidden states) and its first view. /compare's outputs:
    (before, after, badge) per method, then W's redrawing."""
    inputs = [seed, ui.size, ui.colour, ui.shape, ui.background, ui.base_prompt, ui.attribute, ui.target]
    one = [*inputs, *knobs, own.h, own.w]  # /compare's arguments
    outputs = [*[x for m in METHODS for x in ui.cols[m]], ui.redrawn]
    queue = dict(concurrency_id=MODEL, concurrency_limit=CONCURRENCY[MODEL], show_progress="minimal")
    gr.on([ui.button.click, ui.base_prompt.submit], run_one, one, outputs, api_name="compare", **queue)
    ui.run_many.click(run_n, [*inputs, ui.n_seeds, *knobs, own.h, own.w], ui.table, api_name="compare_many",
                      concurrency_id=LONG, concurrency_limit=CONCURRENCY[LONG], show_progress="full")
    ui.attribute.input(refresh_targets, ui.attribute, ui.target, api_name=False, queue=False)
    for b in ui.unseen:  # a held-out pair: set the controls, then compare as the button above does
        b.click(heldout_case, b, [ui.attribute, ui.target, ui.colour, ui.shape, ui.base_prompt, ui.base_scene],
                api_name=False, queue=False).then(run_one, one, outputs, api_name=False, **queue)
    return {"refresh": (run_one, one, outputs)}

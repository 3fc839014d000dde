"""The Gradio UI: one module per tab, each with `create_tab(models, seed, knobs)`; no tensor maths here.

`knobs` are the Imagination tab's sampling settings (steps, guidance, negative prompt), made there and
shared with the tabs built after it that draw with the diffusion model."""
from __future__ import annotations

import gradio as gr

from toyworld.settings import CACHE_SWEEP_S, MAX_FILE_SIZE, SESSION_FILES, SESSION_TTL_S

from . import archive, compare, explore, hspace, imagination, wspace
from .common import CSS, FirstViews, Models, Own, lazy, lenient_inputs, new_seed, seed_controls, sweep_session_files
from .sharing import CONCURRENCY, GAN, LONG, MODEL, setup_queue

TITLE = "Imagination & Potentiality — steering image generators"
INTRO = """
# Imagination & Potentiality
Two ways to steer an image generator from one seed: **imagination** changes the *prompt*;
**potentiality** keeps it and moves the model's inner *code* along a direction it already holds.
"""

# (id, tab label, how to build it); short labels so that the tab bar stays readable on a phone
# (each also gets the visitor's own directions, `Own`, which the h and W tabs fit and every other tab reads, and the
# Imagination tab's steps, guidance and negative prompt, `knobs`, which the tabs after it share)
TABS = [
    ("imagination", "Imagination", lambda m, s, o, k: imagination.create_tab(m, s)),
    ("hspace", "Potentiality: h-space", lambda m, s, o, k: hspace.create_tab(m, s, o, k)),
    ("wspace", "Potentiality: W space", lambda m, s, o, k: wspace.create_tab(m, s, o)),
    ("compare", "Side by side", lambda m, s, o, k: compare.create_tab(m, s, o, k)),
    ("walks", "Latent walks", lambda m, s, o, k: explore.create_walk_tab(m, s, o, k)),
    ("atlas", "Direction atlas", lambda m, s, o, k: explore.create_atlas_tab(m, o)),
    ("archive", "Archive", lambda m, s, o, k: archive.create_tab(m, s)),
]
QUEUE = {"wspace": GAN, "walks": LONG, "atlas": None, "archive": GAN}  # the queue of each tab's first view (default: MODEL)
SHARED = {"imagination", "hspace", "compare", "archive"}  # first views shared between visitors (pictures, no files)


def build(models: Models) -> gr.Blocks:
    """The page: a header, the shared seed, and the tabs.

    Each tab shows a result for the shared seed when it is first opened (computed then, not at start-up)
    and again whenever the seed changes while it is open; a tab keeps the seed it drew in a gr.State, so
    going back to it costs nothing. A new seed runs one job: the view of the tab on show (a job per tab
    would meet the per-visitor limit of demo.sharing).
    """
    sweep_session_files()
    # Gradio's cache (every image and file handed to a visitor) is swept of files older than a session.
    with gr.Blocks(title=TITLE, delete_cache=(CACHE_SWEEP_S, SESSION_TTL_S)) as blocks:
        gr.Markdown(INTRO, elem_id="header")
        seed, dice = seed_controls()
        current = gr.State(TABS[0][0])  # the tab on show
        own = Own.states()  # the visitor's own directions, shared by the tabs
        built, knobs = [], None  # knobs: the Imagination tab's settings, shared with the tabs after it
        with gr.Tabs(overflow_behavior="wrap", elem_id="tabs"):
            for key, label, make in TABS:
                with gr.Tab(label, id=key, elem_id=f"tab-{key}") as tab:
                    made = make(models, seed, own, knobs)
                    knobs = made.get("knobs", knobs)
                    built.append((key, tab, made.get("refresh"), made.get("drawn")))
        views = []  # (the States live outside gr.Tabs: a State among the tabs confuses the tab bar)
        shared = FirstViews()
        for key, tab, refresh, first in built:
            if refresh is None:
                continue
            fn, inputs, outputs = refresh
            drawn = gr.State(first)  # the seed this tab's first view was drawn for (None: not yet)
            run = lazy(key, fn, len(outputs), shared if key in SHARED else None)
            views.append((key, tab, run, [drawn, *inputs], [*outputs, drawn]))

        for key, tab, run, inputs, outputs in views:
            group = QUEUE.get(key, MODEL)
            kw = dict(api_name=False, show_progress="minimal")
            kw.update(queue=False) if group is None else kw.update(concurrency_id=group,
                                                                   concurrency_limit=CONCURRENCY[group])
            tab.select(lambda k=key: k, None, current, api_name=False, queue=False).then(
                run, [current, seed, *inputs], outputs, **kw)
            if key == TABS[0][0]:
                blocks.load(run, [current, seed, *inputs], outputs, **kw)

        def redraw(current, seed, *flat):
            """The view of the tab on show for a new seed; every other tab skips (and redraws when opened)."""
            out, i = [], 0
            for _, _, run, inputs, outputs in views:
                out += run(current, seed, *flat[i:i + len(inputs)])
                i += len(inputs)
            return out

        all_inputs = [current, seed, *[c for v in views for c in v[3]]]
        all_outputs = [c for v in views for c in v[4]]
        redraw_kw = dict(api_name=False, show_progress="minimal", concurrency_id=MODEL,
                         concurrency_limit=CONCURRENCY[MODEL])
        dice.click(new_seed, None, seed, api_name=False, queue=False).then(redraw, all_inputs, all_outputs, **redraw_kw)
        seed.submit(redraw, all_inputs, all_outputs, **redraw_kw)
    lenient_inputs(blocks)
    return setup_queue(blocks)


def launch_kwargs() -> dict:
    # show_error=False: an unexpected exception never sends its text (paths, internals) to a visitor;
    # every expected problem is a gr.Error with its own sentence (demo.common.friendly).
    # allowed_paths: the session folders may lie outside the system's temporary folder (SESSION_FILES).
    return {"css": CSS, "theme": gr.themes.Soft(), "show_error": False, "max_file_size": MAX_FILE_SIZE,
            "allowed_paths": [str(SESSION_FILES)]}


__all__ = ["Models", "build", "launch_kwargs"]

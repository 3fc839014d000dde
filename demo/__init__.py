"""The Gradio UI: one module per tab, each with `create_tab(models, seed)`; no tensor maths here."""
from __future__ import annotations

import gradio as gr

from toyworld.settings import CACHE_SWEEP_S, MAX_FILE_SIZE, SESSION_FILES, SESSION_TTL_S

from . import compare, explore, hspace, imagination, wspace
from .common import CSS, Models, lenient_inputs, new_seed, seed_controls, sweep_session_files
from .sharing import CONCURRENCY, GAN, MODEL, setup_queue

TITLE = "Imagination & Potentiality — steering image generators"
INTRO = """
# Imagination & Potentiality
Two ways to steer an image generator, on the same seed: **imagination** changes the *prompt*
(conditioning); **potentiality** keeps the prompt and moves the *latent code* along a direction
the model already holds (disentanglement).
"""


def build(models: Models) -> gr.Blocks:
    sweep_session_files()
    # Gradio's cache (every image and file handed to a visitor) is swept of files older than a session.
    with gr.Blocks(title=TITLE, delete_cache=(CACHE_SWEEP_S, SESSION_TTL_S)) as blocks:
        gr.Markdown(INTRO)
        seed, dice = seed_controls()
        refreshers = []
        with gr.Tabs():
            with gr.Tab("Imagination — conditioning"):
                refreshers.append((imagination.create_tab(models, seed)["refresh"], MODEL))
            with gr.Tab("Potentiality — h-space"):
                refreshers.append((hspace.create_tab(models, seed)["refresh"], MODEL))
            with gr.Tab("Potentiality — W space (StyleGAN)"):
                refreshers.append((wspace.create_tab(models, seed)["refresh"], GAN))
            with gr.Tab("Side by side — compare"):
                compare.create_tab(models, seed)
            with gr.Tab("Latent walks"):
                explore.create_walk_tab(models, seed)
            with gr.Tab("Direction atlas"):
                atlas = explore.create_atlas_tab(models)["refresh"]
        refreshers = [(r, cid) for r, cid in refreshers if r is not None]
        event = dice.click(new_seed, None, seed, api_name=False, queue=False)
        for (fn, inputs, outputs), cid in refreshers:
            event.then(fn, inputs, outputs, api_name=False, concurrency_id=cid, concurrency_limit=CONCURRENCY[cid],
                       show_progress="minimal")
        (fn, inputs, outputs), cid = refreshers[0]
        blocks.load(fn, inputs, outputs, api_name=False, concurrency_id=cid, concurrency_limit=CONCURRENCY[cid])
        blocks.load(*atlas, api_name=False, queue=False)
    lenient_inputs(blocks)
    return setup_queue(blocks)


def launch_kwargs() -> dict:
    # show_error=False: an unexpected exception never sends its text (paths, internals) to a visitor;
    # every expected problem is a gr.Error with its own sentence (demo.common.friendly).
    # allowed_paths: the session folders may lie outside the system's temporary folder (SESSION_FILES).
    return {"css": CSS, "theme": gr.themes.Soft(), "show_error": False, "max_file_size": MAX_FILE_SIZE,
            "allowed_paths": [str(SESSION_FILES)]}


__all__ = ["Models", "build", "launch_kwargs"]

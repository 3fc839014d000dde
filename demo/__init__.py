"""The Gradio UI: one module per tab, each with `create_tab(models, seed)`; no tensor maths here."""
from __future__ import annotations

import gradio as gr

from . import compare, explore, hspace, imagination, wspace
from .common import CSS, Models, new_seed, seed_controls

TITLE = "Imagination & Potentiality — steering image generators"
INTRO = """
# Imagination & Potentiality
Two ways to steer an image generator, on the same seed: **imagination** changes the *prompt*
(conditioning); **potentiality** keeps the prompt and moves the *latent code* along a direction
the model already holds (disentanglement).
"""


def build(models: Models) -> gr.Blocks:
    with gr.Blocks(title=TITLE) as blocks:
        gr.Markdown(INTRO)
        seed, dice = seed_controls()
        refreshers = []
        with gr.Tabs():
            with gr.Tab("Imagination — conditioning"):
                refreshers.append(imagination.create_tab(models, seed)["refresh"])
            with gr.Tab("Potentiality — h-space"):
                refreshers.append(hspace.create_tab(models, seed)["refresh"])
            with gr.Tab("Potentiality — W space (StyleGAN)"):
                refreshers.append(wspace.create_tab(models, seed)["refresh"])
            with gr.Tab("Side by side — compare"):
                compare.create_tab(models, seed)
            with gr.Tab("Latent walks"):
                explore.create_walk_tab(models, seed)
            with gr.Tab("Direction atlas"):
                atlas = explore.create_atlas_tab(models)["refresh"]
        refreshers = [r for r in refreshers if r is not None]
        event = dice.click(new_seed, None, seed, api_name=False, queue=False)
        for fn, inputs, outputs in refreshers:
            event.then(fn, inputs, outputs, api_name=False, concurrency_id="model", show_progress="minimal")
        blocks.load(*refreshers[0], api_name=False, concurrency_id="model")
        blocks.load(*atlas, api_name=False, queue=False)
    blocks.queue(default_concurrency_limit=1, max_size=64)
    return blocks


def launch_kwargs() -> dict:
    return {"css": CSS, "theme": gr.themes.Soft(), "show_error": True}


__all__ = ["Models", "build", "launch_kwargs"]

"""Imagination — conditioning: change the prompt, and the model composes what it is told."""
from __future__ import annotations

import gradio as gr

from .common import KNOBS_LABEL, Models, explain, friendly, image_out, lead, model_name, note_for, sampling_knobs
from .sharing import BATCHED, CONCURRENCY

LEAD = "Tell the model what to draw: it composes a picture from your words. **Change the prompt, keep the seed.**"

EXPLAIN = """
A small diffusion model turns random **noise** into a picture, step by step, while reading your **prompt**.
The seed fixes the noise; the prompt steers what the noise becomes. This is **conditioning**, or
*imagination*: you tell the model something new and it composes it — even combinations it never saw
while learning (a red star, a green square, a blue triangle and a pink circle were kept out).

The model knows a toy world of coloured shapes: colours, four shapes, three sizes, a few backgrounds.
Words outside that world are named under the picture. Leave something unsaid ("a large circle on a white
background") and the model picks it from the noise: change the seed to see which.

*Steps*: how many denoising steps (more is slower, rarely better here). *Guidance*: how strongly the
prompt is followed. *Negative prompt*: what to steer away from.
"""

EXAMPLES = [
    ["a large red circle on a white background"],
    ["a small blue star on a black background"],
    ["a medium yellow triangle on a gray background"],
    ["a large circle on a beige background"],
    ["a red star on a white background"],
    ["a photo of a cat riding a bicycle"],
]


def first_picture(model, seed: int):
    """The page's first picture (the first example, the page's seed, default settings), drawn while the page
    is built so that it is in the page itself: a visitor sees it without waiting for a job. Only for the
    embedded model, whose picture takes a fraction of a second; None otherwise, or if drawing fails."""
    if not getattr(model, "is_embedded", False):
        return None
    try:
        return model.generate(EXAMPLES[0][0], "", seed, model.default_steps, model.default_guidance)
    except Exception:  # the page still works: the first view is then drawn when it opens
        return None


def create_tab(models: Models, seed: gr.Number) -> dict:
    """The Imagination tab; its settings (steps, guidance, negative prompt) are the page's `knobs`, which it
    returns for the tabs built after it."""
    model = models.diffusion
    first = first_picture(model, int(seed.value))
    lead(f"{LEAD} Drawn by *{model_name(model)}*.")
    with gr.Row():
        with gr.Column(scale=1):
            prompt = gr.Textbox(label="Prompt", value=EXAMPLES[0][0], max_lines=2,
                                placeholder="e.g. a small green triangle on a black background")
            button = gr.Button("Generate", variant="primary")
            with gr.Accordion(KNOBS_LABEL, open=False):
                steps, guidance, negative = sampling_knobs(model)
        with gr.Column(scale=1):
            image = image_out("Image", first)
            note = gr.Markdown(note_for(model, EXAMPLES[0][0]) if first is not None else "", elem_classes=["note"])
    gr.Examples(EXAMPLES, inputs=[prompt], label="Example prompts", cache_examples=False)
    explain(EXPLAIN)

    @friendly
    def generate(prompt, negative_prompt, seed, num_inference_steps, guidance_scale):
        # requests of several visitors arriving together are drawn in one batch (edits.batching)
        return model.batcher.generate(prompt, negative_prompt, seed, num_inference_steps, guidance_scale)

    def show(prompt, negative_prompt, seed, num_inference_steps, guidance_scale):
        return generate(prompt, negative_prompt, seed, num_inference_steps, guidance_scale), note_for(model, prompt)

    inputs = [prompt, negative, seed, steps, guidance]
    ev = gr.on([button.click, prompt.submit, negative.submit], generate, inputs, image,
               api_name="generate", concurrency_id=BATCHED, concurrency_limit=CONCURRENCY[BATCHED],
               show_progress="minimal")
    ev.then(lambda p: note_for(model, p), prompt, note, api_name=False, queue=False)
    # "drawn": the seed whose first view is already on the page (then opening the page runs no job)
    return {"refresh": (show, inputs, [image, note]), "drawn": None if first is None else int(seed.value),
            "knobs": [steps, guidance, negative]}

"""Imagination — conditioning: change the prompt, and the model composes what it is told."""
from __future__ import annotations

import gradio as gr

from edits.pipeline import MAX_GUIDANCE, MAX_STEPS

from .common import Models, friendly, image_out
from .sharing import CONCURRENCY, MODEL

EXPLAIN = """
**What am I looking at?** A small diffusion model, trained by this project on a toy world of
coloured shapes, turns *noise* into a picture while reading your *prompt*. The seed fixes the
noise; the prompt steers what the noise becomes. This is **conditioning**, or *imagination*: you
tell the model something new and it composes it — even combinations it never saw in training
(a red star, a green square, a blue triangle and a pink circle were held out).
Leave a factor unsaid ("a large circle on a white background") and the model picks it from the noise.
"""

EXAMPLES = [
    ["a large red circle on a white background"],
    ["a small blue star on a black background"],
    ["a medium yellow triangle on a gray background"],
    ["a large circle on a beige background"],
    ["a red star on a white background"],
    ["a shape that is purple and large over a gray backdrop"],
]


def create_tab(models: Models, seed: gr.Number) -> dict:
    model = models.diffusion
    gr.Markdown(EXPLAIN, elem_classes=["explain"])
    with gr.Row():
        with gr.Column(scale=1):
            prompt = gr.Textbox(label="Prompt", value=EXAMPLES[0][0], max_lines=2,
                                placeholder="e.g. a small green triangle on a black background")
            negative = gr.Textbox(label="Negative prompt (what to steer away from)", max_lines=1)
            with gr.Row():
                steps = gr.Slider(1, MAX_STEPS, value=model.default_steps, step=1, label="Steps")
                guidance = gr.Slider(0, MAX_GUIDANCE, value=model.default_guidance, step=0.5,
                                     label="Guidance scale", info="How strongly to follow the prompt")
            button = gr.Button("Generate", variant="primary")
            gr.Examples(EXAMPLES, inputs=[prompt], label="Example prompts", cache_examples=False)
        with gr.Column(scale=1):
            image = image_out("Image")

    @friendly
    def generate(prompt, negative_prompt, seed, num_inference_steps, guidance_scale):
        return model.generate(prompt, negative_prompt, seed, num_inference_steps, guidance_scale)

    inputs = [prompt, negative, seed, steps, guidance]
    gr.on([button.click, prompt.submit, negative.submit], generate, inputs, image,
          api_name="generate", concurrency_id=MODEL, concurrency_limit=CONCURRENCY[MODEL], show_progress="minimal")
    return {"refresh": (generate, inputs, image)}

"""Latent walks (animations) and the direction atlas (do directions mirror colour perception?)."""
from __future__ import annotations

import gradio as gr
import numpy as np

from edits.metrics import atlas_statistics, colour_direction_vectors
from edits.pipeline import InputError, check_number
from edits.walks import MAX_FRAMES, check_frames, diffusion_walk, direction_walk, gan_walk, write_gif, write_mp4
from toyworld.settings import MAX_DIFFUSION_FRAMES
from toyworld.world import COLOURS

from .common import Models, friendly, session_files_state, session_folder
from .plots import heatmap
from .sharing import CONCURRENCY, LONG

KINDS = {
    "Diffusion: between two seeds": "diffusion-seeds",
    "StyleGAN: between two seeds": "gan-seeds",
    "Diffusion: along an h-space direction": "diffusion-direction",
    "StyleGAN: along a W direction": "gan-direction",
}

WALK_EXPLAIN = """
**What am I looking at?** A *walk* through a latent space: every frame is one point of the archive of
images the model holds, and consecutive frames are neighbours. **Between two seeds**, the diffusion
model's starting noise is blended on a sphere (*slerp*: noise keeps its overall strength), under a fixed
prompt; the StyleGAN's codes w are blended on a straight line. **Along a direction**, the code moves across a
fitted boundary (from −strength to +strength). Smooth walks mean a well-organised space; sudden jumps mean
the model *decides* somewhere along the way.
"""

ATLAS_EXPLAIN = """
**What am I looking at?** Each colour direction (fitted to turn objects red, orange, …) is an arrow in a
latent space. The left grid shows how alike the arrows are (**cosine similarity**: 1 = same direction,
0 = unrelated, −1 = opposite); the right grid how alike the colours *look* to people (**ΔE**, the
distance in the CIELAB colour space, built to follow human perception). If the space mirrors perception,
colours that look alike have alike arrows: the **Spearman correlation** between the arrows' dissimilarity
(1 − cosine) and ΔE is then close to 1. ColorwAI reports that StyleGAN's W does this and diffusion
models' latent spaces do not; here is what this project measures on its own models.
"""


def create_walk_tab(models: Models, seed: gr.Number) -> dict:
    gr.Markdown(WALK_EXPLAIN, elem_classes=["explain"])
    kinds = [k for k, v in KINDS.items() if models.gan is not None or not v.startswith("gan")]
    with gr.Row():
        with gr.Column(scale=1):
            kind = gr.Radio(kinds, value=kinds[0], label="Walk")
            prompt = gr.Textbox(label="Prompt (diffusion walks)", value="a large circle on a white background",
                                max_lines=1)
            seed_b = gr.Number(value=8, label="Second seed (the first is the shared seed)")
            with gr.Row():
                attribute = gr.Dropdown(["colour", "shape", "size"], value="colour", label="Direction: attribute")
                target = gr.Textbox(value="blue", label="…target", max_lines=1)
            strength = gr.Slider(0.5, 10, value=1.5, step=0.5,
                                 label="Strength at the ends (direction walks; 1 = one class swap)")
            frames = gr.Slider(2, MAX_FRAMES, value=12, step=1,
                               label=f"Frames (diffusion walks: at most {MAX_DIFFUSION_FRAMES} on this server)")
            fps = gr.Slider(2, 24, value=8, step=1, label="Frames per second")
            button = gr.Button("Walk", variant="primary")
        with gr.Column(scale=2):
            with gr.Row():
                gif = gr.Image(label="Animated GIF", type="filepath", height=320, elem_classes=["pixelated"])
                mp4 = gr.Video(label="MP4", height=320)
            files_out = gr.File(label="Download", interactive=False, file_count="multiple")

    @friendly
    def walk(kind, prompt, seed_a, seed_b, frames, attribute="colour", target="blue", strength=1.5, fps=8,
             files=None, progress=gr.Progress()):
        k = KINDS.get(kind) or (kind if kind in KINDS.values() else None) if isinstance(kind, str) else None
        if k is None:
            raise InputError(f"Choose a walk among: {', '.join(KINDS)}.")
        n = check_frames(frames)
        fps = check_number(fps, "Frames per second", 1, 60, integer=True)
        strength = check_number(strength, "The strength", 0.0, 100.0)
        if k.startswith("diffusion") and n > MAX_DIFFUSION_FRAMES:
            raise InputError(f"A diffusion walk makes one full image per frame: at most {MAX_DIFFUSION_FRAMES} "
                             "frames on this server.")
        if k.startswith("gan") and models.gan is None:
            raise InputError("There is no StyleGAN on this server.")
        progress(0, desc="rendering frames")
        if k == "diffusion-seeds":
            imgs = diffusion_walk(models.diffusion, prompt, seed_a, seed_b, n)
        elif k == "gan-seeds":
            imgs = gan_walk(models.gan, seed_a, seed_b, n)
        elif k == "diffusion-direction":
            imgs = direction_walk(models.hspace_model, models.h_directions, attribute, target, strength, n,
                                  seed=seed_a, prompt=prompt, space="h")
        else:
            imgs = direction_walk(models.gan, models.w_directions, attribute, target, strength, n, seed=seed_a,
                                  space="w")
        files, folder = session_folder(files)  # this visitor's folder, emptied of their previous walk
        a = write_gif(imgs, folder / f"walk_{k}.gif", fps=fps)
        b = write_mp4(imgs, folder / f"walk_{k}.mp4", fps=fps)
        return str(a), str(b), [str(a), str(b)], files

    files = session_files_state()
    button.click(walk, [kind, prompt, seed, seed_b, frames, attribute, target, strength, fps, files],
                 [gif, mp4, files_out, files], api_name="walk", concurrency_id=LONG, concurrency_limit=CONCURRENCY[LONG])
    return {"refresh": None}


def create_atlas_tab(models: Models) -> dict:
    gr.Markdown(ATLAS_EXPLAIN, elem_classes=["explain"])
    w_vecs = colour_direction_vectors(models.w_directions, 0, COLOURS)
    h_dirs = [d for d in models.h_directions.values() if d.meta.get("attribute") == "colour"]
    n_steps = max((len(d.vectors) for d in h_dirs), default=1)
    timesteps = h_dirs[0].timesteps if h_dirs else [0]
    summary = gr.Markdown()
    with gr.Row():
        space = gr.Radio(["W space (StyleGAN)", "h-space (diffusion)"], value="W space (StyleGAN)", label="Space")
        step = gr.Slider(0, n_steps - 1, value=0, step=1, label="Denoising step (h-space; 0 = the noisiest)")
    with gr.Row():
        cos_img = gr.Image(label="Cosine similarity of the colour directions", type="pil", interactive=False)
        lab_img = gr.Image(label="Perceptual distance of the colours (CIELAB ΔE)", type="pil", interactive=False)

    @friendly
    def show(space, step):
        if space not in ("W space (StyleGAN)", "h-space (diffusion)"):
            raise InputError("Choose the space: 'W space (StyleGAN)' or 'h-space (diffusion)'.")
        step = check_number(step, "The denoising step", 0, n_steps - 1, integer=True)
        vecs = w_vecs if space.startswith("W") else colour_direction_vectors(models.h_directions, step, COLOURS)
        if len(vecs) < 3:
            raise InputError(f"This server has fewer than three colour directions in {space}: nothing to compare.")
        st = atlas_statistics(vecs, COLOURS)
        names = list(st["names"])
        where = "W" if space.startswith("W") else f"h at step {step} (t = {timesteps[min(step, len(timesteps) - 1)]})"
        text = (f"**{where}**: Spearman correlation between direction dissimilarity and perceptual distance "
                f"= **{st['spearman']:+.2f}** over {len(names) * (len(names) - 1) // 2} colour pairs.")
        cos = heatmap(np.asarray(st["cosine"]), names, f"cosine similarity, {where}", -1.0, 1.0,
                      swatches=COLOURS)
        lab = heatmap(np.asarray(st["lab"]), names, "CIELAB ΔE (CIE76)", 0.0, float(np.max(st["lab"])),
                      swatches=COLOURS, digits=0)
        return text, cos, lab

    gr.on([space.change, step.release], show, [space, step], [summary, cos_img, lab_img], api_name="atlas",
          queue=False)
    return {"refresh": (show, [space, step], [summary, cos_img, lab_img])}

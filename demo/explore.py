"""Latent walks (animations) and the direction atlas (do directions mirror colour perception?)."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import numpy as np

from edits.metrics import atlas_statistics, colour_direction_vectors
from edits.directions import HOW_TO_FIT, merged
from edits.pipeline import MAX_STEPS, InputError, check_knobs, check_number, to_uint8
from edits.walks import MAX_FRAMES, check_frames, diffusion_walk, direction_walk, gan_walk, write_gif, write_mp4
from toyworld.settings import MAX_DIFFUSION_FRAMES
from toyworld.world import COLOURS

from .common import DISPLAY, Models, Own, Slider, explain, friendly, lead, session_files_state, session_folder
from .plots import heatmap
from .sharing import CONCURRENCY, LONG

FRAMES_INFO = f"diffusion: up to {MAX_DIFFUSION_FRAMES}; StyleGAN: up to {MAX_FRAMES}"

KINDS = {
    "Diffusion: between two seeds": "diffusion-seeds",
    "StyleGAN: between two seeds": "gan-seeds",
    "Diffusion: along an h-space direction": "diffusion-direction",
    "StyleGAN: along a W direction": "gan-direction",
}

WALK_LEAD = "A walk through a model's latent space: every frame is a picture the model can make, and neighbours are close."

WALK_EXPLAIN = """
Every picture a model can make is a point in its **latent space**; a *walk* moves from one point to
another and draws every step on the way. **Between two seeds**, the diffusion model's starting noise is
blended from one seed to the other under a fixed prompt (on a sphere, so that the noise keeps its
strength), and the StyleGAN's code w on a straight line. **Along a direction**, the code moves across a
learnt boundary — from −strength to +strength — so one attribute changes. Both direction walks start from
one picture: the prompt's at the shared seed, drawn with the Imagination tab's settings (the h-space walk's
middle frame), which the StyleGAN brings into its W space through its encoder.

A smooth walk means a well-organised space; a sudden jump means the model *decides* somewhere along the
way. Each diffusion frame is a full picture, so diffusion walks take longer and have fewer frames.
"""

ATLAS_LEAD = "Do the models' colour directions mirror how people see colour? Red = alike, blue = far apart, in both grids."

ATLAS_EXPLAIN = """
Each colour direction (learnt to turn objects red, orange, …) is an arrow in a latent space. The left grid
shows how alike the arrows are (**cosine similarity**: 1 = the same direction, 0 = unrelated, −1 =
opposite); the right grid how alike the colours *look* to people (**ΔE**, the distance in the CIELAB
colour space, built to follow human perception: 0 = the same colour). Both grids use one colour scale:
red cells are alike, blue cells far apart.

If a space mirrors perception, colours that look alike have alike arrows, and the **Spearman correlation**
between the arrows' dissimilarity and ΔE is close to 1. Published work (ColorwAI) reports that StyleGAN's W
does this and diffusion models' latent spaces do not; this page shows it for the models here. In h-space,
the slider picks the denoising step (0 = the noisiest).
"""

WALK_FRAMES_DEFAULT = {"diffusion": 8, "gan": 24}


def walk_limits(kind_value: str) -> dict:
    """What the Walk controls allow for a kind of walk: frames, and which controls take part."""
    diffusion = kind_value.startswith("diffusion")
    return {"max_frames": MAX_DIFFUSION_FRAMES if diffusion else MAX_FRAMES,
            "frames": WALK_FRAMES_DEFAULT["diffusion" if diffusion else "gan"],
            "prompt": diffusion or kind_value == "gan-direction", "second_seed": kind_value.endswith("seeds"),
            "direction": kind_value.endswith("direction")}


def create_walk_tab(models: Models, seed: gr.Number, own: Own | None = None, knobs: list | None = None) -> dict:
    """The Latent walks tab: its components (`_walk_layout`), the walk itself (`_walk_handler`), their events.
    Walks along a direction see the visitor's own directions (`own`) over the shipped ones. `knobs`: the
    Imagination tab's steps, guidance and negative prompt, /walk's last arguments."""
    own = own or Own.states()
    lead(WALK_LEAD)
    ui = _walk_layout(models)
    explain(WALK_EXPLAIN)
    ui.kind.change(on_kind, ui.kind, [ui.prompt, ui.seed_b, ui.direction_row, ui.strength, ui.frames],
                   api_name=False, queue=False)
    walk = _walk_handler(models)
    files = session_files_state()
    inputs = [ui.kind, ui.prompt, seed, ui.seed_b, ui.frames, ui.attribute, ui.target, ui.strength, ui.fps, files,
              *(knobs or [gr.State(None), gr.State(None), gr.State("")]), own.h, own.w]
    outputs = [ui.gif, ui.mp4, ui.files_out, files]
    ui.button.click(walk, inputs, outputs, api_name="walk", concurrency_id=LONG, concurrency_limit=CONCURRENCY[LONG],
                    show_progress="full")
    return {"refresh": (walk, inputs, outputs)}


def _walk_layout(models: Models) -> SimpleNamespace:
    """The walk's controls (those of the first kind shown) and its GIF, MP4 and download outputs."""
    kinds = [k for k, v in KINDS.items() if models.gan is not None or not v.startswith("gan")]
    first = "StyleGAN: between two seeds" if "StyleGAN: between two seeds" in kinds else kinds[0]
    lim = walk_limits(KINDS[first])
    with gr.Row():
        with gr.Column(scale=1):
            kind = gr.Radio(kinds, value=first, label="Walk")
            prompt = gr.Textbox(label="Prompt (along a direction: the starting picture, the attribute unsaid)",
                                value="a large circle on a white background", max_lines=1,
                                visible=lim["prompt"])
            seed_b = gr.Number(value=8, label="Second seed (the first is the shared seed)",
                               visible=lim["second_seed"])
            with gr.Row(visible=lim["direction"]) as direction_row:
                attribute = gr.Dropdown(["colour", "shape", "size"], value="colour", label="Attribute",
                                        allow_custom_value=True)  # (and the visitor's own attributes)
                target = gr.Textbox(value="blue", label="Target", max_lines=1)
            strength = Slider(0.5, 3, value=1.5, step=0.25, label="Strength at the ends", api_range=(0.5, 10),
                              info="1 = one class swap", visible=lim["direction"])
            frames = Slider(2, lim["max_frames"], value=lim["frames"], step=1, label="Frames",
                            api_range=(2, MAX_FRAMES), info=FRAMES_INFO)
            fps = gr.Slider(2, 24, value=8, step=1, label="Frames per second")
            button = gr.Button("Walk", variant="primary")
        with gr.Column(scale=2):
            with gr.Row():
                gif = gr.Image(label="Animated GIF", type="filepath", height=DISPLAY + 40, interactive=False, min_width=280,
                               elem_classes=["pixelated", "big-image"])
                mp4 = gr.Video(label="MP4", height=DISPLAY + 40, elem_classes=["pixelated"], autoplay=True, loop=True,
                               min_width=280)
            files_out = gr.File(label="Download (frames enlarged ×4, pixel for pixel)", interactive=False,
                            file_count="multiple")
    return SimpleNamespace(kind=kind, prompt=prompt, seed_b=seed_b, direction_row=direction_row, attribute=attribute,
                           target=target, strength=strength, frames=frames, fps=fps, button=button, gif=gif, mp4=mp4,
                           files_out=files_out)


def on_kind(kind):
    """The walk controls shown for a kind of walk, and its frame limit."""
    k = KINDS.get(kind, "gan-seeds")
    lim = walk_limits(k)
    return (gr.update(visible=lim["prompt"]), gr.update(visible=lim["second_seed"]),
            gr.update(visible=lim["direction"]), gr.update(visible=lim["direction"]),
            gr.update(maximum=lim["max_frames"], value=lim["frames"]))


def starting_picture(models: Models, prompt, seed, knobs: dict):
    """The prompt's picture at the seed, as the Imagination tab draws it with these settings (uint8)."""
    return to_uint8(models.diffusion.generate(prompt, knobs["negative_prompt"], seed, knobs["num_inference_steps"],
                                              knobs["guidance_scale"], output_type="np"))


def _walk_handler(models: Models):
    """`walk` (the /walk endpoint): the frames of one walk, written as a GIF and an MP4 in the visitor's folder."""

    @friendly
    def walk(kind, prompt, seed_a, seed_b, frames, attribute="colour", target="blue", strength=1.5, fps=8,
             files=None, steps=None, guidance=None, negative_prompt="", mine_h=None, mine_w=None,
             progress=gr.Progress()):
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
        knobs = check_knobs(steps, guidance, negative_prompt or "")  # checked whatever the walk (a GAN walk ignores them)
        progress(0, desc="rendering frames")
        if k == "diffusion-seeds":
            imgs = diffusion_walk(models.diffusion, prompt, seed_a, seed_b, n, **knobs)
        elif k == "gan-seeds":
            imgs = gan_walk(models.gan, seed_a, seed_b, n)
        elif k == "diffusion-direction":
            imgs = direction_walk(models.hspace_model, merged(models.h_directions, mine_h), attribute, target,
                                  strength, n, seed=seed_a, prompt=prompt, space="h", **knobs)
        else:  # from the prompt's picture (the h-space walk's frame at 0), brought into W when the GAN can
            w_dirs = merged(models.w_directions, mine_w)
            known = f"{attribute}: {target}" in w_dirs  # else direction_walk says so, before any drawing
            inverted = known and models.gan.encoder is not None
            picture = starting_picture(models, prompt, seed_a, knobs) if inverted else None
            imgs = direction_walk(models.gan, w_dirs, attribute, target, strength, n, seed=seed_a,
                                  space="w", picture=picture)
        files, folder = session_folder(files)  # this visitor's folder, emptied of their previous walk
        a = write_gif(imgs, folder / f"walk_{k}.gif", fps=fps)
        b = write_mp4(imgs, folder / f"walk_{k}.mp4", fps=fps)
        return str(a), str(b), [str(a), str(b)], files

    return walk


def _colour(directions: dict) -> list:
    return [d for d in directions.values() if d.meta.get("attribute") == "colour" and not d.meta.get("skip_levels")]


def _h_steps(directions: dict) -> int:
    """How many denoising steps a set's h-space colour directions were fitted on (0: none)."""
    return max((len(d.vectors) for d in _colour(directions)), default=0)


def create_atlas_tab(models: Models, own: Own | None = None) -> dict:
    """The Direction atlas: the colour directions of each space (the visitor's own over the shipped ones)."""
    own = own or Own.states()
    lead(ATLAS_LEAD)
    # the step slider spans the shipped directions' steps, else the steps a fit on this model samples
    n_steps = max(_h_steps(models.h_directions), models.hspace_model.default_steps if not models.h_directions else 1)
    with gr.Row():
        space = gr.Radio(["W space (StyleGAN)", "h-space (diffusion)"], value="W space (StyleGAN)", label="Space")
        step = Slider(0, max(1, n_steps - 1), value=0, step=1, label="Denoising step (h-space; 0 = the noisiest)",
                      visible=False, api_range=(0, MAX_STEPS))
    summary = gr.Markdown()
    with gr.Row():
        cos_img = gr.Image(label="How alike the colour directions are (cosine)", type="pil", interactive=False,
                           elem_classes=["atlas"], buttons=["download", "fullscreen"], min_width=320)
        lab_img = gr.Image(label="How alike the colours look (CIELAB ΔE)", type="pil", interactive=False,
                           elem_classes=["atlas"], buttons=["download", "fullscreen"], min_width=320)
    explain(ATLAS_EXPLAIN)
    space.change(lambda s: gr.update(visible=not s.startswith("W")), space, step, api_name=False, queue=False)

    def atlas(space, step, mine_h=None, mine_w=None):
        if space not in ("W space (StyleGAN)", "h-space (diffusion)"):
            raise InputError("Choose the space: 'W space (StyleGAN)' or 'h-space (diffusion)'.")
        step = check_number(step, "The denoising step", 0, MAX_STEPS, integer=True)
        h_dirs = merged(models.h_directions, mine_h)
        n = _h_steps(h_dirs)
        if not space.startswith("W") and n and step >= n:
            raise InputError(f"The h-space colour directions were fitted on {n} denoising steps: choose a step "
                             f"between 0 and {n - 1}.")
        vecs = colour_direction_vectors(merged(models.w_directions, mine_w) if space.startswith("W") else h_dirs,
                                        0 if space.startswith("W") else step, COLOURS)
        if len(vecs) < 3:
            raise InputError(f"This server has fewer than three colour directions in {space}: nothing to compare. "
                             + HOW_TO_FIT["w" if space.startswith("W") else "h"])
        timesteps = _colour(h_dirs)[0].timesteps if _colour(h_dirs) else [0]
        st = atlas_statistics(vecs, COLOURS)
        names = list(st["names"])
        where = "W" if space.startswith("W") else f"h at step {step} (t = {timesteps[min(step, len(timesteps) - 1)]})"
        text = (f"**{where}**: Spearman correlation between direction dissimilarity and perceptual distance "
                f"= **{st['spearman']:+.2f}** over {len(names) * (len(names) - 1) // 2} colour pairs.")
        cos = heatmap(np.asarray(st["cosine"]), names, f"cosine similarity, {where}", -1.0, 1.0,
                      swatches=COLOURS, alike="high", legend=("alike (cos 1)", "opposite (cos -1)"))
        top = float(np.max(st["lab"]))
        lab = heatmap(np.asarray(st["lab"]), names, "perceptual distance, CIELAB ΔE", 0.0, top,
                      swatches=COLOURS, digits=0, alike="low", legend=("alike (ΔE 0)", f"far apart (ΔE {top:.0f})"))
        return text, cos, lab

    def first_view(space, step, mine_h=None, mine_w=None):
        """The tab's first view: the atlas, or the sentence that says what is missing (no error pop-up)."""
        try:
            return atlas(space, step, mine_h, mine_w)
        except InputError as e:
            return str(e), None, None

    inputs = [space, step, own.h, own.w]
    gr.on([space.change, step.release], friendly(atlas), inputs, [summary, cos_img, lab_img], api_name="atlas",
          queue=False)
    return {"refresh": (first_view, inputs, [summary, cos_img, lab_img])}

"""Potentiality in a GAN: keep the seed, move its w along fitted and unsupervised directions."""
from __future__ import annotations


import gradio as gr

from edits.pipeline import check_number
from edits.wspace import (DEFAULT_PSI, DEFAULT_STRENGTH, MAX_COMPONENT, MAX_STRENGTH, directions_for, edit_pair, make_edit,
                          recommended_layers, traversal)

from toyworld.settings import EMBEDDED_GAN, TRAVERSAL_FRAMES

from .common import Models, friendly, image_out
from .sharing import CONCURRENCY, GAN

FINDINGS = EMBEDDED_GAN / "FINDINGS.md"

N_COMPONENTS = 4
NONE = "—"

EXPLAIN = """
**What am I looking at?** A second, different kind of generator: a **StyleGAN**, trained here on the
same toy world. It has no prompt at all. A seed gives a random code *z*; a small network maps it to
**w**, a 128-number code from which the whole picture is drawn. Every image the model can make is a
point in this **W space** — the archive of its potential images.

A **direction** is a line through W fitted from thousands of labelled samples (InterFaceGAN): the
boundary that best separates, say, blue objects from all others. Moving w across that boundary changes
the colour while the seed — and ideally everything else — stays. *Strength* **1** swaps classes: the code
loses the offset of the class it sits in (read from the boundaries) and gains the target's, so "make it
blue" works from red and from cyan alike; **0** is the original, between 0 and 1 it slides, above 1 it
overshoots, and negative values push away from the target. *Conditional* also holds the other attributes'
boundaries fixed (InterFaceGAN); on this GAN that freezes the edit almost entirely, because the other
attributes' directions span most of each colour direction (see *Measured* below). *Style layers* 0–1 draw the coarse 4×4 layout, the last ones the fine detail: colour
directions come with layers 4–9 (16×16 and finer), where the measurement found colour changed and shape
kept; shape and size use all layers.
The **unsupervised** sliders move along directions nobody labelled — the main axes of variation of w
(GANSpace) and of the generator's own weights (SeFa) — to see what the model organised by itself.
*Truncation ψ* pulls w towards the average image: lower is more typical, higher more varied.
"""


def create_tab(models: Models, seed: gr.Number) -> dict:
    gan, dirs = models.gan, models.w_directions
    if gan is None:
        gr.Markdown("The StyleGAN generator is not installed on this server (assets/toy-stylegan is missing).")
        return {"refresh": None}
    gr.Markdown(EXPLAIN, elem_classes=["explain"])
    attrs = sorted({d.meta["attribute"] for d in dirs.values()}) or ["colour"]
    L = gan.n_latent

    def targets(attribute, with_none=False):
        names = sorted(directions_for(dirs, attribute))
        return ([NONE] if with_none else []) + names

    with gr.Row():
        with gr.Column(scale=1):
            psi = gr.Slider(0.0, 1.0, value=DEFAULT_PSI, step=0.05, label="Truncation ψ")
            with gr.Row():
                attribute = gr.Dropdown(attrs, value="colour" if "colour" in attrs else attrs[0], label="Attribute",
                                        allow_custom_value=True)
                first_targets = targets(attribute.value)
                target = gr.Dropdown(first_targets, label="Target", allow_custom_value=True,
                                     value="blue" if "blue" in first_targets else (first_targets or [None])[0])
            strength = gr.Slider(-MAX_STRENGTH / 2, MAX_STRENGTH / 2, value=DEFAULT_STRENGTH, step=0.1,
                                 label="Strength (1 = swap to the target class, 0 = original)")
            extra = []
            with gr.Accordion("More attribute sliders at once", open=False):
                for a in ("shape", "size"):
                    if a in attrs:
                        with gr.Row():
                            t = gr.Dropdown(targets(a, True), value=NONE, label=f"{a.capitalize()} target",
                                            allow_custom_value=True)
                            s = gr.Slider(-MAX_STRENGTH / 2, MAX_STRENGTH / 2, value=DEFAULT_STRENGTH, step=0.1,
                                          label=f"{a.capitalize()} strength")
                        extra.append((a, t, s))
            with gr.Row():
                conditional = gr.Checkbox(value=False, label="Conditional (keep the other attributes fixed)")
            lo0, hi0 = recommended_layers(dirs, attribute.value, L)
            with gr.Row():
                first_layer = gr.Slider(0, L - 1, value=lo0, step=1, label="First style layer")
                last_layer = gr.Slider(0, L - 1, value=hi0, step=1, label="Last style layer")
            comps = []
            with gr.Accordion("Unsupervised directions (nobody labelled these)", open=False):
                for method, c in (("pca", gan.pca), ("sefa", gan.sefa)):
                    name = "GANSpace" if method == "pca" else "SeFa"
                    for i in range(min(N_COMPONENTS, len(c.vectors))):
                        comps.append(((method, i), gr.Slider(-MAX_COMPONENT / 2, MAX_COMPONENT / 2, value=0, step=0.25,
                                                             label=f"{name} #{i + 1} (std)")))
        with gr.Column(scale=2):
            with gr.Row():
                original = image_out("Original (same seed)")
                edited = image_out("Edited in W")
            strip = gr.Gallery(label="Traversal of the first edit: from −strength to +strength", columns=7,
                               height=160, object_fit="contain", elem_classes=["pixelated"])
            reset = gr.Button("Reset the sliders", size="sm")
    if FINDINGS.is_file():
        with gr.Accordion("Measured: how well do W-space directions steer this GAN?", open=False):
            gr.Markdown(FINDINGS.read_text())

    def build_edits(attribute, target, strength, conditional, extras, layers=None):
        """The main edit on the chosen style layers; the extra sliders' on their directions' own."""
        edits = []
        for i, (a, t, s) in enumerate([(attribute, target, strength), *extras]):
            if t in (None, "", NONE):
                continue
            edits.append(make_edit(dirs, a, t, s, conditional, layers if i == 0 else None))
        return edits

    def unpack(args):
        n_extra = len(extra)
        conditional, lo, hi = args[0], args[1], args[2]
        ex = [(extra[i][0], args[3 + 2 * i], check_number(args[4 + 2 * i], f"The {extra[i][0]} strength",
                                                          -MAX_STRENGTH, MAX_STRENGTH)) for i in range(n_extra)]
        values = args[3 + 2 * n_extra:]
        return conditional, (lo, hi), ex, {k: v for (k, _), v in zip(comps, values) if v}

    @friendly
    def edit(seed, truncation_psi, attribute, target, strength, *rest):
        conditional, layers, ex, comp_values = unpack(rest) if rest else (False, None, [], {})
        e = build_edits(attribute, target, strength, conditional, ex, layers)
        return edit_pair(gan, seed, e, truncation_psi, comp_values, layers)

    @friendly
    def strip_fn(seed, truncation_psi, attribute, target, strength, *rest):
        conditional, layers, ex, _ = unpack(rest)
        e = build_edits(attribute, target, strength, conditional, ex, layers)
        if not e:
            return []
        strengths, frames = traversal(gan, seed, e[0], truncation_psi, TRAVERSAL_FRAMES, layers)
        return [(f, f"{s:+.1f}") for s, f in zip(strengths, frames)]

    def refresh_targets(attribute):
        ch = targets(attribute)
        lo, hi = recommended_layers(dirs, attribute, L)
        return gr.update(choices=ch, value="blue" if "blue" in ch else (ch[0] if ch else None)), lo, hi

    inputs = [seed, psi, attribute, target, strength, conditional, first_layer, last_layer,
              *[c for _, t, s in extra for c in (t, s)], *[s for _, s in comps]]
    live = [psi.input, strength.input, target.change, conditional.change, first_layer.input, last_layer.input,
            seed.submit, *[s.input for _, _, s in extra], *[t.change for _, t, _ in extra],
            *[s.input for _, s in comps]]
    ev = gr.on(live, edit, inputs, [original, edited], api_name="edit_w", concurrency_id=GAN,
               concurrency_limit=CONCURRENCY[GAN], show_progress="hidden", trigger_mode="always_last")
    ev.then(strip_fn, inputs, strip, api_name=False, concurrency_id=GAN, concurrency_limit=CONCURRENCY[GAN],
            show_progress="hidden")
    attribute.change(refresh_targets, attribute, [target, first_layer, last_layer], api_name=False, queue=False)
    reset.click(lambda a: [DEFAULT_STRENGTH, False, *recommended_layers(dirs, a, L), *[NONE, DEFAULT_STRENGTH] * len(extra),
                           *[0] * len(comps)],
                attribute, [strength, conditional, first_layer, last_layer, *[c for _, t, s in extra for c in (t, s)],
                       *[s for _, s in comps]], api_name=False, queue=False).then(
        edit, inputs, [original, edited], api_name=False, concurrency_id=GAN, concurrency_limit=CONCURRENCY[GAN])
    return {"refresh": (edit, inputs, [original, edited])}

"""Potentiality in a GAN: keep the seed, move its w along fitted and unsupervised directions."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np

from edits.directions import merged
from edits.labelers import FACTORS
from edits.pipeline import InputError, check_name, check_number, check_seed
from edits.stylespace import edit_in_s
from edits.uploads import read_upload
from edits.wspace import (DEFAULT_PSI, DEFAULT_STRENGTH, MAX_COMPONENT, MAX_STRENGTH, directions_for, edit_image,
                          edit_pair, fit_labelled, invert, make_edit, recommended_layers, traversal)
from toyworld.settings import (ADVERSARIAL_GAN, EMBEDDED_GAN, LABEL_FREE_GAN, LABELLED_GAN, MAX_W_FIT_SAMPLES, ROOT,
                               TRAVERSAL_FRAMES)

from .common import (FIT_LABELLERS, chosen_labeller, Models, Own, Slider, card_of, docs_line, explain, friendly, image_out, lead,
                     measured, session_files_state, session_folder, signed, strip_out)
from .sharing import CONCURRENCY, GAN, LONG

FINDINGS = EMBEDDED_GAN / "FINDINGS.md"

NO_DIRECTIONS = (" No labelled direction ships with this generator: the unsupervised sliders (SeFa, PCA) below "
                 "move it at once, and “Fit your own direction” fits labelled ones from your labels.")
SEED_NOTE = {"nvlabs": ", drawn as NVlabs' `generate.py --seeds` draws them"}
N_COMPONENTS = 4
NONE = "—"
W_SPACE, S_SPACE = "W: a direction (InterFaceGAN)", "S: style channels (StyleSpace)"
STRENGTH_RANGE = (-1.0, 3.0)  # 1 is a full class swap (the measured default); more overshoots
API_STRENGTH = (-MAX_STRENGTH / 2, MAX_STRENGTH / 2)  # what scripts may pass


EXPLAIN = """
A **StyleGAN** is another kind of image generator. It has no prompt at all: a seed gives a random code,
and a small network turns it into **w**, a list of numbers from which the whole picture is drawn.
Every picture the model can make is a point in this **W space** — the archive of its potential images.

A **direction** is a straight line through W, learnt from thousands of labelled pictures: here the line
from the average code of all the other pictures to the average code of, say, the blue ones (a difference of
class means; InterFaceGAN fits a separating boundary instead). InterFaceGAN found that in a generator trained
without labels, moving w across such a line changes the colour while the rest of the picture stays; the
line above the picture says how often that holds here, next to a random move of the same size. **Strength** 1 swaps the class (red becomes blue, cyan becomes blue);
0 is the original, between 0 and 1 it slides, above 1 it overshoots, and negative values push away.
The strip underneath shows the same edit from −strength to +strength.

*Edit in S* moves the **style channels** instead (StyleSpace, Wu et al. 2021): each layer of the network turns w
into one scale per channel, and this edit moves only the few channels whose values differ most between, say,
the blue pictures and all the others, leaving every other channel as it was.

Under *More settings*: the network draws the picture in **layers**, coarse layout first and fine detail
last, and an edit can be limited to some of them; *keep the other attributes* also holds shape, size and
background fixed; *variety* (truncation) pulls w towards the average picture. The **unsupervised**
sliders move along directions nobody labelled — the main ways in which w varies. *Start from your own
picture* brings a PNG or JPEG into W through the generator's encoder (the two learnt from pictures alone
have one) and applies the edit to it.
"""


def _summary(folder) -> dict | None:
    """The wspace benchmark's last full run for a generator folder (assets/measured/wspace.json for the default
    generator, wspace.NAME.json for another one, as `python -m benchmarks wspace --model` records it)."""
    return _measured_for("wspace", folder) or None


def _measured_for(benchmark: str, folder) -> dict:
    """A benchmark's last full run for a generator folder (NAME.json for the default one, NAME.FOLDER.json else)."""
    if folder is None:
        return {}
    return measured(benchmark if Path(folder).resolve() == Path(EMBEDDED_GAN).resolve()
                    else f"{benchmark}.{Path(folder).name}")


SPACES = (("z", "z"), ("w", "W"), ("w_plus", "W+"), ("s", "S"), ("w_random_expansion", "W widened at random (control)"))


def structure_note(gan) -> str:
    """How disentangled the generators' spaces are (`python -m benchmarks disentanglement`): this one's DCI
    disentanglement beside the other embedded generators' and StyleSpace's published FFHQ figures, its MIG; and how
    its StyleSpace edits score (`python -m benchmarks stylespace`). Empty when neither was measured for it."""
    from benchmarks.disentanglement import STYLESPACE_PUBLISHED

    d, st = _measured_for("disentanglement", gan.folder), _measured_for("stylespace", gan.folder)
    out = []
    if d:
        here = Path(gan.folder).resolve()
        ours = ((ADVERSARIAL_GAN, "GAN"), (LABEL_FREE_GAN, "auto\u00adencoder"), (LABELLED_GAN, "label-built"))
        shown = next((f"{name} (shown)" for f, name in ours if Path(f).resolve() == here), "this one")
        cols = [(d, shown)] + [(m, name) for f, name in ours
                               if Path(f).resolve() != here and (m := _measured_for("disentanglement", f))]
        published = {k: f"{v:.2f}" for k, v in STYLESPACE_PUBLISHED.items()}
        spaces = [(k, label) for k, label in SPACES if isinstance(d.get(k), dict)]
        rows = "\n".join(f"| {label} | " + " | ".join(f"{m[k]['dci_disentanglement']:.2f}" if isinstance(m.get(k), dict)
                                                      else "—" for m, _ in cols) + f" | {published.get(k, '—')} |"
                         for k, label in spaces)
        migs = ", ".join(f"{label} {d[k]['mig']:.2f}" for k, label in spaces)
        out.append(f"""**DCI disentanglement** of each code (1 when each coordinate carries one factor), against the four
factors the independent judge reads, over pictures it reads as valid scenes ({d['n_valid']} of this generator's):

| space | {' | '.join(name for _, name in cols)} | faces |
|---|{'---|' * len(cols)}---|
{rows}

*Faces*: StyleGAN2 on FFHQ, as published (Wu et al., *StyleSpace*, 2021). S is computed from w, so it only wins by its
axes where it beats the control row. This generator's MIG (the gap between the two coordinates that say most about a
factor): {migs}.""")
    if st:
        out.append(f"Edits in S ({st['channels'][0] if st.get('channels') else '?'} channels per class) swap colours "
                   f"cleanly in {_pct(st['stylespace_clean_edit_rate'])} of {st['judged_seeds']} valid starting "
                   f"pictures (random channels: {_pct(st['stylespace_control_clean_edit_rate'])}), shapes in "
                   f"{_pct(st['stylespace_shape_clean_edit_rate'])}; the W directions on the same pictures: "
                   f"{_pct(st['w_clean_edit_rate'])} and {_pct(st['w_shape_clean_edit_rate'])}.")
    return "\n\n".join(out)


def _pct(x: float) -> str:
    """A share in whole percent that never rounds up to 100 % unless it is all (0.995 -> "99%")."""
    return f"{min(round(100 * x), 99 if x < 1 else 100)}%"


def training_note(gan) -> str:
    """Two plain sentences: how this generator learnt W, and what the measurement found, beside the other model."""
    ours = {Path(f).resolve() for f in (ADVERSARIAL_GAN, LABEL_FREE_GAN, LABELLED_GAN)}
    if gan.folder is None or Path(gan.folder).resolve() not in ours:
        source = (gan.converted_from or {}).get("file")
        how = (f"This StyleGAN, *{gan.name}*, " + (f"converted from NVlabs' {source}, " if source else "")
               + "is not one of the embedded models: its W was learnt elsewhere."
               + (" Seed N draws the picture of NVlabs' `generate.py --seeds N`." if gan.seed_convention == "nvlabs"
                  else ""))
        s = _summary(gan.folder)
        return how + (f" A colour swap reaches its colour in {_pct(s['colour_edit_success'])} of measured edits."
                      if s and s.get("colour_edit_success") is not None else "")
    if gan.label_free and gan.adversarial:
        how = ("This StyleGAN learnt W from pictures alone, as a GAN: a discriminator judged its pictures against the "
               "toy world's, and an encoder trained beside it redrew the real ones; no label reached its training.")
        other, other_name = LABEL_FREE_GAN, "the autoencoder learnt from the same pictures"
    elif gan.label_free:
        how = ("This StyleGAN learnt W from pictures alone by redrawing them through an encoder (an autoencoder: "
               "no discriminator and no label reached its training).")
        other, other_name = ADVERSARIAL_GAN, "the GAN learnt from the same pictures"
    else:
        how = ("This StyleGAN was trained with the scene labels built in, so its W is organised by construction "
               "(an upper bound, not a test of InterFaceGAN's premise).")
        other, other_name = EMBEDDED_GAN, "the GAN learnt from pictures alone"
    s, o = _summary(gan.folder), _summary(other)
    if s is None or s.get("clean_edit_rate") is None:
        return how
    found = (f"A colour swap is clean (its colour reached, shape, size and background kept) in "
             f"{_pct(s['clean_edit_rate'])} of edits")
    if s.get("control_clean_edit_rate") is not None:
        found += f" (a random move as large: {_pct(s['control_clean_edit_rate'])})"
    if o is not None and o.get("clean_edit_rate") is not None:
        found += f"; {other_name}: {_pct(o['clean_edit_rate'])}"
    return f"{how} {found}."


def create_tab(models: Models, seed: gr.Number, own: Own | None = None) -> dict:
    """The W-space tab: its components (`_layout`), its handlers (`_handlers`), their events (`_wire`); the
    visitor's own W directions (`own.w`) are seen over the shipped ones."""
    gan, dirs, sdirs = models.gan, models.w_directions, models.s_directions
    if gan is None:
        gr.Markdown("The StyleGAN generator is not installed on this server (its folder in assets/ is missing).")
        return {"refresh": None}
    lead(training_note(gan) + ("" if dirs else NO_DIRECTIONS))
    ui = _layout(gan, dirs, sdirs)
    mine = (own or Own.states()).w
    out = _wire(gan, dirs, ui, seed, mine, _handlers(gan, dirs, sdirs, ui.extra, ui.comps))
    _wire_fit(ui, mine, _fit_handler(gan, dirs))
    return out


def _targets(dirs: dict, attribute, with_none=False) -> list[str]:
    names = sorted(directions_for(dirs, attribute))
    return ([NONE] if with_none else []) + names


def _layout(gan, dirs: dict, sdirs: dict | None = None) -> SimpleNamespace:
    """The controls (with the accordions of `_extra_sliders`, `_settings`, `_component_sliders`), the original
    and edited pictures, the strip and the explanations. `extra`: (attribute, target, strength) of the other
    attributes' sliders; `comps`: ((method, index), slider) of the unsupervised ones."""
    attrs = sorted({d.meta["attribute"] for d in dirs.values()}) or ["colour"]
    with gr.Row():
        with gr.Column(scale=1):
            with gr.Row():
                attribute = gr.Dropdown(attrs, value="colour" if "colour" in attrs else attrs[0], label="Attribute",
                                        allow_custom_value=True)
                first_targets = _targets(dirs, attribute.value)
                target = gr.Dropdown(first_targets, label="Target", allow_custom_value=True,
                                     value="blue" if "blue" in first_targets else (first_targets or [None])[0])
            strength = Slider(*STRENGTH_RANGE, api_range=API_STRENGTH, value=DEFAULT_STRENGTH, step=0.1, label="Strength",
                                 info="1 = swap to the target class (default), 0 = the original, negative = away")
            space = gr.Radio([W_SPACE, S_SPACE], value=W_SPACE, label="Edit in", visible=bool(sdirs),
                             info="S moves only the style channels that differ most between the classes")
            with gr.Row():
                button = gr.Button("Edit", variant="primary", scale=2)
                reset = gr.Button("Reset the sliders", scale=1)
            extra = _extra_sliders(dirs, attrs)
            conditional, first_layer, last_layer, psi = _settings(dirs, attribute.value, gan.n_latent)
            comps = _component_sliders(gan, open_=not dirs)
            with gr.Accordion("Start from your own picture (PNG or JPEG)", open=False):
                upload = gr.File(label="Picture", file_types=[".png", ".jpg", ".jpeg"], type="filepath")
                invert_button = gr.Button("Bring it into W and apply the edit")
            fit = _fit_layout(gan)
        with gr.Column(scale=2):
            with gr.Row():
                original = image_out("Original (same seed)")
                edited = image_out("Edited")
    strip = strip_out("The first edit from −strength to +strength")
    explain(EXPLAIN)
    note = structure_note(gan)
    if note:
        with gr.Accordion("How disentangled are W and S? (measured)", open=False):
            gr.Markdown(note, elem_classes=["measured-table"])
    gr.Markdown(docs_line(str(FINDINGS.relative_to(ROOT)) if FINDINGS.is_file() else None, card_of(gan)))
    return SimpleNamespace(attribute=attribute, target=target, strength=strength, space=space, button=button,
                           reset=reset,
                           fit=fit, extra=extra, conditional=conditional, first_layer=first_layer,
                           last_layer=last_layer, psi=psi, comps=comps, upload=upload, invert_button=invert_button,
                           original=original, edited=edited, strip=strip)


def _extra_sliders(dirs: dict, attrs: list[str]) -> list[tuple]:
    """The "More attribute sliders at once" accordion: a target and a strength for shape and size."""
    extra = []
    with gr.Accordion("More attribute sliders at once", open=False):
        for a in ("shape", "size"):
            if a in attrs:
                with gr.Row():
                    t = gr.Dropdown(_targets(dirs, a, True), value=NONE, label=f"{a.capitalize()} target",
                                    allow_custom_value=True)
                    s = Slider(*STRENGTH_RANGE, value=DEFAULT_STRENGTH, step=0.1, api_range=API_STRENGTH,
                                  label=f"{a.capitalize()} strength")
                extra.append((a, t, s))
    return extra


def _settings(dirs: dict, attribute: str, L: int) -> tuple:
    """The "More settings" accordion: (conditional, first_layer, last_layer, psi)."""
    with gr.Accordion("More settings", open=False):
        conditional = gr.Checkbox(value=False, label="Keep the other attributes fixed (conditional edit)")
        lo0, hi0 = recommended_layers(dirs, attribute, L)
        with gr.Row():
            first_layer = gr.Slider(0, L - 1, value=lo0, step=1, label="First layer edited",
                                    info="0 = the coarse layout")
            last_layer = gr.Slider(0, L - 1, value=hi0, step=1, label="Last layer edited",
                                   info=f"{L - 1} = the finest detail")
        psi = gr.Slider(0.0, 1.0, value=DEFAULT_PSI, step=0.05, label="Variety (truncation ψ)",
                        info=f"lower = closer to the average picture; default {DEFAULT_PSI:g}")
    return conditional, first_layer, last_layer, psi


def _component_sliders(gan, open_: bool = False) -> list[tuple]:
    """The unsupervised directions' accordion: ((method, index), slider) for the first PCA and SeFa axes (both
    computed when the generator is loaded, so there for any generator; open when nothing else can edit it)."""
    comps = []
    with gr.Accordion("Unsupervised directions (nobody labelled these)", open=open_):
        for method, c in (("pca", gan.pca), ("sefa", gan.sefa)):
            name = "Main axis of w (PCA)" if method == "pca" else "Main axis of the weights (SeFa)"
            for i in range(min(N_COMPONENTS, len(c.vectors))):
                comps.append(((method, i), Slider(-3, 3, value=0, step=0.25,
                                                  api_range=(-MAX_COMPONENT / 2, MAX_COMPONENT / 2),
                                                  label=f"{name} #{i + 1}, in standard deviations")))
    return comps


def _fit_layout(gan) -> SimpleNamespace:
    """The "Fit your own direction" accordion: attribute, labeller, N, the CSV, the button, status and files."""
    with gr.Accordion("Fit your own direction", open=False):
        seeds = SEED_NOTE.get(gan.seed_convention, "")
        gr.Markdown(f"Draw the codes of *N* seeds, label their pictures, and fit one boundary per class in W. "
                    f"*My CSV*: rows `seed,label` (any attribute; its first *N* seeds{seeds}); the classifier and "
                    "colour pixels read the toy world. The result stays in your session and every tab sees it; "
                    "download it to keep it.")
        with gr.Row():
            attribute = gr.Dropdown(list(FACTORS), value="colour", label="Attribute", allow_custom_value=True)
            labeller = gr.Radio(list(FIT_LABELLERS), value="my CSV" if gan.converted_from else "classifier",
                                label="Labeller")
        n_samples = gr.Slider(16, MAX_W_FIT_SAMPLES, value=min(200, MAX_W_FIT_SAMPLES), step=8, label="Samples (N)")
        csv_file = gr.File(label="CSV of seed,label", file_types=[".csv"], type="filepath")
        button = gr.Button("Fit", variant="secondary")
        status = gr.Markdown()
        download = gr.File(label="Download your directions", interactive=False)
        files = session_files_state()
    return SimpleNamespace(attribute=attribute, labeller=labeller, n_samples=n_samples, csv_file=csv_file,
                           button=button, status=status, download=download, files=files)


def _fit_handler(gan, dirs: dict):
    """fit (/fit_w): the visitor's own W directions, from their CSV or a labeller, into their session."""

    @friendly
    def fit(attribute, labeller, n, csv_path, mine, files=None, progress=gr.Progress()):
        n = check_number(n, "N", 16, MAX_W_FIT_SAMPLES, integer=True)
        attribute = check_name(attribute, "attribute")
        if not attribute:
            raise InputError("Name the attribute to fit (colour, or what your CSV labels).")
        lab, seeds = chosen_labeller(FIT_LABELLERS, labeller, attribute, csv_path, n)
        progress(0, desc="drawing and labelling")
        fitted = fit_labelled(gan, lab, seeds, attribute, progress=lambda f: progress(f, desc="drawing and labelling"))
        mine = merged(mine, {d.label: d for d in fitted.values()})  # a refit attribute replaces its earlier fit
        files, folder = session_folder(files)
        # Files are named by index, never by the user's attribute or class names.
        paths = [str(d.save_in(folder, f"w_{i:02d}")) for i, d in enumerate(fitted.values())]
        accuracy = ", ".join(f"{c} {d.meta['accuracy'][0]:.2f}" for c, d in fitted.items())
        msg = (f"Fitted {len(fitted)} direction(s) for **{attribute}** from {len(seeds)} samples; held-out accuracy "
               f"{accuracy}. They are now in the Target list (and in the walks, the comparison and the atlas).")
        attrs = sorted({d.meta["attribute"] for d in merged(dirs, mine).values()})
        return mine, paths, msg, gr.update(value=attribute, choices=attrs), files

    return fit


def _wire_fit(ui: SimpleNamespace, mine: gr.State, fit) -> None:
    """The fit's event: /fit_w (its outputs: the visitor's directions, files, status, the attribute list)."""
    f = ui.fit
    f.button.click(fit, [f.attribute, f.labeller, f.n_samples, f.csv_file, mine, f.files],
                   [mine, f.download, f.status, ui.attribute, f.files], api_name="fit_w", concurrency_id=LONG,
                   concurrency_limit=CONCURRENCY[LONG], show_progress="full")


def _handlers(gan, dirs: dict, sdirs: dict, extra: list[tuple], comps: list[tuple]) -> SimpleNamespace:
    """edit (/edit_w), strip_fn, edit_upload (/edit_w_upload), refresh_targets and show (the first view). With
    "Edit in" at S, the main edit moves StyleSpace channels (sdirs); the other sliders stay W edits."""
    L = gan.n_latent

    def style_direction(attribute, target):
        d = sdirs.get(f"{check_name(attribute, 'attribute')}: {check_name(target, 'target')}")
        if d is None:
            raise InputError(f"No style channels were found for {attribute}: {target} on this generator; edit it in "
                             "W, or find them with `python -m edits.stylespace`.")
        return d

    def build_edits(dirs, attribute, target, strength, conditional, extras, layers=None):
        """The main edit on the chosen style layers; the extra sliders' on their directions' own."""
        edits = []
        for i, (a, t, s) in enumerate([(attribute, target, strength), *extras]):
            if t in (None, "", NONE):
                continue
            edits.append(make_edit(dirs, a, t, s, conditional, layers if i == 0 else None))
        return edits

    def unpack(args):
        """(conditional, layers, extra edits, component values, the directions seen, the space) from the inputs
        after the strength; the last two inputs are the space and the visitor's own directions."""
        *args, space, mine = args
        n_extra = len(extra)
        conditional, lo, hi = args[0], args[1], args[2]
        ex = [(extra[i][0], args[3 + 2 * i], check_number(args[4 + 2 * i], f"The {extra[i][0]} strength",
                                                          -MAX_STRENGTH, MAX_STRENGTH)) for i in range(n_extra)]
        values = args[3 + 2 * n_extra:]
        return (conditional, (lo, hi), ex, {k: v for (k, _), v in zip(comps, values) if v}, merged(dirs, mine),
                space == S_SPACE)

    def seed_code(seed, truncation_psi, strength):
        """(w (1, w_dim) of the seed, the checked strength) for an edit in S."""
        w = gan.w_from_seed(check_seed(seed), check_number(truncation_psi, "Truncation ψ", 0.0, 1.5))
        return w, check_number(strength, "Strength", -MAX_STRENGTH, MAX_STRENGTH)

    def in_s(w, attribute, target, strengths, seen, conditional, ex, comp_values, layers):
        """Pictures of w (1, w_dim) with the main edit in S at each strength, the other sliders in W."""
        d = style_direction(attribute, target)
        w_edits = build_edits(seen, attribute, NONE, 0.0, conditional, ex, layers)
        return [edit_in_s(gan, w, d, s, w_edits, comp_values, layers)[0] for s in strengths]

    @friendly
    def edit(seed, truncation_psi, attribute, target, strength, *rest):
        conditional, layers, ex, comp_values, seen, s = unpack(rest) if rest else (False, None, [], {}, dirs, False)
        if s:
            w, strength = seed_code(seed, truncation_psi, strength)
            return gan.render(w)[0], in_s(w, attribute, target, [strength], seen, conditional, ex, comp_values,
                                          layers)[0]
        e = build_edits(seen, attribute, target, strength, conditional, ex, layers)
        return edit_pair(gan, seed, e, truncation_psi, comp_values, layers)

    @friendly
    def strip_fn(seed, truncation_psi, attribute, target, strength, *rest):
        conditional, layers, ex, _, seen, s = unpack(rest)
        if s:
            w, strength = seed_code(seed, truncation_psi, strength)
            top = max(1.0, abs(strength))
            strengths = [float(x) for x in np.linspace(-top, top, TRAVERSAL_FRAMES)]
            frames = in_s(w, attribute, target, strengths, seen, conditional, [], {}, layers)  # as W's: the main edit
            return [(f, signed(x)) for x, f in zip(strengths, frames)]
        e = build_edits(seen, attribute, target, strength, conditional, ex, layers)
        if not e:
            return []
        strengths, frames = traversal(gan, seed, e[0], truncation_psi, TRAVERSAL_FRAMES, layers)
        return [(f, signed(s)) for s, f in zip(strengths, frames)]

    @friendly
    def edit_upload(path, attribute, target, strength, *rest):
        conditional, layers, ex, comp_values, seen, s = unpack(rest)
        image = read_upload(path, gan.generator.cfg.resolution)
        if s:
            strength = check_number(strength, "Strength", -MAX_STRENGTH, MAX_STRENGTH)
            style_direction(attribute, target)  # a clear message before the encoder runs
            if gan.encoder is None:
                return edit_image(gan, image, [])  # its sentence: this generator cannot bring a picture into W
            w = invert(gan, image)
            return gan.render(w)[0], in_s(w, attribute, target, [strength], seen, conditional, ex, comp_values,
                                          layers)[0]
        e = build_edits(seen, attribute, target, strength, conditional, ex, layers)
        return edit_image(gan, image, e, comp_values, layers)

    def refresh_targets(attribute, mine):
        seen = merged(dirs, mine)
        ch = _targets(seen, attribute)
        lo, hi = recommended_layers(seen, attribute, L)
        return gr.update(choices=ch, value="blue" if "blue" in ch else (ch[0] if ch else None)), lo, hi

    def show(*args):
        """The first view for a seed: the edit and its strip."""
        return (*edit(*args), strip_fn(*args))

    return SimpleNamespace(edit=edit, strip_fn=strip_fn, edit_upload=edit_upload, refresh_targets=refresh_targets,
                           show=show)


def _wire(gan, dirs: dict, ui: SimpleNamespace, seed: gr.Number, mine: gr.State, h: SimpleNamespace) -> dict:
    """The tab's events (endpoints /edit_w and /edit_w_upload; every slider edits live) and its first view."""
    L, extra, comps = gan.n_latent, ui.extra, ui.comps
    edit, strip_fn = h.edit, h.strip_fn
    original, edited, strip = ui.original, ui.edited, ui.strip
    inputs = [seed, ui.psi, ui.attribute, ui.target, ui.strength, ui.conditional, ui.first_layer, ui.last_layer,
              *[c for _, t, s in extra for c in (t, s)], *[s for _, s in comps], ui.space, mine]
    live = [ui.psi.input, ui.strength.input, ui.target.change, ui.conditional.change, ui.first_layer.input,
            ui.last_layer.input, ui.space.change, seed.submit, *[s.input for _, _, s in extra],
            *[t.change for _, t, _ in extra],
            *[s.input for _, s in comps]]
    ev = gr.on(live, edit, inputs, [original, edited], api_name="edit_w", concurrency_id=GAN,
               concurrency_limit=CONCURRENCY[GAN], show_progress="hidden", trigger_mode="always_last")
    ev.then(strip_fn, inputs, strip, api_name=False, concurrency_id=GAN, concurrency_limit=CONCURRENCY[GAN],
            show_progress="hidden")
    clicked = ui.button.click(edit, inputs, [original, edited], api_name=False, concurrency_id=GAN,
                              concurrency_limit=CONCURRENCY[GAN], show_progress="minimal")
    clicked.then(strip_fn, inputs, strip, api_name=False, concurrency_id=GAN, concurrency_limit=CONCURRENCY[GAN],
                 show_progress="minimal")
    ui.attribute.change(h.refresh_targets, [ui.attribute, mine], [ui.target, ui.first_layer, ui.last_layer],
                        api_name=False, queue=False)
    ui.invert_button.click(h.edit_upload, [ui.upload, *inputs[2:]], [original, edited], api_name="edit_w_upload",
                           concurrency_id=GAN, concurrency_limit=CONCURRENCY[GAN])
    ui.reset.click(lambda a, m: [DEFAULT_STRENGTH, False, *recommended_layers(merged(dirs, m), a, L),
                                 *[NONE, DEFAULT_STRENGTH] * len(extra), *[0] * len(comps), W_SPACE],
                   [ui.attribute, mine], [ui.strength, ui.conditional, ui.first_layer, ui.last_layer,
                                          *[c for _, t, s in extra for c in (t, s)], *[s for _, s in comps],
                                          ui.space],
                   api_name=False, queue=False).then(
        edit, inputs, [original, edited], api_name=False, concurrency_id=GAN, concurrency_limit=CONCURRENCY[GAN])
    return {"refresh": (h.show, inputs, [original, edited, strip])}

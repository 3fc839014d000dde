"""The archive: every picture a generator can draw has a code; count what it draws, search it, map it."""
from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

import gradio as gr

from edits.archive import FACTOR_NAMES, open_diffusion_archive, open_gan_archive
from edits.archive_figures import census_figure, map_figure
from edits.pipeline import InputError, check_seed
from toyworld.world import FACTORS

from .common import Models, explain, friendly, image_out, lead, measured
from .sharing import CONCURRENCY, GAN

ANY = "any"
LEAD = ("A latent space as an **archive**: every picture the model can draw has a code. Describe a picture and "
        "find the codes that draw it — codes, not prompts.")

EXPLAIN = """
**Search.** Each archive has a catalogue: thousands of seeds, each drawn once and read by the independent judge
(`edits/judge.py`, which redraws the toy world itself and shares nothing with the models). A search returns the
seeds whose pictures the judge reads as your description, cleanest first. In the StyleGAN's archive, when the
catalogue holds too few, the nearest codes are *moved* along the W directions fitted for the missing factors until
the judge reads the description: those results say what was moved. Click a result to make its seed the shared
seed. The diffusion archive is its model under the **empty prompt**: nothing said, the seed decides everything.

**Census.** The essay reads the latent space as an archive that remembers and forgets (mode collapse decides
which). Thousands of pictures per generator, counted by colour and shape: a cell never drawn is *forgotten*; a
dashed cell is a pair kept out of every training picture (red star, green square, blue triangle, pink circle),
so a picture there was *invented*, drawn without being asked. Pictures the judge does not read as one clean
object are counted apart. *Colour unsaid*: prompts that name shape, size and background and leave the colour to
the seed.

**Map.** The catalogue's codes on their two main axes (PCA): w for the StyleGAN, the diffusion UNet's bottleneck
h at one denoising step for the diffusion model (0 = the noisiest). Each dot is a code, coloured by what the
judge reads in its picture (grey: no clean scene); a few pictures are placed where their codes lie; the star is
the shared seed.
"""

CENSUS_LABELS = {  # the census keys `python -m benchmarks archive` writes, and their names on the page
    "gan": "StyleGAN W (ψ = 1)",
    "diffusion_empty": "Diffusion, empty prompt",
    "diffusion_colour_unsaid": "Diffusion, colour unsaid",
    "training": "Training scenes",
}
DEFAULT = {"colour": "red", "shape": ANY, "size": ANY, "background": ANY}


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def census_sentence(table: dict, training: dict | None) -> str:
    """One sentence on the held-out cells (and the forgotten ones), every number from the measured table."""
    seen = len(table["colours"]) * len(table["shapes"]) - len(table["heldout"])
    lo, hi = table["heldout_ci"] or (None, None)
    base = "" if training is None else f", against {_pct(training['heldout_share'])} of the training scenes"
    forgotten = table["forgotten"]
    gone = (f"{len(forgotten)} of the {seen} pairs seen in training are never drawn"
            + (f" ({', '.join(forgotten[:6])}{'…' if len(forgotten) > 6 else ''})" if forgotten else ""))
    return (f"The held-out pairs make **{_pct(table['heldout_share'])}** of its {table['valid']} valid pictures "
            f"(95 % interval {_pct(lo)} – {_pct(hi)}){base}; {gone}; {table['invalid']} of {table['n']} pictures "
            "are not read as one clean scene and are counted apart.")


def search_sentence(summary: dict | None) -> str:
    """The measured search quality of an archive, from assets/measured/archive.json."""
    if not summary:
        return "<small>Not measured yet: `python -m benchmarks archive`.</small>"
    return (f"<small>Measured over every one- and two-factor description: the first result reads as described in "
            f"{_pct(summary.get('search_hit_rate'))} of one-factor searches, {_pct(summary.get('search_hit_rate_pairs'))} "
            f"of two-factor ones and {_pct(summary.get('search_hit_rate_heldout'))} of held-out pairs; median "
            f"{summary.get('search_s')} s a search.</small>")


def create_tab(models: Models, seed: gr.Number) -> dict:
    """The Archive tab: search (/search), census (/census) and map (/archive_map) of the chosen archive."""
    archives = [a for a in (open_gan_archive(models.gan, models.w_directions),
                            open_diffusion_archive(models.diffusion)) if a is not None]
    if not archives:
        gr.Markdown("No archive is available on this server: it needs a StyleGAN or a diffusion model with a "
                    "catalogue (`python -m edits.archive`).")
        return {"refresh": None}
    lead(LEAD)
    ui = _layout(archives)
    explain(EXPLAIN)
    h = _handlers(archives)
    first = [int(seed.value), ui.archive.value, *[ui.describe[f].value for f in FACTOR_NAMES], ui.factor.value,
             ui.step.value, ui.census.value]
    threading.Thread(target=_warm, args=(h.show, first), name="archive-warm", daemon=True).start()
    return _wire(ui, seed, h)


def _warm(show, inputs) -> None:
    """Draw the first view once in the background while the server starts, so that the tab's first opening
    finds the map's codes and pictures computed, matplotlib loaded and the judge's silhouettes drawn."""
    try:
        show(*inputs)
    except Exception:  # a courtesy: the first view is drawn again when the tab opens
        logging.getLogger("demo").exception("warming the archive tab failed")


def _layout(archives) -> SimpleNamespace:
    first = archives[0]
    steps = next((a.steps for a in archives if a.kind == "diffusion"), [])
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            archive = gr.Radio([a.label for a in archives], value=first.label, label="Archive")
            with gr.Row():
                describe = {f: gr.Dropdown([ANY, *FACTORS[f]], value=DEFAULT[f], label=f.capitalize(), min_width=120)
                            for f in FACTOR_NAMES}
            button = gr.Button("Search", variant="primary")
            note = gr.Markdown(elem_classes=["note"])
            quality = gr.Markdown(search_sentence(_summary(first)))
        with gr.Column(scale=2):
            best = image_out("First result")
            gallery = gr.Gallery(label="Results (click one: its seed becomes the shared seed)", columns=4,
                                 object_fit="contain", format="png", elem_classes=["pixelated", "strip"],
                                 preview=False, allow_preview=False)
    found = gr.State([])  # the seeds shown in the gallery
    with gr.Row():
        with gr.Column(min_width=320):
            gr.Markdown("### Census: what the archive remembers, forgets and invents")
            table = measured("archive").get("census", {})
            choices = [v for k, v in CENSUS_LABELS.items() if k in table] or list(CENSUS_LABELS.values())
            census = gr.Radio(choices, value=choices[0], label="Census of")
            census_text = gr.Markdown()
            census_img = gr.Image(label="Colour × shape: count and share of the valid pictures", type="pil",
                                  interactive=False, elem_classes=["atlas"], buttons=["download", "fullscreen"],
                                  min_width=300, show_label=False)  # (its title is in the figure)
        with gr.Column(min_width=320):
            gr.Markdown("### Map: the archive's codes on their two main axes")
            with gr.Row():
                factor = gr.Radio(list(FACTOR_NAMES), value="colour", label="Colour the codes by")
                step = gr.Dropdown(steps or [0], value=(steps or [0])[len(steps) // 2] if steps else 0,
                                   label="Denoising step (h)", visible=first.kind == "diffusion", min_width=120)
            map_img = gr.Image(label="Codes (dots), some pictures, and the shared seed (star)", type="pil",
                               interactive=False, elem_classes=["atlas"], buttons=["download", "fullscreen"],
                               min_width=300, show_label=False)  # (its title is in the figure)
    return SimpleNamespace(archive=archive, describe=describe, button=button, note=note, quality=quality, best=best,
                           gallery=gallery, found=found, census=census, census_text=census_text, census_img=census_img,
                           factor=factor, step=step, map_img=map_img)


def _summary(archive) -> dict | None:
    m = measured("archive")
    return (m.get("search") or {}).get(archive.kind)


def _handlers(archives) -> SimpleNamespace:
    by_label = {a.label: a for a in archives}

    def pick(label):
        if label not in by_label:
            raise InputError(f"Choose an archive among: {', '.join(by_label)}.")
        return by_label[label]

    @friendly
    def search(archive, colour=ANY, shape=ANY, size=ANY, background=ANY):
        a = pick(archive)
        r = a.search({"colour": colour, "shape": shape, "size": size, "background": background})
        moved = f", {r.moved} after a move in W" if r.moved else ""
        if r.hit:
            note = (f"{len(r.results)} found: {r.from_catalogue} straight from the catalogue of {len(a.catalogue)} "
                    f"seeds ({r.candidates} there read so){moved}; {r.seconds:.2f} s.")
        else:
            note = (f"Nothing in this archive reads as that ({len(a.catalogue)} seeds looked at"
                    f"{', and moves in W' if a.kind == 'gan' else ''}): the closest pictures are shown.")
        gallery = [(f.image, f.caption()) for f in r.results]
        return r.results[0].image, gallery, note, [f.seed for f in r.results]

    def choose(seeds, evt: gr.SelectData):
        """A click on a result: its seed becomes the shared seed."""
        try:
            return check_seed(seeds[evt.index])
        except (IndexError, TypeError, InputError):
            return gr.skip()

    @friendly
    def show_map(archive, factor="colour", step=0, seed=7):
        a = pick(archive)
        if factor not in FACTOR_NAMES:
            raise InputError(f"Colour the codes by one of: {', '.join(FACTOR_NAMES)}.")
        s = None
        if a.kind == "diffusion":
            s = int(step) if step in a.steps else None
            if s is None:
                raise InputError(f"Choose a denoising step among: {', '.join(map(str, a.steps))}.")
        points = a.map_points(s)
        xy, picture = a.locate(check_seed(seed), s)
        title = f"{a.label}: {points['space']}, first two principal components"
        return map_figure(points, factor, xy, picture, int(seed), title)

    @friendly
    def show_census(choice):
        tables = measured("archive").get("census", {})
        key = next((k for k, v in CENSUS_LABELS.items() if v == choice), None)
        if key is None or key not in tables:  # (hidden: an empty picture would never finish loading)
            return gr.update(value=None, visible=False), "Not measured yet: run `python -m benchmarks archive`."
        t = tables[key]
        title = f"{choice}" + (f" — {t['model']}" if t.get("model") else "")
        sentence = census_sentence(t, None if key == "training" else tables.get("training"))
        return gr.update(value=census_figure(t, title), visible=True), sentence

    def on_archive(archive, factor, step, seed):
        a = pick(archive)
        return gr.update(visible=a.kind == "diffusion"), search_sentence(_summary(a)), show_map(archive, factor,
                                                                                                 step, seed)

    def show(seed, archive, colour, shape, size, background, factor, step, census):
        """The tab's first view: a search for the default description, the census, the map."""
        return (*search(archive, colour, shape, size, background), *show_census(census),
                show_map(archive, factor, step, seed))

    return SimpleNamespace(search=search, choose=choose, show_map=show_map, show_census=show_census,
                           on_archive=on_archive, show=show)


def _wire(ui: SimpleNamespace, seed: gr.Number, h: SimpleNamespace) -> dict:
    kw = dict(concurrency_id=GAN, concurrency_limit=CONCURRENCY[GAN])
    describe = [ui.describe[f] for f in FACTOR_NAMES]
    ui.button.click(h.search, [ui.archive, *describe], [ui.best, ui.gallery, ui.note, ui.found], api_name="search",
                    show_progress="minimal", **kw)
    map_inputs = [ui.archive, ui.factor, ui.step, seed]
    ui.gallery.select(h.choose, ui.found, seed, api_name=False, queue=False).then(
        h.show_map, map_inputs, ui.map_img, api_name=False, show_progress="minimal", **kw)
    gr.on([ui.factor.change, ui.step.change], h.show_map, map_inputs, ui.map_img, api_name="archive_map",
          show_progress="minimal", **kw)
    ui.archive.change(h.on_archive, map_inputs, [ui.step, ui.quality, ui.map_img], api_name=False,
                      show_progress="minimal", **kw)
    ui.census.change(h.show_census, ui.census, [ui.census_img, ui.census_text], api_name="census", queue=False)
    inputs = [seed, ui.archive, *describe, ui.factor, ui.step, ui.census]
    outputs = [ui.best, ui.gallery, ui.note, ui.found, ui.census_img, ui.census_text, ui.map_img]
    return {"refresh": (h.show, inputs, outputs)}

"""The measured numbers a reader sees in the documents, rendered from assets/measured (never typed by hand).

    python -m benchmarks.report            # rewrite every block from the files the benchmarks wrote
    python -m benchmarks.report --check    # exit 1, naming the blocks, when a document differs from its files

Each block sits in its document between `<!-- measured:NAME -->` and `<!-- /measured:NAME -->` (BLOCKS says
where, and which function renders it). tests/test_measured.py fails when a block is not what its files
render, so a full benchmark run is followed by this command, and by `python -m training.card` for the
cards that training writes.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from toyworld.settings import ADVERSARIAL_GAN, MEASURED, ROOT


def load(name: str, folder: Path = MEASURED) -> dict:
    return json.loads((folder / f"{name}.json").read_text())


def f2(x, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def ci(c) -> str:
    return "" if not c else f" [{c[0]:.2f}–{c[1]:.2f}]"


# ------------------------------------------------------------------ README: the status
STATUS_ROWS = (("conditioning", "prompt rewritten (imagination)"),
               ("hspace", "h-space direction, guided through the UNet (each step three times)"),
               ("wspace", "W-space direction, from the picture's redrawing in W"),
               ("wspace_end_to_end", "the same W edits, scored from the starting picture"))


def status(folder: Path = MEASURED) -> str:
    im, cmp, hs, ws = (load(n, folder) for n in ("imagination", "compare", "hspace", "wspace"))
    wl, wa = load("wspace.toy-stylegan-labelled", folder), _maybe("wspace.toy-stylegan-label-free", folder)
    ae = (f"; the autoencoder learnt from the same pictures, {f2(wa['clean_edit_rate'])}{ci(wa['clean_edit_ci'])} and "
          f"{f2(wa.get('shape_clean_edit_rate'))} (`wspace.toy-stylegan-label-free.json`)") if wa else ""
    rows = "\n".join(
        f"| {label} | **{f2(cmp[m]['clean_edit_rate'])}**{ci(cmp[m]['clean_edit_ci'])} | {f2(cmp[m]['reached'])} | "
        f"{f2(cmp[m]['kept'])} | {f2(cmp[m]['control_clean_edit_rate'])} | {f2(cmp[m]['do_nothing_clean_edit_rate'])} | "
        f"{cmp[m]['n']} |" for m, label in STATUS_ROWS if m in cmp)
    lab = {m: cmp[m].get("labellers", {}).get("clean_edit_rate") for m in ("conditioning", "hspace", "wspace")}
    agree = cmp["judge_labeller_agreement"]
    return f"""**Status** (measured on a 2-core CPU; every number here is rendered from the files in
`assets/measured/` that the benchmarks write, by `python -m benchmarks.report`): the diffusion model follows
colour in prompts {f2(im['colour_adherence'], 3)} of the time, shape {f2(im['shape_adherence'], 3)}, size \
{f2(im['size_adherence'], 3)}, and composes held-out colour/shape pairs {f2(im['heldout_adherence'], 3)} of the time
({im['n']} prompts, {im['n_heldout']} held-out; `imagination.json`); when the prompt leaves the colour unsaid it draws
every colour at {f2(im['unsaid_colour_min_ratio'])}–{f2(im['unsaid_colour_max_ratio'])}× the uniform share.

Three ways to make one change, a colour or a shape, to **one starting picture** per seed (the base prompt with
that attribute unsaid), over {cmp['seeds']} seeds (`compare.json`). Every picture is read by an independent judge
(`edits/judge.py`: analysis by synthesis with the toy world's own renderer, no learnt weights); an edit is
**clean** when the target is reached *and* every other factor is kept, on the same edit (95 % Wilson
interval). Beside it, a random move of the same size shaped like its space, and doing nothing:

| method | clean edits | reached | kept | random move: clean | doing nothing: clean | n |
|---|---|---|---|---|---|---|
{rows}

The h-space column starts from the Imagination picture pixel for pixel in {f2(cmp['same_before'])} of the seeds. The
judge reads {cmp['conditioning']['invalid_before']} of the {cmp['seeds']} starting pictures as no valid scene (no object,
two, a mixed colour, no clear shape): those seeds are counted apart, as are those whose picture already shows the
target. The round trip into the default W (learnt from pictures alone) brings a valid starting picture back as a
valid scene with the same four factors in {f2(cmp['wspace'].get('inversion_kept'))} of them; the W edit is scored from
that redrawing when it is a valid scene (n above), and from the starting picture in the last row. Read by the labellers the directions were fitted with, the same edits are
clean in {f2(lab['conditioning'])} (prompt), {f2(lab['hspace'])} (h-space) and {f2(lab['wspace'])} (W); the judge and
the labellers agree on colour in {f2(agree['colour'])} of the pictures, on shape in {f2(agree['shape'])}. On their own
benchmarks: h-space colour edits are clean in {f2(hs['clean_edit_rate'])}{ci(hs['clean_edit_ci'])} of \
{hs['colour']['n']} (random readouts:
{f2(hs['control_clean_edit_rate'])}), shape edits in {f2(hs.get('shape_clean_edit_rate'))} (`hspace.json`); the default
W generator (a GAN learnt from pictures alone) swaps colours from its own seeds cleanly in \
{f2(ws['clean_edit_rate'])}{ci(ws['clean_edit_ci'])} (a random W move: {f2(ws['control_clean_edit_rate'])}), shapes in \
{f2(ws.get('shape_clean_edit_rate'))} (`wspace.json`){ae}; the label-built GAN, an upper bound that is never the default, {f2(wl['clean_edit_rate'])} (random move
{f2(wl['control_clean_edit_rate'])}; `wspace.toy-stylegan-labelled.json`)."""


# ------------------------------------------------------------------ the label-free W models' cards
def _line(m: dict) -> str:
    return json.dumps({k: v for k, v in m.items() if k not in ("sweep", "source")})


def _versus(rate, control) -> str:
    if rate is None or control is None:
        return "cannot be compared with its control"
    if rate > control:
        return f"is cleaner than a random move of its size ({f2(rate)} against {f2(control)})"
    return f"is no cleaner than a random move of its size ({f2(rate)} against {f2(control)})"


# The W models learnt from pictures alone, each with its card: (results file, the card's name for it, the other one)
W_CARDS = {
    "gan": ("wspace", "the GAN (this)", "wspace.toy-stylegan-label-free", "the autoencoder (`../toy-stylegan-label-free`)"),
    "label-free": ("wspace.toy-stylegan-label-free", "the autoencoder (this)", "wspace", "the GAN (`../toy-stylegan-gan`)"),
}


def _training_facts(folder: Path) -> str:
    """The GAN's training as its export recorded it (training.json beside the weights)."""
    t = json.loads((folder / "training.json").read_text())
    c = t.get("config", {})
    enc = folder / "encoder_training.json"
    after = json.loads(enc.read_text()) if enc.is_file() else None
    encoder = (f"\nThen, with G frozen, its encoder trained {after['steps']} more steps ({f2(after['wall_s'] / 60, 1)} min; "
               "`python -m training.stylegan_encoder --resume`, `encoder_training.json`) on G's own samples and on "
               "the training pictures, for inversion." if after else "")
    return f"""## Training (`python -m training.stylegan_gan train`, resumable; as `training.json` records it)
{t['steps']} steps ({t['kimg']} k pictures seen; batch {c.get('batch')} at the end), {f2(t['wall_s'] / 3600, 1)} h of
training in all. Recipe: {t['recipe']}. At the end: Adam lr {c.get('lr')}, betas {c.get('betas')}; R1 gamma {c.get('r1_gamma')}
every {c.get('r1_every')} D steps; path length weight {c.get('pl_weight')} every {c.get('pl_every')} G steps; style
mixing {c.get('mixing_prob')}; G_ema half-life {c.get('ema_kimg')} k pictures; augmentation {c.get('augment')}.{encoder}"""


def w_card(which: str, folder: Path = MEASURED) -> str:
    """The measured block of a W model's card: its wspace file beside the other label-free model's and the
    label-built upper bound's, and what the judge read."""
    this, this_label, other, other_label = W_CARDS[which]
    ws, wo, wl = load(this, folder), _maybe(other, folder), load("wspace.toy-stylegan-labelled", folder)
    c = ws["colour"]
    inv = ws.get("inverted")
    default = this == "wspace"
    inversion = "" if inv is None else f"""
### Inversion (`edits.wspace.invert`: the encoder, no optimisation steps by default)

On the diffusion model's pictures with the colour unsaid ({ws['inversion_seeds']} seeds, {ws['inversion_valid_pictures']} of
them valid scenes for the judge), the redrawing is a valid scene with the same colour, shape, size and background
in **{f2(ws['inversion_kept'])}** of the valid ones (the labellers, on all: {f2(ws['inversion_fidelity'])}). Colour swaps that start from those codes, scored from the redrawings, are
clean in {f2(inv['clean_edit_rate'])}{ci(inv['clean_edit_ci'])} of {inv['n']} (a random W move:
{f2(inv['control_clean_edit_rate'])}). {f2(ws['inversion_ms'], 1)} ms a picture here (single picture, median)."""
    role = ("This model is the app's **default W model** (`EMBEDDED_GAN` in `toyworld/settings.py`): its colour swaps "
            "are clean more often than the autoencoder's" if default else
            "This model is the app's second label-free W model (`python app.py --gan assets/toy-stylegan-label-free`); "
            "the GAN is the default, its colour swaps being clean more often than these")
    other_row = f"| {other_label}, `../measured/{other}.json` | `{_line(wo)}` |\n" if wo else ""
    facts = _training_facts(ADVERSARIAL_GAN) + "\n\n" if which == "gan" else ""
    beside = (f" {other_label[0].upper()}{other_label[1:]} swaps colours cleanly in {f2(wo['clean_edit_rate'])}"
              f"{ci(wo['clean_edit_ci'])}." if wo else "")
    return f"""{facts}## Measured (`python -m benchmarks wspace`, 1 torch thread, one run; rendered from `../measured/` by `python -m benchmarks.report`)
{role}; the label-built one is kept as an upper bound, never the default.

| model | last line |
|---|---|
| {this_label}, `../measured/{this}.json` | `{_line(ws)}` |
{other_row}| label-built upper bound (`../toy-stylegan-labelled`, `../measured/wspace.toy-stylegan-labelled.json`) | `{_line(wl)}` |

### What this says about InterFaceGAN's premise (so far)

Scored by the judge (`edits/judge.py`, which shares nothing with the labellers the directions were fitted with):
over {c['n']} colour swaps from the first {ws['judged_seeds']} seeds whose pictures it reads as valid scenes (of
{ws['judged_seeds_drawn']} seeds looked at), an edit is clean (the target colour reached *and* shape, size and
background kept, on the same edit) in **{f2(c['clean_edit_rate'])}**{ci(c['clean_edit_ci'])}; it reaches the colour in
{f2(c['reached'])} and keeps the rest in {f2(c['kept'])} ({f2(c['kept_given_reached'])} when it reaches it). The swap
{_versus(c['clean_edit_rate'], c['control_clean_edit_rate'])}: a random direction drawn from W's own spread, moved as
far on the same style layers; doing nothing scores {f2(c['do_nothing_clean_edit_rate'])}. Shape swaps are clean in
{f2(ws.get('shape_clean_edit_rate'))} (random move: {f2(ws.get('shape_control_clean_edit_rate'))}).{beside}
On the label-built model the colour swap is clean in {f2(wl['clean_edit_rate'])} against {f2(wl['control_clean_edit_rate'])}
for the same control.

The samples: the judge reads {f2(ws['valid_scene_fraction'])} of 1000 samples (ψ = 1) as a valid scene (one object, one
colour, a shape); colours and shapes come out at {f2(ws['coverage_min_ratio'])}–{f2(ws['coverage_max_ratio'])}× their
training frequencies (rarest: {ws.get('coverage_worst')}, commonest: {ws.get('coverage_most')}); the classifier is
confident (≥ 0.9 on every factor) on {f2(ws['confident_fraction'], 3)} of them (the label-built model: {f2(wl['confident_fraction'], 3)}).
{inversion}{fit_methods_block(folder) if default else ""}"""


FIT_METHODS = (("logistic-raw", "logistic regression on the raw codes (InterFaceGAN's linear classifier)"),
               ("logistic", "logistic regression on standardised codes"))


def fit_methods_block(folder: Path = MEASURED) -> str:
    """Which boundary the default W model's directions use, and what the others measured
    (`python -m benchmarks wspace --method M`); empty when none was measured."""
    ws = load("wspace", folder)
    rows = [(label, _maybe(f"wspace.method-{m}", folder)) for m, label in FIT_METHODS]
    rows = [(label, r) for label, r in rows if r]
    if not rows:
        return ""
    lines = "\n".join(
        f"| {label} | **{f2(r['clean_edit_rate'])}**{ci(r['clean_edit_ci'])} | {f2(r['reached'])} | "
        f"{f2(r['control_clean_edit_rate'])} | {f2(r['mean_boundary_accuracy'])} |" for label, r in rows)
    return f"""
### Which boundary (`python -m benchmarks wspace --method M`)

The W directions here join the class means (`python -m edits.fit wspace --method mean-difference`, the project's
default). InterFaceGAN takes the normal of a linear classifier instead; fitted that way on the same samples and
measured the same way (the judge's clean colour swaps, the share that reaches the target colour, the random move,
the mean held-out accuracy of the colour, shape and size boundaries):

| boundary | colour swaps clean [95% CI] | reached | random move | mean held-out accuracy |
|---|---|---|---|---|
| difference of class means (shipped) | **{f2(ws['clean_edit_rate'])}**{ci(ws['clean_edit_ci'])} | {f2(ws['reached'])} | {f2(ws['control_clean_edit_rate'])} | {f2(ws['mean_boundary_accuracy'])} |
{lines}

A classifier's normal is the direction that best *separates* the classes, not the one that leads from the other
classes' codes to the target's; the swap of the same strength along it reaches the target colour less often (the
"reached" column).
"""


def gan_card(folder: Path = MEASURED) -> str:
    return w_card("gan", folder)


def label_free_card(folder: Path = MEASURED) -> str:
    return w_card("label-free", folder)


# ------------------------------------------------------------------ README: the archive and unseen pairs
HELDOUT_ROWS = (("conditioning", "prompt says the pair (imagination)"), ("hspace", "h-space direction"),
                ("wspace", "W-space direction (from the redrawing in W)"),
                ("wspace_end_to_end", "W-space, from the starting picture"))


def _maybe(name: str, folder: Path) -> dict:
    try:
        return load(name, folder)
    except (OSError, ValueError):
        return {}


def archive_block(folder: Path = MEASURED) -> str:
    ho, ar = _maybe("heldout", folder), _maybe("archive", folder)
    out = []
    if ho:
        rows = "\n".join(
            f"| {label} | **{f2(ho[m]['clean_edit_rate_heldout'])}**{ci(ho[m]['clean_edit_ci_heldout'])} | "
            f"{f2(ho[m]['control_clean_edit_rate_heldout'])} | {ho[m]['n_heldout']} | "
            f"**{f2(ho[m]['clean_edit_rate_seen'])}**{ci(ho[m]['clean_edit_ci_seen'])} | "
            f"{f2(ho[m]['control_clean_edit_rate_seen'])} | {ho[m]['n_seen']} |" for m, label in HELDOUT_ROWS if m in ho)
        out.append(f"""**Unseen compositions** (`heldout.json`): the pairs {', '.join(ho['heldout_pairs'])} never appear in
any model's training. {ho['rows_per_group']} starting pictures (one factor of the pair said, the other unsaid, as in
Side by side) were asked to become one of them, and as many to become a seen pair of the same colours and shapes;
clean edits read by the judge, with a random move of the same size beside each (n: the edits counted, those whose
starting picture the judge reads as one clean scene not already showing the target):

| method | unseen pairs: clean | random move | n | seen pairs: clean | random move | n |
|---|---|---|---|---|---|---|
{rows}""")
    if ar:
        search = ar.get("search") or {}
        lines = []
        for key, name in (("gan", "the GAN's W"), ("diffusion", "the diffusion model under the empty prompt")):
            s = search.get(key)
            if s:
                lines.append(f"in {name}, the first result reads as described for {f2(s['search_hit_rate'])} of "
                             f"{s['descriptions']['single']} one-factor descriptions, {f2(s['search_hit_rate_pairs'])} of "
                             f"{s['descriptions']['pairs']} seen two-factor ones and {f2(s['search_hit_rate_heldout'])} of "
                             f"the {s['descriptions']['heldout']} unseen pairs, in a median {s['search_s']} s")
        census = ar.get("census") or {}
        shares = [f"{name} {100 * census[k]['heldout_share']:.1f} % (of {census[k]['valid']} valid pictures)"
                  for k, name in (("gan", "the GAN at ψ = 1"), ("diffusion_empty", "diffusion, empty prompt"))
                  if k in census and census[k].get("heldout_share") is not None]
        out.append("**The archive** (`archive.json`): searching the catalogues of codes by description (Archive tab), "
                   + ("; ".join(lines) or "not measured") + ". Unseen pairs drawn without being asked: "
                   + (", ".join(shares) or "not measured") + ".")
    return "\n\n".join(out) or "Not measured yet: `python -m benchmarks heldout`, `python -m benchmarks archive`."


# ------------------------------------------------------------------ README: how W and S are organised
def structure_block(folder: Path = MEASURED) -> str:
    dl, ss = _maybe("disentanglement", folder), _maybe("stylespace", folder)
    dll = _maybe("disentanglement.toy-stylegan-labelled", folder)
    dla = _maybe("disentanglement.toy-stylegan-label-free", folder)
    if not dl:
        return "Not measured yet: `python -m benchmarks disentanglement`."

    def row(m: dict, label: str) -> str:
        cells = " | ".join(f"{f2(m[k]['dci_disentanglement'])} / {f2(m[k]['mig'])}" if k in m else "—"
                           for k in ("z", "w", "s", "w_random_expansion"))
        return f"| {label} ({m['n_valid']} valid of {m['n_sampled']} samples) | {cells} |"

    from benchmarks.disentanglement import STYLESPACE_PUBLISHED

    rows = [row(m, m["model"]) for m in (dl, dla, dll) if m]
    out = f"""**How the GANs' spaces are organised** (`disentanglement.json`; DCI disentanglement / MIG against the four
factors the judge reads, over samples it reads as valid scenes; the last column is w through a random matrix to as many
dimensions as s: s is affine in w, so it only wins by its axes when it beats that control):

| generator | z | w | s (StyleSpace) | w, randomly expanded |
|---|---|---|---|---|
""" + "\n".join(rows) + (f"\n\nPublished for StyleGAN2 on faces (FFHQ; Wu et al., StyleSpace, CVPR 2021), DCI "
                          f"disentanglement: W {f2(STYLESPACE_PUBLISHED['w'])}, S {f2(STYLESPACE_PUBLISHED['s'])}.")
    for m, name in ((ss, "stylespace.json"), (_maybe("stylespace.toy-stylegan-label-free", folder),
                                              "stylespace.toy-stylegan-label-free.json")):
        if m:
            out += (f"\n\nStyleSpace edits of {m['model']} (`{name}`, {m['judged_seeds']} valid starting codes, "
                    f"{m['channels'][0]} channels per class): colour swaps clean in "
                    f"{f2(m['stylespace_clean_edit_rate'], 3)}{ci(m['stylespace_clean_edit_ci'])} (random channels "
                    f"{f2(m['stylespace_control_clean_edit_rate'], 3)}), shape swaps "
                    f"{f2(m['stylespace_shape_clean_edit_rate'], 3)}; the W swaps of the same codes "
                    f"{f2(m['w_clean_edit_rate'], 3)} and {f2(m['w_shape_clean_edit_rate'], 3)}.")
    return out


# ------------------------------------------------------------------ README: serving a room
def serving_block(folder: Path = MEASURED) -> str:
    sp, ld, st = _maybe("speed", folder), _maybe("load", folder), _maybe("steps", folder)
    out = []
    im = _maybe("imagination", folder)
    if st and im:
        from benchmarks.imagination import FLOORS

        ref, ch = st["settings"][st["reference"]], st["settings"].get(f"ddim_{im['steps']}", {})
        fewer = "; ".join(f"at {r['steps']} steps it read colour {f2(r['colour_adherence'])}, shape "
                          f"{f2(r['shape_adherence'])}, size {f2(r['size_adherence'])}, held-out pairs "
                          f"{f2(r['heldout_adherence'])}" for r in im.get("fewer_steps", []))
        out.append(f"**Denoising steps**: the embedded model draws with {im['steps']} DDIM steps, the fewest that keep "
                   f"the prompt both ways it is measured. The judge (`steps.json`, {st['n']} prompts) reads every "
                   f"adherence within the 95 % interval of {st['reference'].split('_')[1]} steps (colour "
                   f"{f2(ch.get('colour'))} against {f2(ref['colour'])}, shape {f2(ch.get('shape'))} against "
                   f"{f2(ref['shape'])}, held-out pairs {f2(ch.get('heldout'))} against {f2(ref['heldout'])}); it "
                   f"lets {st['chosen_ddim'].split('_')[1]} through as well. The classifier (`imagination.json`, "
                   f"{im['n']} prompts) reads colour {f2(im['colour_adherence'])}, shape {f2(im['shape_adherence'])}, "
                   f"size {f2(im['size_adherence'])}, held-out pairs {f2(im['heldout_adherence'])}, at or above the "
                   f"floors {', '.join(f2(v) for v in FLOORS.values())}"
                   + (f"; on the same prompts and seeds {fewer}." if fewer else "."))
    if sp:
        out.append(f"**One visitor** (`speed.json`): a picture in {sp['generate_s']:.2f} s ({sp['steps']} steps, median), "
                   f"the default h-space edit {f2(sp.get('edit_h_overhead_default'))}× that, a W edit "
                   f"{sp.get('edit_w_ms', '—')} ms; `python app.py` answers its first page {sp['startup_s']:.1f} s after "
                   f"it starts.")
    if ld:
        out.append(f"**A room** (`load.json`, `python app.py` on loopback): with {ld['clients']} visitors at once each "
                   f"/generate waits p95 {f2(ld['generate_p95_s'], 1)} s (32 visitors: {f2(ld.get('generate_p95_s_32'), 1)} s); "
                   f"{f2(ld['ok_fraction'])} of calls answered; while one session floods the queue another's picture "
                   f"takes {f2(ld['other_session_generate_s_during_flood'], 1)} s; served pictures equal to the same call made "
                   f"alone: {f2(ld['pixel_agreement'])}.")
        if ld.get("room_client") == "browser" and ld.get("clients_cpu_s_32") is not None:
            out[-1] += (f" The visitors are browser-like clients in the benchmark's own process, on the server's two "
                        f"cores: with 32 they took {ld['clients_cpu_s_32']} s of CPU, the server "
                        f"{ld['server_cpu_s_32']} s, in {ld['phase_wall_s_32']} s.")
    return "\n\n".join(out) or "Not measured yet: `python -m benchmarks speed`, `python -m benchmarks load`."


BLOCKS = {  # name: (document, renderer)
    "status": ("README.md", status),
    "archive": ("README.md", archive_block),
    "structure": ("README.md", structure_block),
    "serving": ("README.md", serving_block),
    "gan": ("assets/toy-stylegan-gan/README.md", gan_card),
    "label-free": ("assets/toy-stylegan-label-free/README.md", label_free_card),
}


def _pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- measured:{re.escape(name)} -->\n)(.*?)(\n<!-- /measured:{re.escape(name)} -->)", re.S)


def current(name: str, root: Path = ROOT) -> str | None:
    """A block's text as it stands in its document (None when the markers are missing)."""
    doc, _ = BLOCKS[name]
    m = _pattern(name).search((root / doc).read_text())
    return m.group(2) if m else None


def write(name: str, root: Path = ROOT, folder: Path = MEASURED) -> bool:
    """Render a block into its document; True when the text changed."""
    doc, render = BLOCKS[name]
    path = root / doc
    text = path.read_text()
    if not _pattern(name).search(text):
        raise SystemExit(f"{doc} has no <!-- measured:{name} --> block")
    new = _pattern(name).sub(lambda m: m.group(1) + render(folder) + m.group(3), text)
    path.write_text(new)
    return new != text


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="only say which blocks differ from their files")
    a = p.parse_args(argv)
    stale = [n for n in BLOCKS if current(n) != BLOCKS[n][1](MEASURED)]
    if a.check:
        print("\n".join(f"stale: {n} ({BLOCKS[n][0]})" for n in stale) or "every block quotes its files")
        sys.exit(1 if stale else 0)
    for n in BLOCKS:
        print(f"{n}: {'rewritten' if write(n) else 'unchanged'} ({BLOCKS[n][0]})")


if __name__ == "__main__":
    main()

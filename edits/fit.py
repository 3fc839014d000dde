"""Fit directions from labelled samples.

    python -m edits.fit hspace --prompt "a {size} {shape} on a {background} background" \\
        --attribute colour --labeler colour --samples 256 --out assets/directions

Placeholders {colour} {shape} {size} {background} in the prompt are filled at random per sample
(toy world); leave the edited attribute out of the prompt so that the model decides it.
Labellers: colour (pixels), classifier (toy-world CNN), clip (zero-shot, --classes),
csv (--labels FILE with seed,label rows). Sampling is spread over the processes of an
`accelerate launch` when there are several.

    python -m edits.fit wspace --attribute colour,shape,size,background --samples 6000
    python -m edits.fit wspace --gan my-stylegan/ --attribute smile --labeler csv --labels smiles.csv

fits InterFaceGAN boundaries in the StyleGAN's W (default: the default embedded generator, toyworld/settings.py
EMBEDDED_GAN), colour read from pixels, the other factors by the toy-world classifier; the files go to the
generator's own folder, <gan>/directions, unless --out says otherwise. With --labeler csv (seed,label rows, e.g.
of seeds looked at with NVlabs' generate.py: a converted generator draws the same seeds) any attribute of any
generator is fitted.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .directions import Direction, DirectionError, fit_one_vs_rest, fit_readout, readable_stem
from .hspace import describe, h_shape, pools, sample
from .labelers import FACTORS, ColourLabeler, ToyClassifierLabeler
from toyworld.settings import DIRECTIONS, MAX_CLI_FIT_SAMPLES, MAX_CSV_BYTES, MAX_TEMPLATE_CHARS

from .pipeline import DiffusionModel, InputError, ModelLoadError, check_text, load_hspace_diffusion, to_uint8
from .zerogpu import FIT, gpu

MAX_SAMPLES = MAX_CLI_FIT_SAMPLES


_PLACEHOLDER = re.compile(r"\{(\w*)\}")


def fill_template(template: str, seed: int) -> str:
    """Fill {colour} {shape} {size} {background} at random (deterministic per seed), in one pass over
    a template bounded to MAX_TEMPLATE_CHARS (linear time: no search-and-replace loop)."""
    template = check_text(template, "prompt template", MAX_TEMPLATE_CHARS)
    found = list(_PLACEHOLDER.finditer(template))
    names = ["colour" if m.group(1) == "color" else m.group(1) for m in found]
    unknown = sorted({m.group(0) for m, n in zip(found, names) if n not in FACTORS})
    if unknown:
        raise InputError(f"The prompt template has {', '.join(unknown)[:80]}: the placeholders are "
                         "{colour}, {shape}, {size} and {background}.")
    rng = np.random.default_rng(seed + 7_919)
    values = [""] * len(found)
    for name, choices in FACTORS.items():  # factor by factor, left to right: the same draws as before
        for i, n in enumerate(names):
            if n == name:
                values[i] = str(rng.choice(choices))
    parts, last = [], 0
    for m, v in zip(found, values):
        parts += [template[last:m.start()], v]
        last = m.end()
    text = "".join(parts) + template[last:]
    if "{" in text and _PLACEHOLDER.search(text):  # e.g. "{{colour}}" leaves "{red}"
        raise InputError("The prompt template has a {placeholder} that is not one of colour, shape, size, background.")
    return " ".join(text.split())


@dataclass
class Samples:
    seeds: list[int]
    prompts: list[str]
    h: np.ndarray  # (N, T, D): the conditional half of h at every step, flattened
    images: np.ndarray  # (N, H, W, 3) uint8
    timesteps: list[int]
    skip_levels: int = 0
    pooled: bool = False  # h was read per channel (edits.hspace.layout.pools); D = C then


@gpu(FIT)
def collect_h(model: DiffusionModel, template: str, seeds: list[int], num_inference_steps: int | None = None,
              guidance_scale: float | None = None, batch_size: int = 16, progress=None,
              skip_levels: int = 0) -> Samples:
    """Sample every seed once, keeping h at every step and the image."""
    from accelerate import PartialState
    from accelerate.utils import gather_object

    state = PartialState()
    pooled = pools(model, skip_levels)  # the one choice, recorded in the directions fitted from these samples
    hs, imgs, ts, mine = [], [], None, []
    with state.split_between_processes(list(seeds)) as part:
        for i in range(0, len(part), batch_size):
            chunk = part[i:i + batch_size]
            out = sample(model, [fill_template(template, s) for s in chunk], chunk,
                         num_inference_steps=num_inference_steps, guidance_scale=guidance_scale, capture=True,
                         skip_levels=skip_levels, pool=pooled)
            hs.append(np.stack([h.flatten(1).numpy() for h in out.h], 1))  # (b, T, D)
            imgs.append(to_uint8(out.images))
            ts, mine = out.timesteps, mine + chunk
            if progress is not None:
                progress(min(len(part), i + batch_size) / len(part))
    if state.num_processes > 1:
        parts = gather_object([(mine, np.concatenate(hs), np.concatenate(imgs), ts)])
        order = sorted(((s, p, j) for p in parts for j, s in enumerate(p[0])), key=lambda r: seeds.index(r[0]))
        h = np.stack([p[1][j] for _, p, j in order])
        im = np.stack([p[2][j] for _, p, j in order])
        ts, mine = parts[0][3], [s for s, _, _ in order]
    else:
        h, im = np.concatenate(hs), np.concatenate(imgs)
    return Samples(mine, [fill_template(template, s) for s in mine], h, im, ts, skip_levels, pooled)


def fit_h(samples: Samples, labels: list[str], attribute: str, model_name: str, labeller: str,
          h_dims: tuple[int, ...], classes: list[str] | None = None, template: str = "",
          method: str = "mean-difference", readout_C: float = 0.1) -> dict[str, Direction]:
    """One direction per class, each with one boundary per timestep (readout_C: the inverse regularisation
    of the per-step readouts, `fit_readout`'s C: 0.1 read colour better than 1.0 from 2048 samples of the
    embedded model, held-out 0.54-0.66 against 0.50-0.65 on steps 6-18, assets/directions/FINDINGS.md §7)."""
    present = sorted(set(labels))
    if len(present) < 2:
        raise DirectionError(f"The labeller returned a single class ({present[0] if present else 'none'}) "
                             "for every sample, so there is nothing to separate.")
    per_step = [fit_one_vs_rest(samples.h[:, t], labels, classes, method=method) for t in range(samples.h.shape[1])]
    fitted = [c for c in per_step[0] if all(c in ps for ps in per_step)]
    # per step, a multinomial readout of the class (what a class swap uses to tell the current class)
    readouts = [fit_readout(samples.h[:, t], labels, fitted, C=readout_C) for t in range(samples.h.shape[1])] \
        if len(fitted) >= 2 else []
    out = {}
    for c in fitted:
        shape = (samples.h.shape[2],) if samples.pooled else h_dims
        if int(np.prod(shape)) != samples.h.shape[2]:
            raise DirectionError(f"The samples hold {samples.h.shape[2]} values of h per step, but h here is {shape}.")
        out[c] = Direction.from_boundaries([ps[c] for ps in per_step], shape, {
            "space": "h", "model": model_name, "attribute": attribute, "class": c,
            "timesteps": samples.timesteps, "samples": len(labels), "labeller": labeller,
            "prompt": template, "class_counts": {k: labels.count(k) for k in present},
            "edits": describe(samples.skip_levels), "skip_levels": samples.skip_levels, "method": method,
            "pooled": samples.pooled,
        })
        if readouts:
            out[c].readout_vectors = torch.from_numpy(np.stack([r[c][0] for r in readouts])).reshape(-1, *shape)
            out[c].readout_biases = torch.tensor([r[c][1] for r in readouts])
    return out


LABELLERS = ("colour", "classifier", "clip", "csv")


def make_labeller(kind: str, attribute: str, classes: list[str] | None = None, labels_csv: str | Path | None = None):
    """The labeller of a fit: `colour` (pixels; colour only), `classifier`, `clip` (zero-shot over
    `classes`) or `csv` (a file of seed,label rows, at most MAX_CSV_BYTES, checked cell by cell)."""
    from .labelers import CSVLabeler

    if kind == "colour":
        if attribute != "colour":
            raise InputError("The pixel labeller reads colour only; choose the classifier for other attributes.")
        return ColourLabeler()
    if kind == "classifier":
        if attribute not in FACTORS:
            raise InputError(f"The classifier reads {', '.join(FACTORS)}; choose one of them as the attribute.")
        return ToyClassifierLabeler(attribute)
    if kind == "csv":
        if not labels_csv:
            raise InputError("The CSV labeller needs a CSV file of seed,label rows.")
        path = Path(labels_csv)
        if not path.is_file():
            raise InputError("The CSV file could not be read.")
        if path.stat().st_size > MAX_CSV_BYTES:
            raise InputError(f"The CSV is larger than {MAX_CSV_BYTES // 2**10} KB.")
        return CSVLabeler(path.read_text(encoding="utf-8", errors="replace"), attribute)
    if kind == "clip":
        from transformers import CLIPModel, CLIPProcessor

        name = "openai/clip-vit-base-patch32"
        from .labelers import CLIPLabeler

        return CLIPLabeler(CLIPModel.from_pretrained(name), CLIPProcessor.from_pretrained(name), classes or [], attribute)
    raise InputError(f"Unknown labeller {str(kind)[:40]!r}: choose colour, classifier, clip or csv.")


def seeds_for(labeller, n: int, first_seed: int = 0, minimum: int = 16) -> list[int]:
    """The seeds a fit samples: the CSV's own (the first n valid ones), else first_seed .. first_seed+n-1."""
    if getattr(labeller, "name", None) == "csv":
        seeds = [s for s in labeller.seeds if 0 <= s < 2**32][:n]
        if len(seeds) < minimum:
            raise InputError(f"The CSV needs at least {minimum} rows with seeds between 0 and {2**32 - 1}.")
        return seeds
    return list(range(first_seed, first_seed + n))


def h_directions_out(model: DiffusionModel, out: str | None) -> Path:
    """Where `python -m edits.fit hspace` writes: --out, else where the app looks for a model's h directions (the
    shipped folder for the embedded model, a local pipeline folder's directions/); a Hub model needs --out."""
    if out:
        return Path(out)
    if model.is_embedded:
        return DIRECTIONS
    if Path(model.name).is_dir():
        return Path(model.name) / "directions"
    raise InputError(f"{model.name} is a Hub model, with no folder of its own: give --out FOLDER, then start the app "
                     "with --h-directions FOLDER.")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m edits.fit", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("space", choices=["hspace", "wspace"])
    p.add_argument("--model", default=None,
                   help="diffusion pipeline folder or Hub id (default: the embedded model, the one behind generate)")
    p.add_argument("--prompt", default=None, help="hspace: prompt template, e.g. 'a {size} {shape} on a {background} background'")
    p.add_argument("--attribute", required=True, help="the attribute (wspace: a comma-separated list)")
    p.add_argument("--labeler", default="classifier", choices=["colour", "classifier", "clip", "csv"],
                   help="hspace: any; wspace: csv (your labels, any generator), else colour is read from pixels and "
                        "the rest by the toy classifier")
    p.add_argument("--gan", default=None, help="wspace: StyleGAN folder (default: the embedded one)")
    p.add_argument("--psi", type=float, default=1.0, help="wspace: truncation of the fitted samples")
    p.add_argument("--classes", default=None, help="comma-separated classes to fit (default: all found)")
    p.add_argument("--labels", default=None, help="CSV of seed,label for --labeler csv (its first --samples seeds)")
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--first-seed", type=int, default=100_000)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--guidance", type=float, default=None)
    p.add_argument("--skip-levels", type=int, default=0,
                   help="also edit the skip tensors entering this many of the deepest up-blocks (0: mid-block only)")
    p.add_argument("--method", default=None, choices=["logistic", "logistic-raw", "mean-difference"],
                   help="how the boundary is fitted (default: mean-difference; see assets/directions/FINDINGS.md)")
    p.add_argument("--layers", default=None,
                   help="wspace: the style layers these directions are recommended for, e.g. '4-9' (default: all)")
    p.add_argument("--out", default=None,
                   help="folder of the direction files (default: hspace assets/directions for the embedded model, "
                        "<pipeline folder>/directions for another local one; wspace the generator's own "
                        "<gan folder>/directions)")
    a = p.parse_args(argv)
    if a.space == "wspace":
        return main_wspace(a)
    try:
        if a.prompt is None:
            raise InputError("hspace needs --prompt (a template that leaves the edited attribute unsaid).")
        if not 8 <= a.samples <= MAX_SAMPLES:
            raise InputError(f"--samples must be between 8 and {MAX_SAMPLES}.")
        classes = [c.strip() for c in a.classes.split(",")] if a.classes else None
        labeller = make_labeller(a.labeler, a.attribute, classes, a.labels)
        model = load_hspace_diffusion(a.model)
        out = h_directions_out(model, a.out)
        seeds = seeds_for(labeller, a.samples, a.first_seed, minimum=8)
        t0 = time.perf_counter()
        with tqdm(total=len(seeds), desc="sampling", unit="sample") as bar:
            samples = collect_h(model, a.prompt, seeds, a.steps, a.guidance, progress=_advance(bar),
                                skip_levels=a.skip_levels)
        labels = labeller(samples.images, seeds=samples.seeds)
        dirs = fit_h(samples, labels, a.attribute, f"embedded:{Path(model.name).name}" if model.is_embedded else model.name,
                     a.labeler, h_shape(model, a.skip_levels), classes, a.prompt, method=a.method or "mean-difference")
        for i, (c, d) in enumerate(dirs.items()):
            path = d.save_in(out, readable_stem(i, f"h{a.skip_levels or ''}", a.attribute, c))
            acc = d.meta["accuracy"]
            print(f"{path}: held-out accuracy mean {np.mean(acc):.3f}, best {max(acc):.3f}")
        print(f"fitted {len(dirs)} directions from {len(seeds)} samples in {time.perf_counter() - t0:.1f} s")
        if a.out:
            print(f"the app loads them with `python app.py --hspace-model {a.model or ''} --h-directions {out}`")
    except (InputError, DirectionError, ModelLoadError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def main_wspace(a: argparse.Namespace) -> None:
    from .wspace import check_layers, directions_folder, fit_labelled, fit_w, load_gan, sample_and_label

    try:
        attributes = [x.strip() for x in a.attribute.split(",") if x.strip()]
        unknown = [x for x in attributes if x not in FACTORS]
        if a.labeler == "csv":  # any generator, any attribute: the labels are the user's
            if len(attributes) != 1:
                raise InputError("--labeler csv labels one attribute: give a single --attribute.")
            csv_labeller = make_labeller("csv", attributes[0], labels_csv=a.labels)
        elif unknown:
            raise InputError(f"Unknown attribute(s) {unknown}: choose among {list(FACTORS)}.")
        labellers = {} if a.labeler == "csv" else {x: ColourLabeler() if x == "colour" else ToyClassifierLabeler(x)
                                                    for x in attributes}
        gan = load_gan(a.gan)
        layers = None
        if a.layers:
            try:
                layers = [int(v) for v in a.layers.split("-")]
                assert len(layers) == 2
            except (ValueError, AssertionError):
                raise InputError(f"--layers must look like '4-9', not {a.layers!r}.") from None
            check_layers(layers, gan.n_latent)
        t0 = time.perf_counter()
        fitted = {}
        if a.labeler == "csv":
            seeds = seeds_for(csv_labeller, a.samples, minimum=16)
            with tqdm(total=len(seeds), desc="sampling", unit="sample") as bar:
                fitted[attributes[0]] = fit_labelled(gan, csv_labeller, seeds, attributes[0], a.psi,
                                                     a.method or "mean-difference", progress=_advance(bar))
        else:
            with tqdm(total=a.samples, desc="sampling", unit="sample") as bar:
                w, labels = sample_and_label(gan, a.samples, labellers, a.psi, a.first_seed, progress=_advance(bar))
            for x in attributes:
                fitted[x] = fit_w(w, labels[x], x, "colour" if x == "colour" else "classifier", gan.name,
                                  truncation_psi=a.psi, method=a.method or "mean-difference")
        for x, dirs in fitted.items():
            for i, (c, d) in enumerate(dirs.items()):
                if layers:
                    d.meta["layers"] = layers
                path = d.save_in(a.out or directions_folder(gan.folder), readable_stem(i, "w", x, c))
                print(f"{path}: held-out accuracy {d.meta['accuracy'][0]:.3f} ({d.meta['class_samples']} samples)")
        print(f"fitted in {time.perf_counter() - t0:.1f} s")
    except (InputError, DirectionError, ModelLoadError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def _advance(bar: tqdm):
    """A `progress(fraction done)` callback that moves a tqdm bar."""
    return lambda frac: bar.update(int(frac * bar.total) - bar.n)


if __name__ == "__main__":
    main()

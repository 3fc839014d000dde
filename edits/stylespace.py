"""StyleSpace (Wu et al., CVPR 2021): the channel-wise style vectors s that the generator's affine layers make of w.

    from edits.stylespace import style_codes, style_layers
    s = style_codes(gan.generator, w)          # (B, S): every modulated conv's and ToRGB's style, concatenated

Every `ModulatedConv2d` (the styled convolutions and the ToRGB layers) scales its input channels by
`s = modulation(w_l)`, w_l being the W+ layer that feeds it. S is the concatenation of those vectors in the
order the synthesis runs them (conv1, to_rgb1, then per resolution: the upsampling conv, the conv, the ToRGB):
for the embedded 64 px generator 1088 channels.

Edits in S, after Wu et al.'s detection of attribute-specific channels from positive examples:

    python -m edits.stylespace --samples 6000        # s_ATTRIBUTE_CLASS.safetensors beside the W directions
    d = load_directions(directions_folder(gan.folder), space="s")["colour: red"]
    pictures = render_shifted(gan, w, style_delta(d, DEFAULT_STYLE_STRENGTH))

- fitting (`fit_styles`): codes sampled and labelled as the W directions are (`python -m edits.fit wspace`: colour
  from pixels, shape, size and background by the toy classifier; never the judge, which scores); for each class,
  every channel's relevance (class mean - mean of all) / std of all; the CHANNELS channels of largest |relevance|
  are kept. Their locally-active-channel criterion (gradient maps inside semantic masks) needs masks the toy world
  could give, but this mean-difference ranking is the one they use for attributes known by examples only.
- the file: a `Direction` (edits/directions.py's format, meta "space": "s") whose vector (1, S) holds each kept
  channel's std times the sign of its relevance, zeros elsewhere; meta names the channels, their layers and scores.
- the edit (`render_shifted`): forward hooks on the modulations add strength x that vector to the styles (the kept
  channels move by `strength` of their own standard deviations towards the class); nothing else is touched.
- the control (`random_channels_like`): as many channels drawn at random, moved by as many of their own standard
  deviations, with random signs.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from nets.stylegan import Generator, ModulatedConv2d


@dataclass(frozen=True)
class StyleLayer:
    """One modulated convolution: its module name, the W+ layer that feeds it, and where its channels sit in S."""

    name: str
    conv: ModulatedConv2d
    w_index: int
    start: int  # first channel in S
    channels: int

    @property
    def stop(self) -> int:
        return self.start + self.channels


def style_layers(generator: Generator) -> list[StyleLayer]:
    """The modulated convolutions in synthesis order, each with its W+ layer index (as `Generator.synthesis`
    reads w_plus: conv1 <- 0, to_rgb1 <- 1, then per resolution i, i + 1, i + 2 with i = 1, 3, 5, ...)."""
    order = [("conv1.conv", generator.conv1.conv, 0), ("to_rgb1.conv", generator.to_rgb1.conv, 1)]
    i = 1
    for k, rgb in enumerate(generator.to_rgbs):
        order += [(f"convs.{2 * k}.conv", generator.convs[2 * k].conv, i),
                  (f"convs.{2 * k + 1}.conv", generator.convs[2 * k + 1].conv, i + 1),
                  (f"to_rgbs.{k}.conv", rgb.conv, i + 2)]
        i += 2
    out, start = [], 0
    for name, conv, wi in order:
        out.append(StyleLayer(name, conv, wi, start, conv.in_ch))
        start += conv.in_ch
    return out


@torch.no_grad()
def style_codes(generator: Generator, w: torch.Tensor) -> torch.Tensor:
    """W (B, w_dim) or W+ (B, L, w_dim) -> S (B, S): each layer's `modulation(w_l)`, concatenated."""
    w_plus = generator.broadcast(w)  # (B, L, w_dim)
    return torch.cat([layer.conv.modulation(w_plus[:, layer.w_index]) for layer in style_layers(generator)], 1)


# ------------------------------------------------------------------ attribute-specific channels and edits
CHANNELS = 32  # style channels kept per class (of 1088 on the embedded generator; see DEFAULT_STYLE_STRENGTH)
DEFAULT_STYLE_STRENGTH = 6.0  # standard deviations of each kept channel
# How CHANNELS and the strength were chosen, with the fitting labellers only (never the judge): on the autoencoder
# (toy-stylegan-label-free, the default W model then), the fraction of 60 seeds (700 000 on, not fitted on) that
# the labeller reads as the target after a swap to every other class: colour, 8 channels 0.09 at strength 3 and
# 0.18 at 6; 32 channels 0.20 and 0.33; shape (classifier), 8 channels 0.12 and 0.18; 32 channels 0.28 and 0.42.
# Counting a colour swap as clean by those labellers too (target read by the colour labeller, shape, size and
# background kept by the classifier): 8 channels 0.026, 0.031, 0.064 at strengths 1.5, 3, 6; 32 channels 0.043,
# 0.057, 0.076; 128 channels 0.076, 0.074, 0.021.
# 32 channels at 6 is at the top of that table (tied with 128 at 1.5 and 3), the setting kept.
METHOD = "mean-difference-over-std"


def channel_scores(s: torch.Tensor, labels: list[str], cls: str) -> torch.Tensor:
    """Per channel (S,): (mean over the class's samples - mean over all samples) / std over all samples, the
    relevance Wu et al. rank channels by when they detect an attribute's channels from positive examples."""
    pos = torch.tensor([lab == cls for lab in labels])
    if not pos.any() or pos.all():
        raise ValueError(f"class {cls!r} needs samples in it and outside it")
    std = s.std(0).clamp_min(1e-8)  # (S,)
    return (s[pos].mean(0) - s.mean(0)) / std


def fit_styles(s: torch.Tensor, labels: list[str], attribute: str, generator: Generator, labeller: str,
               model: str = "toy-stylegan", channels: int = CHANNELS, truncation_psi: float = 1.0,
               classes: list[str] | None = None) -> dict[str, "Direction"]:
    """For every class of one attribute, the `channels` style channels whose class mean differs most from the
    mean of all samples, in units of their std, as a Direction in S (space "s"): vectors (1, S) hold each kept
    channel's std times the sign of its difference (zero elsewhere), so that strength 1 moves every kept channel
    by one std towards the class; meta lists the channels, their layer and score."""
    from .directions import Direction

    s = s.float()
    std = s.std(0)  # (S,)
    layers = style_layers(generator)
    where = [(layer.name, c) for layer in layers for c in range(layer.channels)]
    out = {}
    for cls in classes or sorted(set(labels)):
        score = channel_scores(s, labels, cls)  # (S,)
        top = score.abs().topk(min(channels, len(score))).indices  # (k,)
        vec = torch.zeros_like(std)
        vec[top] = std[top] * score[top].sign()
        out[cls] = Direction(vec[None], torch.ones(1), torch.zeros(1), {
            "space": "s", "model": model, "attribute": attribute, "class": cls, "timesteps": [0],
            "samples": len(labels), "class_samples": int(sum(lab == cls for lab in labels)), "labeller": labeller,
            "truncation_psi": truncation_psi, "method": METHOD, "channels": [int(i) for i in top],
            "channel_layers": [f"{where[i][0]}:{where[i][1]}" for i in top],
            "channel_scores": [round(float(score[i]), 4) for i in top], "style_dims": int(len(std))})
    return out


class shifted_styles:
    """Inside `with shifted_styles(generator, delta):` every modulated conv's style `modulation(w)` is shifted by
    its slice of delta, (S,) for every picture or (B, S) per picture (forward hooks on the modulations)."""

    def __init__(self, generator: Generator, delta: torch.Tensor):
        self.layers, self.delta, self.hooks = style_layers(generator), delta, []

    def __enter__(self):
        for layer in self.layers:
            piece = self.delta[..., layer.start:layer.stop]  # (C,) or (B, C)
            self.hooks.append(layer.conv.modulation.register_forward_hook(lambda m, i, o, p=piece: o + p.to(o)))
        return self

    def __exit__(self, *exc):
        for h in self.hooks:
            h.remove()
        self.hooks = []


def style_dims(generator: Generator) -> int:
    """How many style channels S has (the length of a StyleSpace direction's vector for this generator)."""
    return sum(layer.channels for layer in style_layers(generator))


def style_delta(direction, strength: float) -> torch.Tensor:
    """The move in S (S,) of one style direction at a strength (kept channels' standard deviations)."""
    if direction.meta.get("space") != "s":
        raise ValueError(f"{direction.label} is not a StyleSpace direction (space {direction.meta.get('space')!r})")
    return strength * direction.vectors[0]


@torch.no_grad()
def render_shifted(gan, w: torch.Tensor, delta: torch.Tensor, batch_size: int = 256):
    """Pictures (B, H, W, 3) uint8 of codes w (B, w_dim) with every style shifted by delta, (S,) or (B, S)."""
    import numpy as np

    out = []
    for i in range(0, len(w), batch_size):
        d = delta if delta.ndim == 1 else delta[i:i + batch_size]
        with shifted_styles(gan.generator, d):
            out.append(gan.render(w[i:i + batch_size], batch_size=batch_size))
    return np.concatenate(out)


@torch.no_grad()
def edit_in_s(gan, w: torch.Tensor, direction, strength: float, w_edits=(), components=None,
              layers=None) -> "np.ndarray":
    """The W tab's StyleSpace edit: pictures (B, H, W, 3) of codes w (B, w_dim), moved first by any W edits and
    unsupervised components (edits.wspace.apply_edits), then in S by `strength` x DEFAULT_STYLE_STRENGTH of each
    kept channel's standard deviation (strength 1 is the move `python -m benchmarks stylespace` measures)."""
    from .wspace import apply_edits

    return render_shifted(gan, apply_edits(gan, w, list(w_edits), components, layers),
                          style_delta(direction, strength * DEFAULT_STYLE_STRENGTH))


def random_channels_like(delta: torch.Tensor, std: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    """The control of a style edit delta (S,): n rows (n, S), each moving as many channels as delta moves, drawn at
    random per row, by the same mean number of their own standard deviations (std (S,)), with random signs."""
    moved = delta.nonzero().flatten()
    out = torch.zeros(n, len(delta), dtype=delta.dtype)
    if len(moved) == 0:
        return out
    units = (delta[moved].abs() / std[moved].clamp_min(1e-12)).mean()  # the edit's stds per channel
    for b in range(n):
        pick = torch.randperm(len(delta), generator=gen)[:len(moved)]
        sign = torch.randint(0, 2, (len(moved),), generator=gen).to(delta) * 2 - 1
        out[b, pick] = units * std[pick] * sign
    return out


@torch.no_grad()
def style_std(gan, n: int = 10_000, seed: int = 0) -> torch.Tensor:
    """Each style channel's standard deviation (S,) over n codes drawn at ψ = 1 (the control's unit)."""
    z = torch.randn(n, gan.generator.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    return style_codes(gan.generator, gan.generator.mapping(z)).std(0)


# ------------------------------------------------------------------ fitting from the command line
LABELLER_NAMES = {"colour": "colour"}  # other factors: "classifier" (edits/fit.py's wspace defaults)


def fit_gan(gan, attributes: list[str], samples: int, first_seed: int = 0, channels: int = CHANNELS,
            truncation_psi: float = 1.0, progress=None) -> dict[str, dict]:
    """Sample and label as `python -m edits.fit wspace` does (colour from pixels, the rest by the toy classifier:
    the fitting labellers, never the judge) and fit each attribute's style channels."""
    from .labelers import ColourLabeler, ToyClassifierLabeler
    from .wspace import sample_and_label

    labellers = {a: ColourLabeler() if a == "colour" else ToyClassifierLabeler(a) for a in attributes}
    w, labels = sample_and_label(gan, samples, labellers, truncation_psi, first_seed, progress=progress)
    s = style_codes(gan.generator, w)  # (N, S)
    return {a: fit_styles(s, list(labels[a]), a, gan.generator, LABELLER_NAMES.get(a, "classifier"), gan.name,
                          channels, truncation_psi) for a in attributes}


def main(argv=None) -> None:
    """python -m edits.stylespace [--gan FOLDER] [--attribute colour,shape] [--samples 6000] [--channels 8]
    writes s_ATTRIBUTE_CLASS.safetensors (+ .json) beside the generator's W directions (FOLDER/directions)."""
    import argparse
    import time

    from .directions import readable_stem
    from .gan import directions_folder, load_gan

    p = argparse.ArgumentParser(prog="python -m edits.stylespace", description=main.__doc__)
    p.add_argument("--gan", default=None)
    p.add_argument("--attribute", default="colour,shape,size,background")
    p.add_argument("--samples", type=int, default=6000)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--channels", type=int, default=CHANNELS)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    gan = load_gan(a.gan)
    t0 = time.perf_counter()
    fitted = fit_gan(gan, [x.strip() for x in a.attribute.split(",") if x.strip()], a.samples, a.first_seed,
                     a.channels)
    for attribute, dirs in fitted.items():
        for i, (c, d) in enumerate(dirs.items()):
            path = d.save_in(a.out or directions_folder(gan.folder), readable_stem(i, "s", attribute, c))
            print(f"{path}: channels {d.meta['channel_layers']} scores {d.meta['channel_scores']}")
    print(f"fitted in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()

"""W-space edits on the StyleGAN generator: InterFaceGAN boundaries, W+ layer ranges, GANSpace, SeFa.

    gan = load_gan()                                           # settings.EMBEDDED_GAN
    w = gan.w_from_seed(7)                                     # (1, w_dim), truncation DEFAULT_PSI
    edit = make_edit(gan_directions, "colour", "blue", 1.0)    # a class swap on the recommended layers
    wp = apply_edits(gan, w, [edit])                           # (1, L, w_dim) W+
    original, edited = gan.render(gan.generator.broadcast(w)), gan.render(wp)

Two ways a fitted direction moves w (n_c: the unit normal of class c's one-vs-rest boundary, b_c its
bias, so d_c(w) = n_c.w + b_c is the signed distance; s: the strength):

- a *class swap* (the default, for an attribute whose classes were all fitted by `fit_w`): a readout
  fitted with the directions tells the class w sits in now; a_c = offset_c * n_c is how far class c's
  mean lies from the mean of all codes; then

      w' = w + s * a_target - min(max(s, 0), 1) * a_current

  so s = 0 leaves w alone, s = 1 trades the current class's offset for the target's ("make it blue"
  from red or from cyan alike, without the red left in), above 1 overshoots towards the target, and
  negative s pushes away from it.
- a *boundary edit* (any single direction, e.g. an InterFaceGAN boundary of a real StyleGAN), with
  sigma the samples' spread along n:

      w' = w + (s * sigma - min(|s|, 1) * d(w)) * n

  landing s standard deviations on the target's side of the boundary wherever w started.

A conditional edit removes from the move its components along the other attributes' normals
(InterFaceGAN's projection). A layer range applies the move to those W+ layers only; a direction may
recommend its own ("layers" in its metadata, set by `python -m edits.fit wspace --layers`).

The model itself (loading a generator folder, drawing w from seeds, rendering, the GANSpace and SeFa
components) is in edits/gan.py; `load_gan`, `GANModel` and the rest stay importable from here.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .directions import (Direction, DirectionError, can_swap, fit_one_vs_rest, fit_readout, no_direction,
                         orthonormal_basis, project_out, siblings_of, signed_shift, swap_shift)
from .gan import DEFAULT_PSI, Components, GANModel, directions_folder, ganspace, load_gan, sefa
from .pipeline import InputError, check_name, check_number, check_seed
from .zerogpu import FIT, W_EDIT, gpu
from toyworld.settings import EMBEDDED_GAN, LABEL_FREE_GAN, LABELLED_GAN

MAX_STRENGTH = 10.0
DEFAULT_STRENGTH = 1.0  # what `python -m benchmarks wspace` measures: a full class swap
MAX_COMPONENT = 10.0  # unsupervised sliders, in standard deviations
MAX_SAMPLES = 20_000


# ------------------------------------------------------------------ inversion: image -> w
INVERT_STEPS = 0  # optimisation steps after the encoder by default (see assets/toy-stylegan-label-free/README.md)
NO_ENCODER_STEPS = 150  # a generator without an encoder starts from w_avg and needs many more
MAX_INVERT_STEPS = 500


def pixel_loss(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """L1 + L2 per pixel plus L1 on the pixel differences (the outlines), per image summed over the batch."""
    d = y - x
    edges = sum((torch.diff(d, dim=k)).abs().mean((1, 2, 3)) for k in (2, 3))
    return (d.abs().mean((1, 2, 3)) + d.pow(2).mean((1, 2, 3)) + edges).sum()


def invert(gan: GANModel, images: np.ndarray, steps: int | None = None, lr: float = 0.02) -> torch.Tensor:
    """uint8 images (B, H, W, 3) -> w (B, w_dim): the encoder's code (or w_avg for a generator without an
    encoder), then `steps` Adam steps on w that redraw the image more closely (pixel L1 + L2 + outlines)."""
    if gan.decoder is not None:
        raise InputError("Bringing a picture into W needs a generator that draws pixels; this one draws VAE latents.")
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise InputError("A picture to invert must be an RGB uint8 array (H, W, 3).")
    steps = (INVERT_STEPS if gan.encoder is not None else NO_ENCODER_STEPS) if steps is None else steps
    steps = check_number(steps, "The number of inversion steps", 0, MAX_INVERT_STEPS, integer=True)
    r = gan.generator.cfg.resolution
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (B, 3, H, W)
    if x.shape[-1] != r or x.shape[-2] != r:
        x = torch.nn.functional.interpolate(x, size=(r, r), mode="area")
    with torch.no_grad():
        w = gan.encoder(x) if gan.encoder is not None else gan.w_avg.expand(len(x), -1).clone()
    if not steps:
        return w
    w = w.clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr)
    for _ in range(steps):
        y = gan.generator.synthesis(gan.generator.broadcast(w))
        loss = pixel_loss(y, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return w.detach()


def edit_image(gan: GANModel, image: np.ndarray, edits: list["WEdit"], components=None, layers=None,
               steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(the generator's redrawing of the picture, the edited redrawing): the W tab's uploaded picture."""
    if gan.encoder is None:
        raise InputError(f"The generator {gan.name} has no encoder, so it cannot bring a picture into W; "
                         "the embedded models learnt from pictures alone (assets/toy-stylegan-gan, "
                         "assets/toy-stylegan-label-free) can.")
    w = invert(gan, image, steps)
    imgs = gan.render(torch.cat([gan.generator.broadcast(w), apply_edits(gan, w, edits, components, layers)]))
    return imgs[0], imgs[1]


# ------------------------------------------------------------------ supervised edits
@dataclass
class WEdit:
    """One supervised edit. With `siblings` (the attribute's other classes, fitted by mean difference) it is
    a class swap: strength 1 replaces the class the code sits in by the target (see _swap_move). Without,
    it is a boundary edit: land `strength` standard deviations on the direction's side of its boundary."""

    direction: Direction
    strength: float
    layers: tuple[int, int] | None = None  # inclusive W+ layer range; None = all layers
    conditional_on: list[Direction] = field(default_factory=list)
    siblings: list[Direction] = field(default_factory=list)  # the attribute's other classes: a class swap

    @property
    def is_swap(self) -> bool:
        return can_swap([self.direction, *self.siblings])

    def check(self, gan: GANModel) -> "WEdit":
        if self.direction.meta.get("space") != "w":
            raise DirectionError(f"'{self.direction.label}' is not a W-space direction.")
        self.direction.check_compatible((gan.w_dim,))
        self.strength = check_number(self.strength, "The strength", -MAX_STRENGTH, MAX_STRENGTH)
        check_layers(self.layers, gan.n_latent)
        return self


def check_layers(layers, n_latent: int) -> tuple[int, int] | None:
    if layers is None:
        return None
    lo, hi = (check_number(v, "A style layer", 0, n_latent - 1, integer=True) for v in layers)
    if lo > hi:
        raise InputError(f"The first style layer ({lo}) must not come after the last one ({hi}).")
    return lo, hi


def _conditional(n: torch.Tensor, e: WEdit) -> torch.Tensor:
    """n with the conditioning directions projected out (InterFaceGAN), or n itself."""
    if not e.conditional_on:
        return n
    return torch.from_numpy(project_out(n.numpy(), [o.vectors[0].numpy() for o in e.conditional_on])).to(n)


def _swap_move(w: torch.Tensor, e: WEdit) -> torch.Tensor:
    """A class swap (`edits.directions.swap_shift`) from the class w is in now to the target."""
    classes = [e.direction, *e.siblings]
    stack = lambda ts: torch.stack([t[0] for t in ts]).to(w)  # noqa: E731  (the one W "timestep")
    offsets = torch.tensor([float(d.meta["class_offset"][0]) for d in classes]).to(w)
    delta = swap_shift(w, stack([d.vectors for d in classes]), offsets, stack([d.readout_vectors for d in classes]),
                       stack([d.readout_biases for d in classes]), torch.full((len(w),), float(e.strength)).to(w))
    if e.conditional_on:  # keep the other attributes' boundaries fixed: no move along their normals
        q = torch.from_numpy(np.stack(orthonormal_basis([o.vectors[0].numpy() for o in e.conditional_on]))).to(w)
        delta = delta - (delta @ q.T) @ q
    return delta  # (B, w_dim)


def _move(w: torch.Tensor, e: WEdit) -> torch.Tensor:
    """The displacement in W (B, w_dim): a class swap when the edit knows the attribute's other classes
    (and their offsets), otherwise a landing at the edit's signed distance from the boundary."""
    if e.is_swap:
        return _swap_move(w, e)
    n = e.direction.vectors[0].to(w)  # (w_dim,)
    sigma, bias = float(e.direction.scales[0]), float(e.direction.biases[0])
    target_shift = signed_shift(w, n, bias, sigma, torch.full((len(w),), float(e.strength)).to(w))  # (B,)
    m = _conditional(n, e)
    along = float(m @ n)
    if abs(along) < 1e-3:
        raise DirectionError(f"'{e.direction.label}' cannot be moved independently of the attributes it is "
                             "conditioned on; switch 'conditional' off.")
    return (target_shift / along)[:, None] * m  # (B, w_dim)


def apply_edits(gan: GANModel, w: torch.Tensor, edits: list[WEdit] = (),
                components: dict[tuple[str, int], float] | None = None,
                layers: tuple[int, int] | None = None) -> torch.Tensor:
    """W (B, w_dim) -> edited W+ (B, L, w_dim). Boundary edits are applied in turn (each measured from
    the code the previous ones left); unsupervised components add `value` standard deviations."""
    layers = check_layers(layers, gan.n_latent)
    wp = gan.generator.broadcast(w).clone()  # (B, L, w_dim)
    cur = w.clone()
    L = gan.n_latent
    for e in edits:
        e.check(gan)
        delta = _move(cur, e)  # (B, w_dim)
        lo, hi = e.layers or layers or (0, L - 1)
        wp[:, lo:hi + 1] += delta[:, None, :]
        cur = cur + delta
    for (method, i), value in (components or {}).items():
        comp = {"pca": gan.pca, "sefa": gan.sefa}.get(method)
        if comp is None or not 0 <= i < len(comp.vectors):
            raise InputError(f"There is no unsupervised component {method} #{i}.")
        value = check_number(value, "A component slider", -MAX_COMPONENT, MAX_COMPONENT)
        lo, hi = layers or (0, L - 1)
        wp[:, lo:hi + 1] += value * comp.stds[i] * comp.vectors[i].to(w)
    return wp


@gpu(W_EDIT)
def edit_pair(gan: GANModel, seed: int, edits: list[WEdit], truncation_psi: float = DEFAULT_PSI,
              components=None, layers=None) -> tuple[np.ndarray, np.ndarray]:
    """(original, edited) uint8 images of one seed."""
    seed = check_seed(seed)
    psi = check_number(truncation_psi, "Truncation ψ", 0.0, 1.5)
    w = gan.w_from_seed(seed, psi)
    imgs = gan.render(torch.cat([gan.generator.broadcast(w), apply_edits(gan, w, edits, components, layers)]))
    return imgs[0], imgs[1]


@gpu(W_EDIT)
def traversal(gan: GANModel, seed: int, edit: WEdit, truncation_psi: float = DEFAULT_PSI, frames: int = 7,
              layers=None) -> tuple[list[float], list[np.ndarray]]:
    """(strengths, frames) from strength -s to +s (the edit's own strength, at least 1); the rest of the
    edit (its layers, what it is conditioned on) is kept."""
    seed = check_seed(seed)
    psi = check_number(truncation_psi, "Truncation ψ", 0.0, 1.5)
    frames = check_number(frames, "The number of frames", 2, 32, integer=True)
    w = gan.w_from_seed(seed, psi)
    top = max(1.0, abs(edit.strength))
    strengths = [float(s) for s in np.linspace(-top, top, frames)]
    wps = [apply_edits(gan, w, [replace(edit, strength=s)], layers=layers) for s in strengths]
    return strengths, list(gan.render(torch.cat(wps)))


# ------------------------------------------------------------------ fitting
@gpu(FIT)
@torch.no_grad()
def sample_and_label(gan: GANModel, n: int, labelers: dict[str, object], truncation_psi: float = 1.0,
                     first_seed: int = 0, progress=None,
                     seeds: list[int] | None = None) -> tuple[torch.Tensor, dict[str, list[str]]]:
    """w of seeds first_seed..first_seed+n-1 (or of `seeds`) and each labeller's labels of their images."""
    n = check_number(n if seeds is None else len(seeds), "The number of samples", 16, MAX_SAMPLES, integer=True)
    seeds = list(range(first_seed, first_seed + n)) if seeds is None else [check_seed(s) for s in seeds]
    w = gan.w_from_seeds(seeds, truncation_psi)
    labels: dict[str, list[str]] = {k: [] for k in labelers}
    step = 500
    for i in range(0, n, step):
        imgs = gan.render(w[i:i + step])
        for k, lab in labelers.items():
            labels[k] += list(lab(imgs, seeds[i:i + step]))
        if progress is not None:
            progress(min(n, i + step) / n)
    return w, labels


def fit_w(w: torch.Tensor, labels: list[str], attribute: str, labeller: str, model: str = "toy-stylegan",
          classes: list[str] | None = None, truncation_psi: float = 1.0,
          method: str = "mean-difference") -> dict[str, Direction]:
    """One-vs-rest boundaries in W for every class of one attribute. The default joins the class means:
    on the embedded GAN it turned 0.49-0.55 of 40 seeds to four target colours at strengths 1-2, where
    standardised logistic normals reached 0.04-0.07 (they lean on low-variance dimensions of W that the
    generator barely reads); logistic regression on the raw codes, as InterFaceGAN fits its SVM, needed
    strength 8 for 0.57. Each class also gets its row of a multinomial readout of the attribute
    (`fit_readout`): a class swap uses it to tell which class a code is in before it moves it."""
    bounds = fit_one_vs_rest(w.numpy(), labels, classes, method=method)
    readout = fit_readout(w.numpy(), labels, list(bounds)) if len(bounds) >= 2 else {}
    counts = {c: int(np.sum(np.asarray(labels) == c)) for c in bounds}
    out = {}
    for c, b in bounds.items():
        d = Direction.from_boundaries([b], (w.shape[1],), {
            "space": "w", "model": model, "attribute": attribute, "class": c, "timesteps": [0],
            "samples": len(labels), "class_samples": counts[c], "labeller": labeller,
            "truncation_psi": truncation_psi, "method": method})
        if c in readout:
            d.readout_vectors = torch.from_numpy(readout[c][0])[None]
            d.readout_biases = torch.tensor([readout[c][1]])
        out[c] = d
    return out


def fit_labelled(gan: GANModel, labeller, seeds: list[int], attribute: str, truncation_psi: float = 1.0,
                 method: str = "mean-difference", progress=None) -> dict[str, Direction]:
    """One's own W directions: the codes of `seeds`, their pictures labelled by `labeller` (edits.labelers: a CSV
    of seed,label rows, the toy classifier, colour from pixels), one boundary per class with a readout (`fit_w`).
    The W tab's "Fit your own direction" and `python -m edits.fit wspace --labeler csv` call this (the drawing,
    `sample_and_label`, is what runs on a GPU)."""
    w, labels = sample_and_label(gan, len(seeds), {attribute: labeller}, truncation_psi, progress=progress,
                                 seeds=seeds)
    return fit_w(w, list(labels[attribute]), attribute, labeller.name, gan.name, truncation_psi=truncation_psi,
                 method=method)


def directions_for(directions: dict[str, Direction], attribute: str) -> dict[str, Direction]:
    return {d.meta["class"]: d for d in directions.values() if d.meta.get("attribute") == attribute}


def conditioning_set(directions: dict[str, Direction], attribute: str) -> list[Direction]:
    """The directions of every *other* attribute (what a conditional edit keeps fixed)."""
    return [d for d in directions.values() if d.meta.get("attribute") != attribute]


def recommended_layers(directions: dict[str, Direction], attribute: str, n_latent: int) -> tuple[int, int]:
    """The style layers an attribute's directions were fitted for ("layers" in their metadata), else all."""
    for d in directions_for(directions, attribute).values():
        if d.meta.get("layers"):
            return tuple(d.meta["layers"])
    return 0, n_latent - 1


def make_edit(directions: dict[str, Direction], attribute: str, target: str, strength: float,
              conditional: bool = False, layers: tuple[int, int] | None = None, swap: bool = True) -> WEdit:
    """The edit the tab, the benchmark, Compare and the walks make for "attribute: target"; with
    `conditional`, the other attributes' boundaries are held fixed. A class swap when the attribute's
    other classes were fitted too (and `swap`); `layers` None takes the direction's own recommended style
    layers ("layers" in its metadata) if it has them, else all."""
    attribute, target = check_name(attribute, "attribute"), check_name(target, "target")
    classes = directions_for(directions, attribute)
    found = classes.get(target)
    if found is None:
        raise InputError(no_direction("w", f"{attribute}: {target}", directions))
    if layers is None and found.meta.get("layers"):
        layers = tuple(found.meta["layers"])
    siblings = siblings_of(directions, found) if swap else []
    return WEdit(found, strength, layers, conditioning_set(directions, attribute) if conditional else [], siblings)


__all__ = ["invert", "edit_image", "directions_folder", "LABEL_FREE_GAN", "LABELLED_GAN", "DEFAULT_PSI", "DEFAULT_STRENGTH", "GANModel", "WEdit", "Components", "load_gan", "apply_edits", "edit_pair", "traversal", "ganspace",
           "sefa", "sample_and_label", "fit_w", "fit_labelled", "directions_for", "recommended_layers", "conditioning_set", "make_edit", "EMBEDDED_GAN"]

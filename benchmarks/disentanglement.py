"""DCI and MIG of the StyleGAN's code spaces against the toy world's factors, as the judge reads them.

Codes are drawn from seeds (z by the generator's own seed convention, w = mapping(z), no truncation: ψ = 1),
rendered, and read by the independent judge (edits/judge.py); only the pictures the judge reads as valid scenes
count (the label-free generator draws one about every 30 codes), and their four read factors (colour, shape, size,
background) are the factors. Sampling stops at TARGET_VALID valid scenes or MAX_SAMPLED codes, whichever comes
first. For each space, edits/disentanglement.py's scores:

- z (z_dim), w (w_dim);
- w_plus: the per-layer w of W+ concatenated (n_latent * w_dim). Sampled codes go through one mapping, so W+ is w
  repeated on every layer (`w_plus_is_w_repeated`): its disentanglement is w's, its completeness lower (every
  factor is carried by n_latent copies of the same dimensions); it is there to be read against a generator whose
  W+ codes differ per layer (an inverted or style-mixed one);
- s: StyleSpace (Wu et al., CVPR 2021), every modulated conv's and ToRGB's style `modulation(w)` concatenated
  (edits/stylespace.py; 1088 channels on the embedded generator);
- controls: w_rotated (w in a random orthonormal basis) and w_random_expansion (w times a random Gaussian matrix
  to as many dimensions as s). s is an affine function of w, so it can only win by its axes: S beats W as a code
  only where it also beats the random expansion of the same size.

Keys per space: dci_disentanglement, dci_completeness, dci_informativeness (mean held-out accuracy of the
factor classifiers), mig; with dims, accuracy and completeness per factor, mig_per_factor, and `importance` (how
the DCI importance matrix was read: an L1 logistic model on each dimension and its square, see
edits/disentanglement.py). Top level: model, n_valid, n_sampled, classes (the valid scenes' counts per factor
class: an unbalanced factor is scored on what the generator draws), sample_s and metrics_s (seconds).
"""
from __future__ import annotations

import time
from collections import Counter

import numpy as np
import torch

from edits.disentanglement import scores
from edits.gan import load_gan
from edits.stylespace import style_codes

FACTOR_NAMES = ("colour", "shape", "size", "background")
# Published beside ours (not measured here): DCI disentanglement of StyleGAN2 on FFHQ faces in W and in S
# (Wu, Lischinski and Shechtman, "StyleSpace analysis", CVPR 2021, Table 1).
STYLESPACE_PUBLISHED = {"w": 0.54, "s": 0.75}
TARGET_VALID, MAX_SAMPLED = 1000, 20_000  # full run: about 50 ms per code (render + judge, one busy thread)
QUICK_VALID, QUICK_SAMPLED = 60, 600
FIRST_SEED = 3_000_000  # not the seeds the directions were fitted or the edits scored on
BATCH = 500


@torch.no_grad()
def sample_valid(gan, target: int, max_sampled: int, first_seed: int = FIRST_SEED, batch: int = BATCH,
                 reader=None) -> tuple[torch.Tensor, torch.Tensor, dict[str, list[str]], int]:
    """(z (N, z_dim), w (N, w_dim), factors {name: N labels}, codes looked at) of the first valid scenes, in
    batches of `batch` seeds from first_seed, until `target` are found or max_sampled seeds are looked at.
    `reader` (default: the judge's `read`) maps pictures to readings with `.valid` and `.labels()`."""
    if reader is None:
        from edits.judge import read as reader
    zs, ws, factors, seen = [], [], {k: [] for k in FACTOR_NAMES}, 0
    while sum(len(z) for z in zs) < target and seen < max_sampled:
        seeds = list(range(first_seed + seen, first_seed + seen + min(batch, max_sampled - seen)))
        z = gan.z_from_seeds(seeds)  # (b, z_dim)
        w = gan.generator.mapping(z)  # (b, w_dim), ψ = 1
        readings = reader(gan.render(w))
        keep = [i for i, r in enumerate(readings) if r.valid]
        zs.append(z[keep])
        ws.append(w[keep])
        for i in keep:
            for k, v in readings[i].labels().items():
                factors[k].append(v)
        seen += len(seeds)
    return torch.cat(zs), torch.cat(ws), factors, seen


HEAD = ("dci_disentanglement", "dci_completeness", "dci_informativeness", "mig")


@torch.no_grad()
def spaces(gan, z: torch.Tensor, w: torch.Tensor) -> dict[str, np.ndarray]:
    """The code spaces of the same samples: z, w, w_plus (flattened), s, and the two controls (`CONTROLS`)."""
    g = gan.generator
    s = style_codes(g, w)  # (N, S)
    gen = torch.Generator().manual_seed(0)
    rotation, _ = torch.linalg.qr(torch.randn(w.shape[1], w.shape[1], generator=gen))  # (w_dim, w_dim) orthogonal
    expansion = torch.randn(w.shape[1], s.shape[1], generator=gen)  # (w_dim, S)
    return {"z": z.numpy(), "w": w.numpy(), "w_plus": g.broadcast(w).reshape(len(w), -1).numpy(), "s": s.numpy(),
            "w_rotated": ((w - w.mean(0)) @ rotation).numpy(), "w_random_expansion": ((w - w.mean(0)) @ expansion).numpy()}


# Every style is an affine function of w (s_l = A_l w_l + b_l), so S holds no information W lacks: what S can win is
# axes. Two controls read that: w_rotated (w in a random orthonormal basis: are W's own axes special?) and
# w_random_expansion (w through a random Gaussian matrix to as many dimensions as S: does an overcomplete linear
# code score higher by itself, its importances spread over more, redundant, dimensions?).
CONTROLS = ("w_rotated", "w_random_expansion")


def measure(gan, z: torch.Tensor, w: torch.Tensor, factors: dict, min_valid: int = 10) -> dict:
    """Each space's DCI and MIG (None for every space when fewer than min_valid samples)."""
    out = {}
    for name, codes in spaces(gan, z, w).items():
        if len(codes) < min_valid:
            out[name] = None
            continue
        r = scores(codes, factors)
        out[name] = {**{k: r[k] for k in HEAD}, "dims": r["dims"], "accuracy": r["accuracy"],
                     "completeness": r["completeness"], "mig_per_factor": r["mig_per_factor"],
                     "importance": r["importance"], **({"skipped": r["skipped"]} if r["skipped"] else {})}
    return out


def run(quick: bool = False, model_path: str | None = None, reader=None) -> dict:
    torch.set_num_threads(1)
    gan = load_gan(model_path)
    t = time.perf_counter()
    z, w, factors, seen = sample_valid(gan, QUICK_VALID if quick else TARGET_VALID,
                                       QUICK_SAMPLED if quick else MAX_SAMPLED, reader=reader)
    sample_s = time.perf_counter() - t
    t = time.perf_counter()
    res = measure(gan, z, w, factors)
    res.update(model=gan.name, n_valid=len(z), n_sampled=seen, truncation_psi=1.0,
               w_plus_is_w_repeated=True, w_plus_layers=gan.n_latent, first_seed=FIRST_SEED,
               classes={k: dict(sorted(Counter(v).items())) for k, v in factors.items()},
               sample_s=round(sample_s, 1), metrics_s=round(time.perf_counter() - t, 1))
    return res

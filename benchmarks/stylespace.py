"""StyleSpace edits on the StyleGAN (Wu et al., CVPR 2021), scored by the judge exactly as the W edits are.

The style channels of each class (edits/stylespace.py: fitted from the same samples and labellers as the W
directions, never the judge) move by DEFAULT_STYLE_STRENGTH of their own standard deviations; the codes are the
same valid scenes benchmarks/wspace.py's judged run starts from (`valid_seeds`: the first 120 seeds from 900 000 on
whose pictures the judge reads as valid scenes; 24 with --quick), so the W swaps scored here beside them
(`judged_swaps` at the W tab's default strength) are the W benchmark's own.

- stylespace_clean_edit_rate (and `s_colour`): colour swaps of each code to every colour other than the one the
  judge reads on its picture; clean = the target reached AND shape, size and background kept (edits/scores.py),
  with stylespace_clean_edit_ci (95 % Wilson);
- stylespace_control_clean_edit_rate: the control, as many style channels drawn at random per picture, each moved
  by as many of its own standard deviations as the edit moves its channels, with random signs
  (`random_channels_like`); stylespace_do_nothing_clean_edit_rate (0);
- stylespace_shape_* (and `s_shape`): the same for shape swaps;
- w_clean_edit_rate, w_shape_clean_edit_rate (and `w_colour`, `w_shape`): the W swaps of the same codes;
- channels (kept per class), style_strength, w_strength, style_dims, judged_seeds, judged_seeds_drawn.

A separate benchmark rather than keys of `wspace` or `disentanglement`: either would need its whole (long) run again
to record them, and wspace.json is quoted by the README.
"""
from __future__ import annotations

import torch

from edits.gan import directions_folder, load_gan

EDITED = 120  # valid codes the edits start from (as many as benchmarks/wspace.py scores)
HEADLINE = ("clean_edit_rate", "clean_edit_ci", "control_clean_edit_rate", "do_nothing_clean_edit_rate")


def judged_style_swaps(gan, sdirs: dict, w: torch.Tensor, attribute: str, strength: float, std: torch.Tensor,
                       start=None, reader=None) -> dict:
    """StyleSpace class swaps of `attribute` from the codes w (B, w_dim) to every class other than the one the
    judge reads on each code's own picture, scored as benchmarks/wspace.py's `judged_swaps` scores the W swaps:
    edits/scores.py with the random-channel control (as many channels, as many of their stds) and do-nothing."""
    from benchmarks.wspace import swap_scores
    from edits.stylespace import random_channels_like, render_shifted, style_delta

    if reader is None:
        from edits.judge import read as reader
    start = gan.render(w) if start is None else start
    before_all = reader(start)
    own = [r.labels()[attribute] for r in before_all]
    gen = torch.Generator().manual_seed(1)
    before, after, ctl, tgts, valid = [], [], [], [], []
    for target in sorted({d.meta["class"] for d in sdirs.values() if d.meta.get("attribute") == attribute}):
        idx = [i for i, c in enumerate(own) if c != target]
        if not idx:
            continue
        delta = style_delta(sdirs[f"{attribute}: {target}"], strength)  # (S,)
        edited = reader(render_shifted(gan, w[idx], delta))
        after += edited
        ctl += reader(render_shifted(gan, w[idx], random_channels_like(delta, std, len(idx), gen)))
        before += [before_all[i] for i in idx]
        tgts += [target] * len(idx)
        valid += [r.valid for r in edited]
    return swap_scores(before, after, ctl, attribute, tgts, valid)


def run(quick: bool = False, model_path: str | None = None) -> dict:
    from benchmarks.wspace import judged_swaps, valid_seeds
    from edits.controls import w_spread
    from edits.directions import load_directions
    from edits.stylespace import DEFAULT_STYLE_STRENGTH, style_std
    from edits.wspace import DEFAULT_PSI, DEFAULT_STRENGTH

    torch.set_num_threads(1)
    gan = load_gan(model_path)
    folder = directions_folder(gan.folder)
    sdirs = load_directions(folder, space="s") if folder.is_dir() else {}
    if not sdirs:
        raise SystemExit(f"No StyleSpace directions in {folder}: fit them with `python -m edits.stylespace` first.")
    wdirs = load_directions(folder, space="w")
    n = 24 if quick else EDITED
    seeds, drawn = valid_seeds(gan, n, DEFAULT_PSI, 900_000)  # the W benchmark's judged codes
    res = {"model": gan.name, "judged_seeds": len(seeds), "judged_seeds_drawn": drawn,
           "style_strength": DEFAULT_STYLE_STRENGTH, "w_strength": DEFAULT_STRENGTH, "truncation_psi": DEFAULT_PSI,
           "channels": sorted({len(d.meta["channels"]) for d in sdirs.values()}),
           "style_dims": int(next(iter(sdirs.values())).vectors.shape[1])}
    if not seeds:
        return res
    w = gan.w_from_seeds(seeds, DEFAULT_PSI)
    imgs, std, spread = gan.render(w), style_std(gan), w_spread(gan)
    for attribute, prefix in (("colour", ""), ("shape", "shape_")):
        if any(d.meta.get("attribute") == attribute for d in sdirs.values()):
            res[f"s_{attribute}"] = judged_style_swaps(gan, sdirs, w, attribute, DEFAULT_STYLE_STRENGTH, std, imgs)
            res.update({f"stylespace_{prefix}{k}": res[f"s_{attribute}"][k] for k in HEADLINE})
        if any(d.meta.get("attribute") == attribute for d in wdirs.values()):
            res[f"w_{attribute}"] = judged_swaps(gan, wdirs, w, attribute, DEFAULT_STRENGTH, spread, imgs)
            res[f"w_{prefix}clean_edit_rate"] = res[f"w_{attribute}"]["clean_edit_rate"]
            res[f"w_{prefix}control_clean_edit_rate"] = res[f"w_{attribute}"]["control_clean_edit_rate"]
    return res

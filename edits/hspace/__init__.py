"""h-space: capture and edit the UNet bottleneck (the mid-block output) while sampling.

    from edits.hspace import HEdit, sample
    out = sample(model, ["a large circle on a white background"] * 2, seeds=[7, 7],
                 edit=HEdit(direction, strengths=[0.0, 1.0], move="guided", siblings=others))
    out.images  # (2, H, W, 3) float in [0, 1]

Every edit goes through forward hooks on `unet.mid_block` (any SD-family UNet), never a re-implemented
UNet forward; with no edit (or strength 0) the loop gives exactly the pipeline's pixels.

- edit.py: `HEdit` (what to move, how far, on which steps, by which move) and the default edit;
- moves.py: the moves that write to h (add, land, swap), one small strategy each;
- guided.py: the guided move, which writes nothing to h and moves x_t along the readouts' gradient;
- hooks.py: the hooks (capture h, apply a move, double the batch for the asymmetric step);
- sampler.py: the sampling loop; pairs.py: original/edited pairs, traversals, starting noise;
- layout.py: what h is on a given UNet.
"""
from .edit import APPLY, DEFAULT_EDIT, MAX_STRENGTH, MODES, MOVES, Guide, HEdit, can_read, default_edit
from .layout import POOL_ABOVE, describe, features, h_layout, h_shape, pools
from .pairs import edit_pair, starting_noise, traversal
from .sampler import SampleResult, _as_eps, _ddim_prev, _guide, sample

__all__ = ["APPLY", "DEFAULT_EDIT", "POOL_ABOVE", "features", "pools", "MAX_STRENGTH", "MODES", "MOVES", "Guide", "HEdit", "SampleResult", "can_read",
           "default_edit", "describe", "edit_pair", "h_layout", "h_shape", "sample", "starting_noise", "traversal",
           "_as_eps", "_ddim_prev", "_guide"]

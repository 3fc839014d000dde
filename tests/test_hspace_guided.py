"""The guided h-space move (readout guidance) on the tiny random pipeline."""
import dataclasses

import numpy as np
import pytest
import torch

from edits.directions import DirectionError
from edits.hspace import HEdit, h_shape, sample
from edits.pipeline import InputError
from edits.metrics import same_picture

PROMPT = "a circle"


@pytest.fixture(scope="module")
def fitted(tiny_model):
    """Directions with readouts, fitted on the tiny model's h with three classes cut along h's first
    principal component at the last step (something h really encodes)."""
    from edits.fit import collect_h, fit_h

    s = collect_h(tiny_model, PROMPT, list(range(30)), num_inference_steps=3)
    last = s.h[:, -1] - s.h[:, -1].mean(0)
    proj = last @ np.linalg.svd(last, full_matrices=False)[2][0]
    q = np.quantile(proj, [1 / 3, 2 / 3])
    labels = ["a" if v < q[0] else "b" if v < q[1] else "c" for v in proj]
    return fit_h(s, labels, "test", "tiny", "csv", h_shape(tiny_model))


def _edit(dirs, strength, target="c", **kw):
    d = dirs[target]
    return HEdit(d, strength, kw.pop("start", 0.0), kw.pop("end", 1.0), move="guided",
                 siblings=[v for k, v in sorted(dirs.items()) if k != target], **kw)


def test_guided_at_strength_zero_is_the_pipeline(tiny_model, fitted):
    ref = tiny_model.generate(PROMPT, seed=4, num_inference_steps=3, guidance_scale=5.0, output_type="np")
    zero = sample(tiny_model, PROMPT, 4, num_inference_steps=3, guidance_scale=5.0, edit=_edit(fitted, 0.0)).images[0]
    assert same_picture(ref, zero)
    moved = sample(tiny_model, PROMPT, 4, num_inference_steps=3, guidance_scale=5.0, edit=_edit(fitted, 2.0)).images[0]
    assert np.abs(moved - ref).mean() > 1e-4


@pytest.mark.parametrize("target", ["a", "c"])
def test_guided_raises_the_readouts_log_probability_of_the_target(tiny_model, fitted, target):
    from edits.hspace.guided import Readout

    seeds = [5, 6, 7, 8]
    readout = Readout.of([fitted[target], *[v for k, v in sorted(fitted.items()) if k != target]])

    def logp(strength):
        out = sample(tiny_model, PROMPT, seeds, num_inference_steps=3, capture=True,
                     edit=_edit(fitted, strength, target, keep=[]))
        t = out.timesteps[-1]
        return readout.log_probs(out.h[-1], t)[:, 0]  # (B,) at the last step, after two guided steps

    plain, guided = logp(0.0), logp(3.0)
    assert (guided > plain).all(), (plain, guided)


def test_guided_without_readouts_is_a_clear_error(tiny_model, fitted):
    bare = {k: dataclasses.replace(d, readout_vectors=None, readout_biases=None) for k, d in fitted.items()}
    with pytest.raises(DirectionError, match="no readout"):
        sample(tiny_model, PROMPT, 1, num_inference_steps=2, edit=_edit(bare, 1.0))
    with pytest.raises(DirectionError, match="no readout"):  # no other class to compare with
        sample(tiny_model, PROMPT, 1, num_inference_steps=2, edit=HEdit(fitted["a"], 1.0, move="guided"))


@pytest.mark.parametrize("kwargs, message", [(dict(strength=float("nan")), "finite"), (dict(strength=1e9), "between"),
                                             (dict(start=0.5, end=0.5), "empty"), (dict(start=0.9, end=0.2), "empty")])
def test_guided_bad_input_is_refused(tiny_model, fitted, kwargs, message):
    strength = kwargs.pop("strength", 1.0)
    with pytest.raises(InputError, match=message):
        sample(tiny_model, PROMPT, 1, num_inference_steps=2, edit=_edit(fitted, strength, **kwargs))


def test_guided_keeps_other_readouts_from_the_first_edited_step(tiny_model, fitted):
    # the preserve terms read the other attribute's class once, at the first edited step, and hold it
    from edits.hspace.guided import GuidedMove

    other = {k: dataclasses.replace(d, meta={**d.meta, "attribute": "other"}) for k, d in fitted.items()}
    edit = _edit(fitted, 1.0, keep=list(other.values()))
    move = GuidedMove(edit.check(), 2)
    assert len(move.keep) == 1 and move.keep[0].classes == ["a", "b", "c"]
    h = torch.randn(2, int(np.prod(h_shape(tiny_model))))
    t = fitted["c"].timesteps[0]
    first = move.objective(h, t)
    kept = [k.clone() for k in move.kept]
    move.objective(torch.randn_like(h), t)
    assert all(torch.equal(a, b) for a, b in zip(kept, move.kept)) and first.shape == (2,)


@pytest.mark.parametrize("name, pooled", [("tiny_model", False), ("tiny_model_64", True)])
def test_fit_and_guided_edit_agree_on_how_h_is_read(request, name, pooled):
    """16 px: h is 64 x 4 x 4 and read whole; 64 px: 64 x 16 x 16 = 16384 values, over POOL_ABOVE, read per
    channel. The fit records the choice (edits.hspace.pools), and the guided edit's readouts read h the same way."""
    from edits.fit import collect_h, fit_h
    from edits.hspace import POOL_ABOVE, pools
    from edits.hspace.guided import Readout

    model = request.getfixturevalue(name)
    c, hh, ww = h_shape(model)
    assert pools(model) is pooled and (c * hh * ww > POOL_ABOVE) is pooled
    s = collect_h(model, PROMPT, list(range(24)), num_inference_steps=2)
    assert s.pooled is pooled and s.h.shape[2] == (c if pooled else c * hh * ww)
    last = s.h[:, -1] - s.h[:, -1].mean(0)
    proj = last @ np.linalg.svd(last, full_matrices=False)[2][0]
    labels = ["a" if v < np.median(proj) else "b" for v in proj]
    dirs = fit_h(s, labels, "test", "tiny", "csv", h_shape(model))
    assert all(d.meta["pooled"] is pooled and d.pooled is pooled for d in dirs.values())
    assert dirs["b"].shape == ((c,) if pooled else (c, hh, ww))
    edit = HEdit(dirs["b"], 3.0, 0.0, 1.0, move="guided", siblings=[dirs["a"]], keep=[])
    seeds = [5, 6, 7]
    readout = Readout.of([dirs["b"], dirs["a"]])
    plain = sample(model, PROMPT, seeds, num_inference_steps=2, capture=True)
    guided = sample(model, PROMPT, seeds, num_inference_steps=2, capture=True, edit=edit)
    t = guided.timesteps[-1]
    assert (readout.log_probs(guided.h[-1], t)[:, 0] > readout.log_probs(plain.h[-1], t)[:, 0]).all()

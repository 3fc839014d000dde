import numpy as np
import pytest
import torch

from edits.directions import Direction, DirectionError
from edits.hspace import HEdit, h_shape, sample
from edits.pipeline import InputError
from edits.metrics import same_picture

PROMPT = "a large circle on a white background"


def _random_direction(model, steps=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = h_shape(model)
    v = torch.randn((steps, *shape), generator=g)
    v = v / v.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    ts = [int(t) for t in sample(model, PROMPT, 0, num_inference_steps=steps, decode=False).timesteps]
    return Direction(v, torch.ones(steps), torch.zeros(steps),
                     {"space": "h", "attribute": "test", "class": "x", "timesteps": ts})


def test_capture_shapes_and_cfg_halves(tiny_model):
    out = sample(tiny_model, [PROMPT, "a red star"], [1, 2], num_inference_steps=3, guidance_scale=5.0,
                 capture=True, capture_uncond=True)
    c, hh, ww = h_shape(tiny_model)
    assert len(out.h) == 3 and len(out.h_uncond) == 3
    assert out.h[0].shape == (2, c * hh * ww)
    # the halves differ (different conditioning) and the conditional half depends on the prompt
    assert not torch.allclose(out.h[0], out.h_uncond[0])
    assert not torch.allclose(out.h[-1][0], out.h[-1][1])
    single = sample(tiny_model, "a red star", 2, num_inference_steps=3, guidance_scale=5.0, capture=True)
    assert torch.allclose(single.h[1][0], out.h[1][1], atol=1e-5)
    nocfg = sample(tiny_model, PROMPT, 1, num_inference_steps=3, guidance_scale=1.0, capture=True)
    assert nocfg.h[0].shape == (1, c * hh * ww)


def test_plain_sampling_equals_the_pipeline_exactly(tiny_model):
    ref = tiny_model.generate(PROMPT, seed=4, num_inference_steps=4, guidance_scale=5.0, output_type="np")
    ours = sample(tiny_model, PROMPT, 4, num_inference_steps=4, guidance_scale=5.0).images[0]
    assert same_picture(ref, ours)


@pytest.mark.parametrize("mode", ["symmetric", "asymmetric"])
def test_zero_strength_is_the_plain_image_and_edits_change_it(tiny_model, mode):
    d = _random_direction(tiny_model)
    ref = tiny_model.generate(PROMPT, seed=4, num_inference_steps=3, guidance_scale=5.0, output_type="np")
    zero = sample(tiny_model, PROMPT, 4, num_inference_steps=3, guidance_scale=5.0,
                  edit=HEdit(d, 0.0, 0.0, 1.0, mode)).images[0]
    assert same_picture(ref, zero)
    edited = sample(tiny_model, PROMPT, 4, num_inference_steps=3, guidance_scale=5.0,
                    edit=HEdit(d, 50.0, 0.0, 1.0, mode)).images[0]
    assert np.abs(edited - ref).mean() > 1e-4


def test_per_image_strengths_in_one_batch(tiny_model):
    d = _random_direction(tiny_model)
    both = sample(tiny_model, PROMPT, [4, 4], num_inference_steps=3, guidance_scale=5.0,
                  edit=HEdit(d, [0.0, 30.0], 0.0, 1.0, "asymmetric")).images
    alone = sample(tiny_model, PROMPT, 4, num_inference_steps=3, guidance_scale=5.0,
                   edit=HEdit(d, 30.0, 0.0, 1.0, "asymmetric")).images[0]
    ref = tiny_model.generate(PROMPT, seed=4, num_inference_steps=3, guidance_scale=5.0, output_type="np")
    assert np.allclose(both[0], ref, atol=2e-3)
    assert np.allclose(both[1], alone, atol=2e-3)


def test_edit_outside_interval_changes_nothing(tiny_model):
    d = _random_direction(tiny_model)
    ref = tiny_model.generate(PROMPT, seed=4, num_inference_steps=3, guidance_scale=5.0, output_type="np")
    # with 3 steps the step fractions are 0, 1/3, 2/3: [0.9, 1.0) holds none of them
    out = sample(tiny_model, PROMPT, 4, num_inference_steps=3, guidance_scale=5.0,
                 edit=HEdit(d, 40.0, 0.9, 1.0)).images[0]
    assert same_picture(ref, out)


@pytest.mark.parametrize("kwargs", [dict(strengths=float("nan")), dict(strengths=1e9), dict(mode="sideways"),
                                    dict(start=0.7, end=0.2), dict(start=-1.0)])
def test_bad_edits_are_refused(tiny_model, kwargs):
    d = _random_direction(tiny_model)
    with pytest.raises(InputError):
        sample(tiny_model, PROMPT, 1, num_inference_steps=2, edit=HEdit(d, **{"strengths": 1.0, **kwargs}))


def test_direction_of_another_model_is_refused(tiny_model):
    wrong = Direction(torch.ones(1, 7, 3, 3), torch.ones(1), torch.zeros(1), {"timesteps": [0]})
    with pytest.raises(DirectionError, match="another model"):
        sample(tiny_model, PROMPT, 1, num_inference_steps=2, edit=HEdit(wrong, 1.0))


def test_skip_levels_extend_h_and_edit_the_skips(tiny_model):
    from edits.hspace import h_layout

    layout = h_layout(tiny_model, 1)
    assert layout[0][0] == "mid" and len(layout) == 1 + len(tiny_model.pipe.unet.up_blocks[0].resnets)
    d_total = sum(int(np.prod(s)) for _, s in layout)
    out = sample(tiny_model, PROMPT, [1, 2], num_inference_steps=3, capture=True, skip_levels=1)
    assert out.h[0].shape == (2, d_total)
    g = torch.Generator().manual_seed(1)
    v = torch.randn(3, d_total, generator=g)
    v = v / v.norm(dim=1, keepdim=True)
    d = Direction(v, torch.ones(3), torch.zeros(3), {"timesteps": out.timesteps, "skip_levels": 1})
    ref = tiny_model.generate(PROMPT, seed=4, num_inference_steps=3, guidance_scale=5.0, output_type="np")
    for mode in ("symmetric", "asymmetric"):
        zero = sample(tiny_model, PROMPT, 4, num_inference_steps=3, edit=HEdit(d, 0.0, 0.0, 1.0, mode)).images[0]
        assert same_picture(zero, ref)
        moved = sample(tiny_model, PROMPT, 4, num_inference_steps=3, edit=HEdit(d, 50.0, 0.0, 1.0, mode)).images[0]
        assert np.abs(moved - ref).mean() > 1e-4
    with pytest.raises(DirectionError):  # a mid-only direction does not fit an extended h
        sample(tiny_model, PROMPT, 4, num_inference_steps=3, skip_levels=1,
               edit=HEdit(_random_direction(tiny_model), 1.0))


def test_starting_noise_reproduces_the_seeds(tiny_model):
    from edits.hspace import starting_noise

    a = sample(tiny_model, "a circle", [3, 4]).images
    b = sample(tiny_model, "a circle", [0, 0], latents=starting_noise(tiny_model, [3, 4])).images
    assert same_picture(a, b)


@pytest.mark.parametrize("kind", ["epsilon", "v_prediction", "sample"])
def test_asymmetric_step_reads_any_prediction_type_as_noise(kind):
    # x_t = sqrt(a) x0 + sqrt(1 - a) eps must hold for the x0 the scheduler derives and the eps we derive,
    # or the asymmetric mode's direction term is wrong for v-prediction models (SD 2.x 768) and x0-prediction
    # ones (the embedded hourglass).
    from diffusers import DDIMScheduler

    from edits.hspace import _as_eps

    sch = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, prediction_type=kind,
                        clip_sample=False, set_alpha_to_one=False, steps_offset=1, timestep_spacing="trailing")
    sch.set_timesteps(10)
    g = torch.Generator().manual_seed(0)
    x_t, out = torch.randn(2, 4, 8, 8, generator=g), torch.randn(2, 4, 8, 8, generator=g)
    t = int(sch.timesteps[2])
    x0 = sch.step(out, t, x_t, eta=0.0).pred_original_sample
    a = sch.alphas_cumprod[t]
    eps = _as_eps(sch, t, x_t, out)
    assert torch.allclose(a.sqrt() * x0 + (1 - a).sqrt() * eps, x_t, atol=1e-5)


def test_swap_reads_the_class_at_each_step_and_moves_it(tiny_model, monkeypatch):
    from edits import hspace
    from edits.fit import collect_h, fit_h

    seeds = list(range(30))
    s = collect_h(tiny_model, "a circle", seeds, num_inference_steps=3)
    last = s.h[:, -1] - s.h[:, -1].mean(0)
    pc = np.linalg.svd(last, full_matrices=False)[2][0]
    proj = last @ pc
    labels = ["a" if v < np.quantile(proj, 1 / 3) else "b" if v < np.quantile(proj, 2 / 3) else "c" for v in proj]
    dirs = fit_h(s, labels, "test", "tiny", "csv", h_shape(tiny_model))
    d, sibs = dirs["c"], [dirs["a"], dirs["b"]]
    assert d.readout_vectors.shape == d.vectors.shape and len(d.meta["class_offset"]) == 3
    plain = sample(tiny_model, "a circle", [3, 4], num_inference_steps=3).images
    same = sample(tiny_model, "a circle", [3, 4], num_inference_steps=3,
                  edit=HEdit(d, 0.0, 0.0, 1.0, "symmetric", "swap", sibs)).images
    assert same_picture(plain, same)
    edit = HEdit(d, 1.0, 0.0, 1.0, "symmetric", "swap", sibs)
    assert edit.can_swap and not HEdit(d, 1.0, move="swap").can_swap  # without siblings: a landing
    # the move the hook makes: the target's offset in, the offset of the class the readout reads out
    from edits.hspace.moves import SwapMove

    seen = []
    real = SwapMove.mid_delta

    def spy(self, h_cond, t):
        out = real(self, h_cond, t)
        seen.append((h_cond.detach().clone(), out.detach().clone(), t))
        return out

    monkeypatch.setattr(SwapMove, "mid_delta", spy)
    swapped = sample(tiny_model, "a circle", [3, 4], num_inference_steps=3, edit=edit).images
    assert not np.array_equal(plain, swapped) and len(seen) == 3  # moved, if only a little (a tiny model)
    hc, got, t = seen[0]
    i = d.index_for(t)
    classes = [d, *sibs]
    r = torch.stack([c.readout_vectors[i].flatten() for c in classes])
    rb = torch.stack([c.readout_biases[i] for c in classes])
    normals = torch.stack([c.vectors[i].flatten() for c in classes])
    offsets = torch.tensor([c.meta["class_offset"][i] for c in classes])
    cur = (hc.flatten(1) @ r.T + rb).argmax(1)
    want = offsets[0] * normals[0] - offsets[cur, None] * normals[cur]
    assert torch.allclose(got.flatten(1), want, atol=1e-5)


def test_traversal_reuses_the_frames_it_is_given(tiny_model, monkeypatch):
    import edits.hspace.pairs as pairs

    d = _random_direction(tiny_model)
    drawn = []
    real = pairs.sample
    monkeypatch.setattr(pairs, "sample", lambda *a, **k: drawn.append(len(a[2])) or real(*a, **k))
    size = tiny_model.resolution
    given = {0.0: np.full((size, size, 3), 0.25, np.float32), 2.0: np.full((size, size, 3), 0.75, np.float32)}
    alphas, frames = pairs.traversal(tiny_model, PROMPT, 4, d, 2.0, 5, 0.0, 1.0, "asymmetric", "add", known=given,
                                     num_inference_steps=3, guidance_scale=5.0)
    assert alphas == [-2.0, -1.0, 0.0, 1.0, 2.0] and drawn == [3]
    assert same_picture(frames[2], given[0.0]) and same_picture(frames[4], given[2.0])
    assert not np.array_equal(frames[3], given[2.0])  # drawn anew, not copied

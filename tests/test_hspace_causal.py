"""Causal directions in h, the recurrent guided move and the judged scores, on tiny random pipelines (CPU)."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from edits.hspace import HEdit, h_shape, sample
from edits.hspace.causal import (SPACE, Pullback, fit_causal, load_causal, pullback, random_like, save_causal)
from edits.metrics import same_picture

PROMPT = "a circle"


class RedReader:
    """A toy reader for the planted model: p(red) grows with the picture's mean red channel."""

    attribute, name, classes = "colour", "mean-red", ("red", "other")

    def features(self, image):
        return image[:, :1].mean((2, 3))  # (B, 1)

    def log_probs(self, z):
        return torch.log_softmax(torch.cat([8 * (z - 0.9), torch.zeros_like(z)], 1), 1)


@pytest.fixture(scope="module")
def planted(tiny_pipeline_dir):
    """The tiny pipeline with one channel of its mid-block output wired to the picture's red channel: the
    UNet's noise prediction of latent channel 0 falls with that channel's mean (so the predicted x0 rises),
    and the decoder draws red from latent channel 0."""
    from edits.pipeline import load_diffusion

    model = load_diffusion(tiny_pipeline_dir, device="cpu")
    unet, k = model.pipe.unet, 5
    seen = {}

    def read_h(module, args, kwargs):  # the mid-block's output as the up-blocks receive it (edits included)
        seen["h"] = kwargs["hidden_states"]

    def wire(module, args, output):
        h = seen["h"][:, k].mean((1, 2))  # (n*B,)
        out = output[0].clone()
        out[:, 0] = out[:, 0] - 3.0 * h[:, None, None]
        return (out, *output[1:])

    def decode(z, return_dict=False):
        red = torch.tanh(4 * z[:, :1])  # (B, 1, h, w)
        img = torch.cat([red, -torch.ones_like(red), -torch.ones_like(red)], 1)
        return (torch.nn.functional.interpolate(img, scale_factor=model.pipe.vae_scale_factor),)

    handles = [unet.up_blocks[0].register_forward_pre_hook(read_h, with_kwargs=True), unet.register_forward_hook(wire)]
    model.pipe.vae.decode = decode
    yield SimpleNamespace(model=model, channel=k)
    for hd in handles:
        hd.remove()


def test_a_causal_direction_finds_the_planted_channel(planted):
    pb = pullback(planted.model, [PROMPT] * 6, list(range(6)), RedReader(), num_inference_steps=3)
    assert pb.grads.shape[:3] == (6, 3, 2)
    d = fit_causal(pb, "colour", "planted", "mean-red", h_shape(planted.model))["red"]
    v = d.vectors  # (T, C, H, W), unit per step
    energy = (v ** 2).sum((2, 3))  # (T, C)
    assert (energy.argmax(1) == planted.channel).all(), energy.argmax(1)
    assert (energy[:, planted.channel] > 0.5).all(), energy[:, planted.channel]
    assert (v[:, planted.channel].mean((1, 2)) > 0).all()  # towards red, not away
    assert d.meta["space"] == SPACE and len(d.meta["split_half"]) == 3


@pytest.fixture(scope="module")
def causal(tiny_model):
    """Causal directions fitted on the tiny random model with the toy reader."""
    pb = pullback(tiny_model, [PROMPT] * 4, list(range(4)), RedReader(), num_inference_steps=3)
    return fit_causal(pb, "colour", "tiny", "mean-red", h_shape(tiny_model))


def test_causal_move_at_strength_zero_is_the_pipeline_and_moves_otherwise(tiny_model, causal):
    ref = tiny_model.generate(PROMPT, seed=4, num_inference_steps=3, guidance_scale=5.0, output_type="np")
    d = causal["red"]
    zero = sample(tiny_model, PROMPT, 4, num_inference_steps=3, guidance_scale=5.0,
                  edit=HEdit(d, 0.0, 0.0, 1.0, move="causal")).images[0]
    assert same_picture(ref, zero)
    out = sample(tiny_model, PROMPT, [4, 4], num_inference_steps=3, guidance_scale=5.0,
                 edit=HEdit(d, [0.0, 50.0], 0.0, 1.0, move="causal")).images
    assert same_picture(ref, out[0]) and np.abs(out[1] - ref).mean() > 1e-4


def test_causal_files_round_trip_with_their_spread(causal, tmp_path):
    d = causal["red"]
    save_causal(d, tmp_path, "h_causal_colour_red")
    back = load_causal(tmp_path)["colour: red"]
    assert torch.allclose(back.vectors, d.vectors) and torch.allclose(back.h_std, d.h_std)
    assert back.meta["space"] == SPACE
    from edits.directions import load_directions

    assert load_directions(tmp_path, space="h") == {}  # never mixed with the boundaries


def test_the_control_has_the_same_norm_per_step(causal):
    d = causal["red"]
    r = random_like(d, torch.Generator().manual_seed(0))
    assert torch.allclose(r.vectors.flatten(1).norm(dim=1), torch.ones(len(d.timesteps)), atol=1e-5)
    assert torch.equal(r.scales, d.scales)
    cos = (r.vectors.flatten(1) * d.vectors.flatten(1)).sum(1)
    assert cos.abs().max() < 0.5


def test_causal_without_a_causal_direction_falls_back_to_guidance_or_says_why(tiny_model):
    from tests.conftest import random_h_directions
    from edits.directions import DirectionError
    from edits.hspace.causal import make_causal_move
    from edits.hspace.guided import GuidedMove
    from edits.hspace.layout import h_layout

    dirs = random_h_directions(tiny_model)
    blue, red = dirs["colour: blue"], dirs["colour: red"]
    move = make_causal_move(HEdit(blue, 1.0, move="causal", siblings=[red]), h_layout(tiny_model), 1)
    assert isinstance(move, GuidedMove)
    with pytest.raises(DirectionError, match="no causal direction"):
        make_causal_move(HEdit(blue, 1.0, move="causal"), h_layout(tiny_model), 1)


def test_recurrent_move_at_strength_zero_is_the_pipeline_and_repeats_the_guided_step(tiny_model):
    from tests.conftest import random_h_directions
    from edits.hspace import Guide

    dirs = random_h_directions(tiny_model)
    blue, red = dirs["colour: blue"], dirs["colour: red"]
    ref = tiny_model.generate(PROMPT, seed=3, num_inference_steps=3, guidance_scale=5.0, output_type="np")

    def edit(strengths, k):
        return HEdit(blue, strengths, 0.0, 1.0, move="recurrent", siblings=[red], guide=Guide(recurrence=k))

    kw = dict(num_inference_steps=3, guidance_scale=5.0)
    assert same_picture(ref, sample(tiny_model, PROMPT, 3, edit=edit(0.0, 3), **kw).images[0])
    two = sample(tiny_model, PROMPT, [3, 3], edit=edit([0.0, 2.0], 3), **kw).images
    assert same_picture(ref, two[0])  # strength 0 inside a batch keeps its plain step
    once = sample(tiny_model, PROMPT, 3, edit=edit(2.0, 1), **kw).images[0]
    guided = sample(tiny_model, PROMPT, 3, edit=HEdit(blue, 2.0, 0.0, 1.0, move="guided", siblings=[red]), **kw).images[0]
    assert same_picture(once, guided)  # one repetition is the guided move
    assert np.abs(two[1] - once).mean() > 1e-4


def test_palette_reader_reads_the_worlds_own_renders():
    from edits.hspace.readers import PaletteColourReader
    from toyworld.world import COLOURS, render, sample_scene

    reader, rng = PaletteColourReader(), np.random.default_rng(0)
    scenes = [sample_scene(rng, colour=c) for c in COLOURS for _ in range(2)]
    imgs = torch.from_numpy(np.stack([render(s, seed=i) for i, s in enumerate(scenes)])).permute(0, 3, 1, 2)
    lp = reader.log_probs(reader.features(imgs.float() / 127.5 - 1))
    assert [reader.classes[i] for i in lp.argmax(1)] == [s.colour for s in scenes]

"""The StyleGAN generator and W-space edits, on a tiny random generator (no assets needed)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edits.directions import Direction, DirectionError
from edits.pipeline import InputError, ModelLoadError
from nets.stylegan import save_generator
from edits.wspace import WEdit, apply_edits, edit_pair, fit_w, load_gan, sefa, traversal
from edits.metrics import same_picture

@pytest.fixture(scope="module")
def gan(tiny_gan):
    return tiny_gan


def _direction(gan, axis=0, label="blue", scale=1.0, bias=0.0):
    v = torch.zeros(1, gan.w_dim)
    v[0, axis] = 1.0
    return Direction(v, torch.tensor([scale]), torch.tensor([bias]),
                     {"space": "w", "attribute": "colour", "class": label, "timesteps": [0]})


def _styles(g, w_plus: torch.Tensor) -> list[torch.Tensor]:
    """The per-layer modulation vectors (the 'style space') that the synthesis computes, in the order it does."""
    from nets.stylegan import ModulatedConv2d

    out = []
    hooks = [m.modulation.register_forward_hook(lambda _m, _i, o: out.append(o))
             for m in g.modules() if isinstance(m, ModulatedConv2d)]
    try:
        with torch.no_grad():
            g.synthesis(w_plus)
    finally:
        for h in hooks:
            h.remove()
    return out


def test_shapes_and_layout(gan):
    g = gan.generator
    assert g.n_latent == 6
    z = torch.randn(3, 16)
    w = g.mapping(z)
    assert w.shape == (3, 16)
    assert g.broadcast(w).shape == (3, 6, 16)
    assert g(z).shape == (3, 3, 16, 16)
    imgs = gan.render(w)
    assert imgs.shape == (3, 16, 16, 3) and imgs.dtype == np.uint8
    assert len(_styles(g, g.broadcast(w))) == 2 + 3 * 2  # conv1, to_rgb1, then (up, conv, to_rgb) per resolution


def test_same_seed_same_image(gan):
    a, _ = edit_pair(gan, 5, [])
    b, _ = edit_pair(gan, 5, [])
    c, _ = edit_pair(gan, 6, [])
    assert same_picture(a, b) and not same_picture(a, c)


def test_psi_zero_renders_w_avg(gan):
    img, _ = edit_pair(gan, 123, [], truncation_psi=0.0)
    ref = gan.render(gan.w_avg[None])[0]
    assert same_picture(img, ref)


def test_strength_zero_is_identity(gan):
    a, b = edit_pair(gan, 3, [WEdit(_direction(gan), 0.0)])
    assert same_picture(a, b)
    a, b = edit_pair(gan, 3, [WEdit(_direction(gan), 2.0)])
    assert not same_picture(a, b)


def test_edit_lands_at_the_signed_distance(gan):
    d = _direction(gan, axis=2, scale=0.5, bias=0.1)
    w = gan.w_from_seeds(list(range(8)))
    n = d.vectors[0]
    for s in (1.0, 2.5, -1.0):
        wp = apply_edits(gan, w, [WEdit(d, s)])
        dist = wp[:, 0] @ n + 0.1
        assert torch.allclose(dist, torch.full((8,), s * 0.5), atol=1e-5), s
    half = apply_edits(gan, w, [WEdit(d, 0.5)])[:, 0] @ n + 0.1
    start = w @ n + 0.1
    assert torch.allclose(half, 0.5 * start + 0.25, atol=1e-5)  # slides half-way from the start to s=1


def test_conditional_edit_keeps_other_boundaries(gan):
    d = Direction(torch.nn.functional.normalize(torch.ones(1, gan.w_dim), dim=1), torch.tensor([1.0]),
                  torch.tensor([0.0]), {"space": "w", "attribute": "colour", "class": "blue", "timesteps": [0]})
    other = _direction(gan, axis=4, label="star")
    other.meta["attribute"] = "shape"
    w = gan.w_from_seeds([1, 2, 3])
    wp = apply_edits(gan, w, [WEdit(d, 2.0, conditional_on=[other])])
    assert torch.allclose(wp[:, 0, 4], w[:, 4], atol=1e-6)  # the shape boundary's coordinate is untouched
    assert torch.allclose(wp[:, 0] @ d.vectors[0], torch.full((3,), 2.0), atol=1e-5)  # still lands at 2 std


def test_layer_range_changes_only_those_styles(gan):
    g = gan.generator
    w = gan.w_from_seed(11)
    wp = apply_edits(gan, w, [WEdit(_direction(gan), 3.0, layers=(2, 3))])
    base = _styles(g, g.broadcast(w))
    new = _styles(g, wp)
    layer_of = [0, 1, 1, 2, 3, 3, 4, 5]  # the W+ index each modulation reads
    for i, (a, b) in enumerate(zip(base, new)):
        assert torch.equal(a, b) == (layer_of[i] not in (2, 3)), i


def test_unsupervised_components(gan):
    assert gan.pca.vectors.shape[1] == gan.w_dim and (gan.pca.stds > 0).all()
    s = sefa(gan, k=3)
    assert torch.allclose(s.vectors @ s.vectors.t(), torch.eye(3), atol=1e-4)
    w = gan.w_from_seed(0)
    wp = apply_edits(gan, w, components={("pca", 0): 1.0})
    assert torch.allclose((wp[0, 0] - w[0]).norm(), gan.pca.stds[0], atol=1e-5)
    with pytest.raises(InputError):
        apply_edits(gan, w, components={("pca", 99): 1.0})


def test_traversal_frames(gan):
    strengths, frames = traversal(gan, 4, WEdit(_direction(gan), 2.0), frames=7)
    assert len(frames) == 7 and frames[0].shape == (16, 16, 3)
    assert strengths[0] == -2.0 and strengths[-1] == 2.0 and len(strengths) == 7


def test_fit_recovers_a_known_boundary(gan, tmp_path):
    w = torch.randn(600, gan.w_dim, generator=torch.Generator().manual_seed(0))  # isotropic codes
    labels = ["blue" if v > 0 else "red" for v in (w[:, 5] - w[:, 5].median()).tolist()]
    dirs = fit_w(w, labels, "colour", "test")
    d = dirs["blue"]
    assert d.meta["accuracy"][0] > 0.85 and abs(float(d.vectors[0, 5])) > 0.9 and d.meta["method"] == "mean-difference"
    back = Direction.load(d.save(tmp_path / "w_colour_blue"))
    assert torch.equal(back.vectors, d.vectors) and back.meta["space"] == "w"


@pytest.mark.parametrize("bad", [float("nan"), 1e9, "strong"])
def test_bad_strength(gan, bad):
    with pytest.raises(InputError):
        edit_pair(gan, 1, [WEdit(_direction(gan), bad)])


@pytest.mark.parametrize("psi", [-0.5, 3.0, float("nan")])
def test_bad_psi(gan, psi):
    with pytest.raises(InputError):
        edit_pair(gan, 1, [], truncation_psi=psi)


def test_foreign_and_wrong_space_directions(gan):
    wrong = _direction(gan)
    wrong.meta["space"] = "h"
    with pytest.raises(DirectionError):
        edit_pair(gan, 1, [WEdit(wrong, 1.0)])
    other = Direction(torch.ones(1, 7), torch.ones(1), torch.zeros(1),
                      {"space": "w", "attribute": "colour", "class": "x", "timesteps": [0]})
    with pytest.raises(DirectionError):
        edit_pair(gan, 1, [WEdit(other, 1.0)])
    with pytest.raises(InputError):
        apply_edits(gan, gan.w_from_seed(0), [WEdit(_direction(gan), 1.0, layers=(4, 2))])


def test_corrupt_or_missing_weights(tmp_path, gan):
    with pytest.raises(ModelLoadError):
        load_gan(tmp_path / "nothing")
    folder = save_generator(gan.generator, tmp_path / "g", dtype=torch.float32)
    (folder / "generator.safetensors").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelLoadError):
        load_gan(folder)


def _clustered_codes(gan, n=900, seed=0):
    """Codes of three well-separated colour classes (means along axes 0, 1, 2) plus small noise."""
    g = torch.Generator().manual_seed(seed)
    names = ["red", "green", "blue"]
    idx = torch.arange(n) % 3
    w = 0.1 * torch.randn(n, gan.w_dim, generator=g)
    w[torch.arange(n), idx] += 3.0
    return w, [names[i] for i in idx.tolist()]


def test_class_swap_replaces_the_current_class_by_the_target(gan):
    from edits.wspace import make_edit

    w, labels = _clustered_codes(gan)
    dirs = {d.label: d for d in fit_w(w, labels, "colour", "test").values()}
    assert all("class_offset" in d.meta for d in dirs.values())
    reds = w[[i for i, c in enumerate(labels) if c == "red"][:20]]
    e = make_edit(dirs, "colour", "blue", 1.0)
    assert e.is_swap and len(e.siblings) == 2
    moved = apply_edits(gan, reds, [e])[:, 0]
    # the red offset is gone and the blue one is there: the code now sits at the blue codes' place
    blue_mean = w[[i for i, c in enumerate(labels) if c == "blue"]].mean(0)
    red_mean = w[[i for i, c in enumerate(labels) if c == "red"]].mean(0)
    assert torch.allclose(moved.mean(0), blue_mean + (reds.mean(0) - red_mean), atol=0.1)
    assert torch.equal(apply_edits(gan, reds, [make_edit(dirs, "colour", "blue", 0.0)])[:, 0], reds)
    blues = w[[i for i, c in enumerate(labels) if c == "blue"][:5]]  # already blue: strength 1 leaves them
    assert torch.allclose(apply_edits(gan, blues, [make_edit(dirs, "colour", "blue", 1.0)])[:, 0], blues, atol=1e-5)
    # without the siblings it is a boundary edit again
    plain = make_edit(dirs, "colour", "blue", 1.0, swap=False)
    assert not plain.is_swap


def test_direction_layers_are_the_default_layer_range(gan):
    from edits.wspace import make_edit

    w, labels = _clustered_codes(gan)
    dirs = {d.label: d for d in fit_w(w, labels, "colour", "test").values()}
    for d in dirs.values():
        d.meta["layers"] = [3, 5]
    assert make_edit(dirs, "colour", "blue", 1.0).layers == (3, 5)
    assert make_edit(dirs, "colour", "blue", 1.0, layers=(0, 1)).layers == (0, 1)
    wp = apply_edits(gan, w[:2], [make_edit(dirs, "colour", "blue", 1.0)])
    assert torch.equal(wp[:, :3], gan.generator.broadcast(w[:2])[:, :3]) and not torch.equal(wp[:, 3:], wp[:, :3])


def test_readout_reads_the_class_and_round_trips(gan, tmp_path):
    from safetensors.torch import load_file, save_file

    w, labels = _clustered_codes(gan)
    dirs = fit_w(w, labels, "colour", "test")
    names = sorted(dirs)
    scores = torch.stack([w @ dirs[c].readout_vectors[0] + dirs[c].readout_biases[0] for c in names], 1)
    assert np.mean([names[i] == c for i, c in zip(scores.argmax(1).tolist(), labels)]) > 0.99
    path = dirs["blue"].save(tmp_path / "w_colour_blue")
    back = Direction.load(path)
    assert torch.equal(back.readout_vectors, dirs["blue"].readout_vectors)
    t = load_file(str(path))
    t["readout_biases"] = torch.zeros(3)  # one bias per timestep is expected
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    save_file(t, str(path), metadata=meta)
    with pytest.raises(DirectionError, match="readout"):
        Direction.load(path)

"""The independent judge (edits/judge.py): known answers on rendered scenes, and pictures it must call invalid."""
from __future__ import annotations

import ast
import dataclasses
import itertools
import math

import numpy as np
import pytest
from PIL import Image

from edits import judge
from edits.judge import Reading, read, read_one
from toyworld.world import (BACKGROUNDS, COLOURS, FACTORS, HELDOUT, SHAPES, SIZE_RADIUS, SIZES, Scene, object_mask,
                            render, sample_scene)

from .conftest import ROOT

BG_NAMES = tuple(BACKGROUNDS)


def _scene(colour, shape, size, background, x=0.5, y=0.5, radius=None):
    lo, hi = SIZE_RADIUS[size]
    return Scene(colour, shape, size, background, x, y, (lo + hi) / 2 if radius is None else radius)


def _centroid(scene: Scene) -> tuple[float, float]:
    m = object_mask(scene)
    yy, xx = np.mgrid[0:64, 0:64] + 0.5
    return float((m * xx).sum() / m.sum()), float((m * yy).sum() / m.sum())


def _paint(background: str, *objects: tuple[Scene, tuple[int, int, int]]) -> np.ndarray:
    """Objects (silhouette, RGB) over a flat background, mixed as the renderer mixes them."""
    img = np.broadcast_to(np.array(BACKGROUNDS[background], float), (64, 64, 3)).copy()
    for scene, rgb in objects:
        m = object_mask(scene)[..., None]
        img = m * np.array(rgb, float) + (1 - m) * img
    return np.round(img).astype(np.uint8)


def _assert_reads(scenes, images):
    readings = read(images)
    wrong = [(s.labels(), r.labels(), r.reason) for s, r in zip(scenes, readings) if r.labels() != s.labels()]
    assert not wrong, f"{len(wrong)} of {len(scenes)} misread, e.g. {wrong[:3]}"
    invalid = [(s.labels(), r.reason) for s, r in zip(scenes, readings) if not r.valid]
    assert not invalid, f"rendered scenes read as invalid: {invalid[:3]}"
    return readings


def test_every_colour_and_shape_pair_including_the_held_out_ones():
    pairs = list(itertools.product(COLOURS, SHAPES))
    assert set(HELDOUT) <= set(pairs)
    scenes = [_scene(c, s, SIZES[i % 3], BG_NAMES[(i // 3) % 4], 0.35 + 0.3 * (i % 2), 0.4 + 0.2 * (i % 3 == 0))
              for i, (c, s) in enumerate(pairs)]
    _assert_reads(scenes, np.stack([render(s, seed=i) for i, s in enumerate(scenes)]))


def test_every_size_at_both_ends_of_its_range_for_every_shape():
    """The radii nearest the size thresholds, on every background."""
    scenes = [_scene("orange", shape, size, BG_NAMES[i % 4], radius=SIZE_RADIUS[size][end])
              for i, (shape, size, end) in enumerate(itertools.product(SHAPES, SIZES, (0, 1)))]
    readings = _assert_reads(scenes, np.stack([render(s, seed=i) for i, s in enumerate(scenes)]))
    assert max(abs(r.radius - s.radius) for r, s in zip(readings, scenes)) < 0.75


def test_every_colour_on_every_background():
    pairs = itertools.product(COLOURS, BG_NAMES)
    scenes = [_scene(c, SHAPES[i % 4], SIZES[i % 3], b) for i, (c, b) in enumerate(pairs)]
    _assert_reads(scenes, np.stack([render(s, seed=100 + i) for i, s in enumerate(scenes)]))


def test_random_scenes_and_positions_within_a_pixel():
    rng = np.random.default_rng(3)
    scenes = [sample_scene(rng, include_heldout=True) for _ in range(150)]
    readings = _assert_reads(scenes, np.stack([render(s, seed=int(rng.integers(1 << 30))) for s in scenes]))
    for s, r in zip(scenes, readings):
        cx, cy = _centroid(s)
        assert abs(r.x - cx) < 0.5 and abs(r.y - cy) < 0.5, (s, r.x, r.y, cx, cy)
        assert abs(r.centre_x - 64 * s.x) < 1 and abs(r.centre_y - 64 * s.y) < 1, (s, r.centre_x, r.centre_y)
        assert r.match > 0.9 and r.objects == 1 and r.reason == ""


def test_blank_pictures_are_not_valid_but_have_a_background():
    for name, rgb in BACKGROUNDS.items():
        r = read_one(np.full((64, 64, 3), rgb, np.uint8))
        assert (r.valid, r.colour, r.shape, r.size, r.background) == (False, None, None, None, name)
        assert math.isnan(r.x) and math.isnan(r.y) and r.reason == "no object"
        assert read_one(render(_scene("red", "circle", "small", name))).valid  # the control: one object is


@pytest.mark.parametrize("second", ["red", "blue"])
def test_two_objects_are_not_valid(second):
    a = _scene("red", "circle", "medium", "white", 0.3, 0.3)
    b = _scene(second, "square", "small", "white", 0.72, 0.7)
    for one in (a, b):  # the control: each alone is a valid scene
        assert read_one(_paint("white", (one, COLOURS[one.colour]))).valid
    r = read_one(_paint("white", (a, COLOURS["red"]), (b, COLOURS[second])))
    assert not r.valid and r.objects == 2 and r.reason == "2 objects"


def test_a_specks_of_noise_do_not_count_as_objects():
    img = render(_scene("green", "star", "large", "gray"))
    img[2, 2] = img[60, 5] = (250, 250, 250)
    r = read_one(img)
    assert r.valid and r.objects == 1 and r.labels() == {"colour": "green", "shape": "star", "size": "large",
                                                         "background": "gray"}


def test_a_two_coloured_object_is_not_valid():
    s = _scene("red", "square", "large", "white")
    img = render(s)
    left = object_mask(s) > 0
    left[:, 32:] = False
    img[left] = COLOURS["cyan"]
    r = read_one(img)
    assert not r.valid and r.reason == "mixed colour"


def test_a_colour_off_the_palette_is_not_valid():
    s = _scene("red", "circle", "large", "white")
    r = read_one(_paint("white", (s, (120, 80, 40))))  # brown
    assert not r.valid and r.reason == "colour off the palette"


def _blob(inside) -> np.ndarray:
    """A blue blob on beige, its mask `inside(x, y)` drawn at 2 x 2 samples a pixel (anti-aliased)."""
    yy, xx = np.mgrid[0:128, 0:128] / 2 + 0.25
    m = inside(xx - 32, yy - 32).reshape(64, 2, 64, 2).mean((1, 3))[..., None]
    return np.round(m * np.array(COLOURS["blue"]) + (1 - m) * np.array(BACKGROUNDS["beige"])).astype(np.uint8)


@pytest.mark.parametrize("stretch", [(2.2, 0.45), (0.45, 2.2), (1.3, 0.75)])
def test_a_blob_that_matches_no_shape_is_not_valid(stretch):
    r = read_one(_blob(lambda x, y: (x / (10 * stretch[0])) ** 2 + (y / (10 * stretch[1])) ** 2 <= 1))  # ellipse
    assert not r.valid and r.reason == "no shape matches", (r.match, r.runner_up)


def test_a_blob_between_two_shapes_is_not_valid():
    """A superellipse halfway between a circle and a square matches both, neither clearly."""
    r = read_one(_blob(lambda x, y: np.abs(x / 12) ** 3.5 + np.abs(y / 12) ** 3.5 <= 1))
    assert not r.valid and r.reason == "shape between two names", (r.shape, r.match, r.runner_up)
    assert r.match >= judge.MIN_MATCH


def test_a_blurred_scene_still_reads_the_same():
    """Model pictures are softer than renders: a Gaussian blur of 1 px keeps every answer and validity."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(9)
    scenes = [sample_scene(rng, include_heldout=True) for _ in range(24)]
    images = np.stack([np.round(gaussian_filter(render(s, seed=i).astype(float), (1, 1, 0))).astype(np.uint8)
                       for i, s in enumerate(scenes)])
    _assert_reads(scenes, images)


def test_other_resolutions_and_input_types_read_the_same():
    rng = np.random.default_rng(5)
    scenes = [sample_scene(rng, include_heldout=True) for _ in range(12)]
    small = [render(s, seed=i) for i, s in enumerate(scenes)]
    large = [render(s, seed=i, resolution=128) for i, s in enumerate(scenes)]
    expected = [s.labels() for s in scenes]
    assert [r.labels() for r in read(np.stack(small))] == expected
    for images in (np.stack(large), large, [Image.fromarray(a) for a in large], [Image.fromarray(a) for a in small],
                   [Image.fromarray(a).resize((100, 100), Image.Resampling.BICUBIC) for a in small],
                   np.stack(small).astype(np.float32) / 255.0):
        readings = read(images)
        assert [r.labels() for r in readings] == expected and all(r.valid for r in readings)
    for s, a, b in zip(scenes, read(np.stack(small)), read(np.stack(large))):
        assert abs(a.x - b.x) < 0.5 and abs(a.y - b.y) < 0.5
    assert read_one(Image.fromarray(large[0])).labels() == expected[0]
    assert read([]) == []


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        read_one(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError):
        read_one(np.full((64, 64, 3), 2.0))


def test_the_interface_others_code_against():
    fields = [f.name for f in dataclasses.fields(Reading)]
    assert fields[:7] == ["colour", "shape", "size", "background", "x", "y", "valid"]
    r = read_one(render(_scene("pink", "circle", "small", "black")))
    assert r.labels() == {"colour": "pink", "shape": "circle", "size": "small", "background": "black"}
    assert list(r.labels()) == list(FACTORS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.colour = "red"


def test_the_size_thresholds_are_the_midpoints_between_ranges():
    assert judge.SIZE_CUTS == [9.25, 14.0]
    assert [judge.size_of(v) for v in (6.5, 9.2, 9.3, 13.9, 14.1, 18)] == ["small", "small", "medium", "medium",
                                                                          "large", "large"]


def test_it_shares_nothing_with_the_fitting_labellers():
    """No learnt weights, no labeller, no torch: the judge reads with the world's definition alone."""
    tree = ast.parse((ROOT / "edits" / "judge.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__", "math", "dataclasses", "functools", "numpy", "PIL", "scipy", "skimage.color",
                        "toyworld.world"}, imported

"""The archive (edits/archive.py): census, catalogue, search, map, and the tab through gradio_client."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from edits.archive import (Archive, Catalogue, TRAINING_N, TRAINING_SEED, census, check_description, describe,
                           heldout_cells, reads_as, training_pictures, training_scenes, wilson)
from edits.judge import read
from edits.pipeline import InputError
from toyworld.world import COLOURS, HELDOUT, SHAPES, Scene, render, sample_scene

from .conftest import ROOT


# ------------------------------------------------------------------ a tiny archive of rendered scenes
def scene_of(seed: int) -> Scene:
    return sample_scene(np.random.default_rng(seed), include_heldout=True)


PLANTED = 123_456
PLANTED_SCENE = Scene("red", "star", "small", "black", 0.5, 0.5, 7.0)  # a held-out pair


class WorldArchive(Archive):
    """Seeds -> toy-world scenes -> rendered pictures: an archive whose pictures are exactly what a seed says."""

    kind = "world"

    def pictures(self, seeds):
        return np.stack([render(PLANTED_SCENE if int(s) == PLANTED else scene_of(int(s)), seed=int(s)) for s in seeds])


def world_archive(n: int = 120, plant: bool = True) -> WorldArchive:
    seeds = list(range(n)) + ([PLANTED] if plant else [])
    pictures = WorldArchive.pictures(None, seeds)
    return WorldArchive(Catalogue.from_readings(seeds, read(pictures), {"kind": "world"}), "toy world")


# ------------------------------------------------------------------ Wilson, descriptions
def test_wilson_interval_matches_known_values():
    lo, hi = wilson(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and round(hi, 4) == 0.2775
    assert wilson(0, 0) is None


def test_descriptions_are_checked_and_said():
    assert check_description({"colour": "Red", "shape": "any", "size": None}) == {"colour": "red"}
    with pytest.raises(InputError, match="no colour 'teal'"):
        check_description({"colour": "teal"})
    with pytest.raises(InputError, match="not a factor"):
        check_description({"texture": "rough"})
    with pytest.raises(InputError, match="at least one"):
        check_description({"colour": "any"})
    assert describe({"colour": "red", "shape": "star", "background": "gray"}) == "a red star on a gray background"
    assert describe({"size": "small"}) == "a small object"


# ------------------------------------------------------------------ census
def test_census_counts_valid_pictures_and_marks_heldout_cells():
    scenes = [Scene("red", "star", "small", "black", .5, .5, 7.0), Scene("blue", "circle", "large", "white", .5, .5, 16.0)]
    readings = read(np.stack([render(s) for s in scenes] + [np.full((64, 64, 3), 128, np.uint8)]))
    t = census(readings)
    assert (t["n"], t["valid"], t["invalid"]) == (3, 2, 1) and t["invalid_reasons"] == {"no object": 1}
    assert t["counts"][list(COLOURS).index("red")][SHAPES.index("star")] == 1
    assert t["heldout_count"] == 1 and t["invented"] == ["red star"]
    assert "blue circle" not in t["forgotten"] and "red circle" in t["forgotten"]
    assert len(t["forgotten"]) == 32 - len(HELDOUT) - 1
    assert sorted(t["heldout"]) == sorted(f"{c} {s}" for c, s in HELDOUT) and len(heldout_cells()) == 4
    lo, hi = t["ci"][list(COLOURS).index("red")][SHAPES.index("star")]
    assert lo < 0.5 < hi


def test_training_scenes_are_the_training_sets_own(monkeypatch, tmp_path):
    """training_pictures(n) draws the first n scenes and pictures of make_dataset(N, TRAINING_SEED), which the
    embedded models were trained on (training/diffusion.py, training/stylegan_label_free.py)."""
    import toyworld.data as data

    gan_training = (ROOT / "training" / "stylegan_label_free.py").read_text()
    assert f"N_TRAIN, TRAIN_SEED = {TRAINING_N:_}, {TRAINING_SEED}" in gan_training
    assert f"make_dataset({TRAINING_N:_}, seed={TRAINING_SEED})" in (ROOT / "training" / "diffusion.py").read_text()
    monkeypatch.setattr(data, "DATA_CACHE", tmp_path)
    ref = data.make_dataset(40, TRAINING_SEED)
    scenes, images = training_pictures(40)
    assert np.array_equal(images, ref["images"])
    assert [s.colour for s in scenes] == [data.arrays_to_scene(ref, i).colour for i in range(40)]


def test_census_of_rendered_training_scenes_reproduces_the_training_frequencies():
    scenes, images = training_pictures(150)
    judged, labelled = census(read(images)), census(scenes)
    assert judged["invalid"] == 0 and judged["counts"] == labelled["counts"]
    assert judged["heldout_count"] == 0 and judged["invented"] == []
    # the training frequencies themselves: every seen pair near 1/28 of the scenes, no held-out pair
    t = census(training_scenes(5600))
    shares = np.array(t["shares"], dtype=float)
    held = np.zeros_like(shares, dtype=bool)
    for c, s in heldout_cells():
        held[c, s] = True
    assert (shares[held] == 0).all()
    assert np.all(np.abs(shares[~held] * 28 - 1) < 0.3)


# ------------------------------------------------------------------ catalogue and search
def test_catalogue_round_trip(tmp_path):
    a = world_archive(20)
    cat = a.catalogue
    cat.thumbnails = a.pictures(cat.seeds)
    cat.h_maps = {3: (np.random.rand(len(cat), 2).astype(np.float32), np.zeros(8, np.float32),
                      np.eye(2, 8, dtype=np.float32))}
    back = Catalogue.load(cat.save(tmp_path / "cat"))
    assert back.thumbnails._pictures is None  # opening a catalogue does not decode its pictures
    for k in ("seeds", "labels", "valid", "match", "reasons", "thumbnails"):
        assert np.array_equal(getattr(back, k), getattr(cat, k)), k
    assert np.array_equal(back.h_maps[3][0], cat.h_maps[3][0]) and back.meta["kind"] == "world"
    assert back.census()["counts"] == cat.census()["counts"]
    assert (tmp_path / "cat.json").is_file() and (tmp_path / "cat.png").is_file()


def test_search_on_a_tiny_catalogue_finds_a_planted_code():
    a = world_archive()
    description = {"colour": "red", "shape": "star", "size": "small", "background": "black"}
    r = a.search(description, k=4)
    assert r.hit and r.results[0].seed == PLANTED and r.candidates == 1 and r.from_catalogue == 1
    assert reads_as(read(a.pictures([PLANTED]))[0], description)
    # a looser description: every result reads as it, cleanest silhouette first
    r = a.search({"shape": "circle"}, k=5)
    assert len(r.results) == 5 and all(f.matches and f.reading.shape == "circle" for f in r.results)
    matches = [f.reading.match for f in r.results]
    assert matches == sorted(matches, reverse=True)
    # nothing of the kind: the closest pictures, flagged
    r = world_archive(plant=False).search(description, k=3)
    assert not r.hit and len(r.results) == 3 and not any(f.matches for f in r.results)
    assert r.results[0].caption().endswith("(closest)")


def test_gan_search_moves_codes_along_w_directions(tiny_gan):
    """A tiny random GAN draws no valid scene: the search moves codes, finds none, and shows the closest."""
    from edits.archive import GANArchive, build_gan_catalogue

    from .conftest import random_w_directions

    cat = build_gan_catalogue(tiny_gan, 40)
    a = GANArchive(tiny_gan, random_w_directions(tiny_gan.w_dim), cat)
    r = a.search({"colour": "blue"}, k=3)
    assert len(r.results) == 3 and r.seconds < 10
    assert all(f.image.shape == (16, 16, 3) for f in r.results)
    points = a.map_points()
    assert points["coords"].shape == (40, 2) and len(points["pictures"]) == len(points["thumbnails"])
    xy, picture = a.locate(7)
    assert xy.shape == (2,) and picture.shape == (16, 16, 3)


def test_figures_draw():
    from edits.archive_figures import census_figure, map_figure

    a = world_archive(60)
    img = census_figure(a.catalogue.census(), "toy world")
    assert img.size[0] >= 400
    coords = np.random.default_rng(0).normal(size=(len(a.catalogue), 2))
    points = {"coords": coords, "labels": a.catalogue.labels, "valid": a.catalogue.valid, "thumbnails": np.arange(3),
              "pictures": a.pictures(a.catalogue.seeds[:3])}
    for f in ("colour", "shape", "size", "background"):
        assert map_figure(points, f, coords[0], points["pictures"][0], 0, "map").size[0] >= 400


# ------------------------------------------------------------------ the tab, in-process, through gradio_client
def test_archive_tab_answers_search_map_and_census(tiny_full_app):
    client = tiny_full_app
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/search", "/archive_map", "/census"} <= set(api)
    label = api["/search"]["parameters"][0]["parameter_default"]
    best, gallery, note = client.predict(label, "red", "any", "any", "any", api_name="/search")
    assert best and len(gallery) >= 1 and re.search(r"seed \d+", gallery[0]["caption"])
    assert "closest" in note  # the tiny random GAN draws no clean scene
    assert client.predict(label, "shape", 0, 7, api_name="/archive_map")
    with pytest.raises(Exception, match="offered values for 'Colour'"):  # demo.common.lenient_inputs
        client.predict(label, "teal", "any", "any", "any", api_name="/search")
    with pytest.raises(Exception, match="at least one"):
        client.predict(label, "any", "any", "any", "any", api_name="/search")
    image, text = client.predict("Training scenes", api_name="/census")
    shown = image.get("value") if isinstance(image, dict) else image  # (hidden: an update with no value)
    assert ("held-out pairs" in text) == (shown is not None), (image, text)


def test_a_diffusion_catalogue_keeps_h_at_steps_its_model_takes(tiny_model):
    """The h maps are taken at steps the model's default sampling has (any number of steps), not at fixed ones."""
    from edits.archive import build_diffusion_catalogue

    cat = build_diffusion_catalogue(tiny_model, 3)
    assert cat.h_maps and all(0 <= s < tiny_model.default_steps for s in cat.h_maps)
    assert max(cat.h_maps) == tiny_model.default_steps - 1


def test_a_diffusion_catalogue_drawn_with_other_steps_is_not_opened(tiny_model, tmp_path, monkeypatch):
    """A shipped catalogue holds pictures drawn with its steps; a model that draws with other steps now would show
    other pictures for the same seeds, so the catalogue is left closed (the app then offers no diffusion archive)."""
    import dataclasses

    import edits.archive as archive

    cat = archive.build_diffusion_catalogue(tiny_model, 2)
    cat.meta["fingerprint"] = "fp"
    name = Path(str(tiny_model.name)).name
    cat.save(tmp_path / name)
    monkeypatch.setattr(archive, "ARCHIVES", tmp_path)
    monkeypatch.setattr(archive, "diffusion_fingerprint", lambda model: "fp")
    assert archive.open_diffusion_archive(tiny_model) is not None
    other = dataclasses.replace(tiny_model, default_steps=tiny_model.default_steps + 1)
    assert archive.open_diffusion_archive(other) is None

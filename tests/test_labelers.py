import dataclasses

import numpy as np
import pytest
import torch

from edits.labelers import FACTORS, CLIPLabeler, ColourLabeler, CSVLabeler, ToyClassifierLabeler, colour_name
from toyworld.world import COLOURS, render, sample_scene

from .conftest import ROOT

CLASSIFIER = ROOT / "assets" / "classifier" / "model.safetensors"


def _renders(n, seed=11):
    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng, include_heldout=True) for _ in range(n)]
    return scenes, np.stack([render(s, i) for i, s in enumerate(scenes)])


def test_colour_names_of_the_palette():
    for name, rgb in COLOURS.items():
        assert colour_name(rgb) == name


def test_colour_names_match_the_reference_implementation():
    """Names that the hand-written RGB->HSV conversion (replaced by scikit-image's) gave, on random triples."""
    rgb = [(113, 137, 132), (87, 242, 94), (168, 95, 115), (252, 47, 161), (109, 172, 193), (84, 172, 174),
           (115, 31, 158), (13, 226, 217), (216, 2, 248), (250, 149, 211), (196, 201, 39), (12, 67, 53),
           (140, 217, 191), (110, 139, 160), (196, 31, 199), (47, 147, 127), (219, 194, 43), (138, 12, 27),
           (120, 221, 55), (35, 242, 112), (30, 150, 83), (81, 109, 107), (208, 227, 66), (116, 172, 138),
           (145, 248, 58), (70, 194, 229), (105, 92, 200), (79, 121, 225), (98, 16, 132), (221, 212, 211),
           (197, 229, 79), (15, 182, 61), (179, 198, 123), (111, 139, 1), (227, 177, 4), (204, 223, 249),
           (125, 38, 97), (64, 240, 215), (118, 23, 46), (70, 185, 115), (51, 107, 35), (138, 63, 222),
           (134, 161, 252), (167, 79, 151), (20, 53, 77), (115, 157, 252), (45, 232, 37), (196, 236, 136)]
    names = ("cyan green pink purple cyan cyan purple cyan purple pink yellow cyan green blue purple cyan yellow "
             "red green green green cyan yellow green green cyan blue blue purple pink green green green green "
             "yellow blue purple cyan red green green purple blue pink blue blue green green").split()
    assert [colour_name(c) for c in rgb] == names


def test_a_hue_exactly_on_a_bound_falls_on_it():
    # 70 degrees exactly: the first hue called green (the hand-written conversion gave 69.99999... and
    # yellow: it differed from the exact answer on 7709 of the 2^24 RGB triples, all on a bound)
    assert colour_name((10, 11, 5)) == "green"
    assert colour_name((100, 30, 0)) == "orange"  # 18 degrees exactly


def test_colour_labeler_reads_renders():
    scenes, imgs = _renders(300)
    pred = ColourLabeler()(imgs)
    acc = np.mean([p == s.colour for p, s in zip(pred, scenes)])
    assert acc >= 0.99


@pytest.mark.skipif(not CLASSIFIER.exists(), reason="classifier weights not in assets/ yet")
def test_classifier_reads_every_factor():
    scenes, imgs = _renders(400, seed=12)
    lab = ToyClassifierLabeler("shape")
    out = lab.predict(imgs)
    for factor in ("colour", "shape", "size", "background"):
        acc = np.mean([p == getattr(s, factor) for p, s in zip(out[factor][0], scenes)])
        assert acc >= 0.97, (factor, acc)
    assert lab(imgs[:3]) == out["shape"][0][:3]
    with pytest.raises(ValueError):
        ToyClassifierLabeler("mood")


@pytest.mark.skipif(not CLASSIFIER.exists(), reason="classifier weights not in assets/ yet")
def test_classifier_is_sure_of_scenes_and_unsure_of_hybrids():
    """The benchmarks count a sample as recognisable when every factor's probability is >= 0.9: the
    classifier must reach that on clean renders, small objects included, and not on a half-half blend of
    the same scene with another shape (a hybrid) or on noise."""
    scenes, imgs = _renders(160, seed=13)
    lab = ToyClassifierLabeler()
    out = lab.predict(imgs)
    sure = lab.sure(out)
    assert sure.mean() >= 0.97
    assert sure[[i for i, s in enumerate(scenes) if s.size == "small"]].mean() >= 0.95
    shapes = FACTORS["shape"]
    twins = np.stack([render(dataclasses.replace(s, shape=shapes[(shapes.index(s.shape) + 1) % len(shapes)]), i)
                      for i, s in enumerate(scenes)])
    hybrid = np.round((imgs.astype(float) + twins) / 2).astype(np.uint8)
    assert (lab.predict(hybrid)["shape"][1] >= 0.9).mean() <= 0.3
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 64, 3), dtype=np.uint8)
    assert (lab.predict(noise)["colour"][1] >= 0.9).mean() <= 0.1


def test_csv_labeler():
    lab = CSVLabeler("seed,label\n1,red\n2, blue\n\n3,red\n")
    assert lab.classes == ("blue", "red") and lab.seeds == [1, 2, 3]
    assert lab(None, seeds=[3, 2]) == ["red", "blue"]
    for bad in ["", "seed,label\n", "1\n", "1,red\nx,blue\n", "1,\n"]:
        with pytest.raises(ValueError):
            CSVLabeler(bad)
    with pytest.raises(ValueError):
        lab(None, seeds=[99])


def test_clip_labeler_with_tiny_random_clip(tmp_path):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    from toyworld.tokenizer import save_tokenizer
    from toyworld.world import VOCAB_WORDS

    save_tokenizer(VOCAB_WORDS, tmp_path, max_length=16)
    tok = CLIPTokenizer.from_pretrained(tmp_path)
    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_hidden_layers=1,
                         num_attention_heads=4, max_position_embeddings=16, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37,
                           num_hidden_layers=1, num_attention_heads=4),
        projection_dim=16,
    )
    proc = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                            crop_size={"height": 32, "width": 32}), tokenizer=tok)
    lab = CLIPLabeler(CLIPModel(cfg), proc, ["red", "blue", "green"], template="a {} shape")
    _, imgs = _renders(4)
    out = lab(imgs)
    assert len(out) == 4 and set(out) <= {"red", "blue", "green"}
    with pytest.raises(ValueError):
        CLIPLabeler(CLIPModel(cfg), proc, ["only-one"])

"""The Compare tab: one seed through the `compare` endpoint, and its measurements."""
import numpy as np
import pytest
from PIL import Image

from edits.compare import Column, factors_from_prompt, prompts_for, summarise
from edits.scores import score_edits
from edits.pipeline import InputError
from edits.metrics import same_picture

BASE = ("large", "red", "circle", "white", "")


def _img(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_compare_one_seed(tiny_full_app):
    out = tiny_full_app.predict(7, *BASE, "colour", "blue", api_name="/compare")
    assert len(out) == 10  # (before, after, badge) per method, then W's redrawing
    for i in range(3):
        orig, edited, badge = out[3 * i: 3 * i + 3]
        assert _img(orig).shape == _img(edited).shape
        assert "distance" in badge
    again = tiny_full_app.predict(7, *BASE, "colour", "blue", api_name="/compare")
    assert same_picture(_img(out[1]), _img(again[1]))  # the same seed gives the same edit


def test_one_starting_picture_for_three_columns(tiny_full_app):
    """The before of every column is the picture /generate draws for the base prompt with the colour unsaid,
    at the same seed and settings; the h-space tab's original is that picture too."""
    steps, guidance, negative = 6, 4.0, "a square"
    out = tiny_full_app.predict(5, *BASE, "colour", "blue", steps, guidance, negative, api_name="/compare")
    befores = [_img(out[3 * i]) for i in range(3)]
    prompt = "a large circle on a white background"  # the base scene, its colour (the attribute) unsaid
    shown = _img(tiny_full_app.predict(prompt, negative, 5, steps, guidance, api_name="/generate"))
    assert all(np.array_equal(b, shown) for b in befores)
    h_original, _ = tiny_full_app.predict(prompt, 5, "colour", "blue", 1.0, 0.2, 0.8, "asymmetric", "guided",
                                          steps, guidance, negative, api_name="/edit_h")
    assert np.array_equal(_img(h_original), shown)
    assert out[9] is not None  # the W column shows the starting picture brought into W


def test_compare_shape_target_without_h_direction(tiny_full_app):
    out = tiny_full_app.predict(7, *BASE, "shape", "square", api_name="/compare")
    assert "no h-space direction" in out[5]


@pytest.mark.parametrize("args, message", [
    ((7, *BASE, "colour", "chartreuse"), "not a colour"),
    ((7, "large", "red", "circle", "white", "a red blue circle", "colour", "blue"), "more than one"),
])
def test_compare_bad_input(tiny_full_app, args, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as e:
        tiny_full_app.predict(*args, api_name="/compare")
    assert message in str(e.value)


def test_compare_many_has_a_cap(tiny_full_app):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as e:
        tiny_full_app.predict(7, *BASE, "colour", "blue", 10_000, api_name="/compare_many")
    assert "maximum" in str(e.value) or "between" in str(e.value)


def test_prompts_and_factors():
    p = prompts_for({"size": "large", "colour": "red", "shape": "circle"}, "colour", "blue")
    assert p == {"before": "a large circle", "conditioning": "a large blue circle"}
    assert factors_from_prompt("A small yellow square on a grey background") == {
        "size": "small", "colour": "yellow", "shape": "square", "background": "gray"}
    with pytest.raises(InputError):
        factors_from_prompt("a red and blue star")


def _reading(colour, shape="circle", size="large", background="white"):
    return {"colour": colour, "shape": shape, "size": size, "background": background}


def test_summary_scores_clean_edits_and_counts_already_apart():
    def col(before, after, control=None):
        c = Column("conditioning", np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2, 3), np.uint8))
        c.score = score_edits([before], [after], "colour", "blue")[0]
        c.nothing = score_edits([before], [before], "colour", "blue")[0]
        c.control = None if control is None else score_edits([before], [control], "colour", "blue")[0]
        c.distance = 0.1
        return c

    empty = {"hspace": Column("hspace"), "wspace": Column("wspace")}
    rows = [{"conditioning": col(_reading("red"), _reading("blue"), _reading("red")), **empty},
            {"conditioning": col(_reading("red"), _reading("blue", "star"), _reading("blue")), **empty},
            {"conditioning": col(_reading("red"), _reading("red"), _reading("green")), **empty},
            {"conditioning": col(_reading("blue"), _reading("blue"), _reading("blue")), **empty}]
    s = summarise(rows)["conditioning"]
    assert (s["n"], s["already"]) == (3, 1)
    assert s["clean_edit_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["reached"] == pytest.approx(2 / 3, abs=1e-4) and s["kept"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["kept_given_reached"] == 0.5
    assert s["control_clean_edit_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["do_nothing_clean_edit_rate"] == 0.0
    assert summarise(rows)["hspace"]["clean_edit_rate"] is None


def test_heldout_case_sets_an_unseen_pair():
    from demo.compare import UNSAID, heldout_case

    attribute, target, colour, shape, prompt, scene = heldout_case("green square")
    assert scene["open"]
    assert attribute["value"] == "colour" and target["value"] == "green" and "green" in target["choices"]
    assert (colour, shape, prompt) == (UNSAID, "square", "")  # a square with its colour unsaid, made green


def test_heldout_sentence_quotes_its_file():
    from demo.compare import heldout_sentence

    assert "Not measured yet" in heldout_sentence({})
    m = {"rows_per_group": 12, **{k: {"clean_edit_rate_heldout": 0.125, "clean_edit_ci_heldout": [0.05, 0.3],
                                      "clean_edit_rate_seen": 0.875, "clean_edit_ci_seen": [0.6, 0.95]}
                                  for k in ("conditioning", "hspace", "wspace")}}
    text = heldout_sentence(m)
    assert "0.12 [0.05–0.30] against 0.88 [0.60–0.95]" in text and "over 12 starting pictures" in text


def test_heldout_benchmark_smoke(tiny_model, tiny_gan):
    """The held-out benchmark's measurement on 4 rows per group, with tiny random models: every method has
    both groups' numbers, every row is counted once, and the held-out rows ask for held-out pairs only."""
    from benchmarks.heldout import SEEN, measure, plan
    from tests.conftest import random_h_directions, random_w_directions
    from toyworld.world import HELDOUT

    seeds, bases, attrs, targets, names = plan(8, HELDOUT, 0)
    assert set(names) == {f"{c} {s}" for c, s in HELDOUT} and not set(SEEN) & set(HELDOUT)
    for b, a, t in zip(bases, attrs, targets):  # the pair is the base's said factor plus the target
        assert a not in b and tuple(sorted([b.get("colour") or t, b.get("shape") or t])) in {
            tuple(sorted(p)) for p in HELDOUT}
    h = random_h_directions(tiny_model, (("colour", ("red", "green", "blue", "pink")), ("shape", ("star",))))
    out = measure(tiny_model, tiny_model, h, tiny_gan, random_w_directions(tiny_gan.w_dim), 4, batch_size=4,
                  num_inference_steps=2)
    for m in ("conditioning", "hspace", "wspace"):
        for g in ("heldout", "seen"):
            s = out[m]
            assert {f"clean_edit_rate_{g}", f"clean_edit_ci_{g}", f"control_clean_edit_rate_{g}"} <= set(s)
    for g in ("heldout", "seen"):
        s = out["conditioning"]
        assert s[f"n_{g}"] + s[f"already_{g}"] + s[f"invalid_before_{g}"] == 4
    assert set(out["by_pair"]) == {f"{c} {s}" for c, s in HELDOUT}

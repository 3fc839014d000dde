"""The Compare tab: one seed through the `compare` endpoint, and its measurements."""
import numpy as np
import pytest
from PIL import Image

from edits.compare import Column, factors_from_prompt, prompts_for, summarise
from edits.pipeline import InputError
from edits.metrics import same_picture

BASE = ("large", "red", "circle", "white", "")


def _img(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_compare_one_seed(tiny_full_app):
    out = tiny_full_app.predict(7, *BASE, "colour", "blue", api_name="/compare")
    assert len(out) == 9
    for i in range(3):
        orig, edited, badge = out[3 * i: 3 * i + 3]
        assert _img(orig).shape == _img(edited).shape
        assert "distance" in badge
    again = tiny_full_app.predict(7, *BASE, "colour", "blue", api_name="/compare")
    assert same_picture(_img(out[1]), _img(again[1]))  # the same seed gives the same edit


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
    assert "blue" in p["conditioning"][1] and "red" in p["conditioning"][0]
    assert "red" not in p["hspace"][0] and "blue" not in p["hspace"][0]
    assert factors_from_prompt("A small yellow square on a grey background") == {
        "size": "small", "colour": "yellow", "shape": "square", "background": "gray"}
    with pytest.raises(InputError):
        factors_from_prompt("a red and blue star")


def test_summary_counts_only_real_changes():
    def col(already, reached, kept, dist):
        c = Column("conditioning", np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2, 3), np.uint8))
        c.already, c.reached, c.kept, c.distance = already, reached, kept, dist
        return c
    rows = [{"conditioning": col(False, True, True, 0.2), "hspace": Column("hspace"), "wspace": Column("wspace")},
            {"conditioning": col(False, False, True, 0.4), "hspace": Column("hspace"), "wspace": Column("wspace")},
            {"conditioning": col(True, True, False, 0.0), "hspace": Column("hspace"), "wspace": Column("wspace")}]
    s = summarise(rows)
    assert s["conditioning"] == {"success": 0.5, "preservation": 1.0, "distance": 0.2, "n": 2}
    assert s["hspace"]["success"] is None

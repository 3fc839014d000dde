"""The UI's small helpers, without a browser: first views, labels, walk limits, heatmap colours."""
import numpy as np
import pytest


def test_signed_never_writes_minus_zero():
    from demo.common import signed

    assert signed(-0.0001) == "0" and signed(0) == "0"
    assert signed(1) == "+1" and signed(-0.25) == "−0.25" and signed(1 / 3) == "+0.33"


def test_a_first_view_runs_once_per_seed_and_only_on_its_tab():
    from demo.common import FirstViews, lazy

    calls = []
    run = lazy("mine", lambda *a: calls.append(a) or ("picture", "note"), 2, FirstViews())
    # run(tab on show, seed, seed drawn, *the tab's inputs) -- the seed is among a tab's inputs
    skipped = run("other tab", 7, None, "a prompt", 7)
    assert calls == [] and len(skipped) == 3
    assert run("mine", 7, None, "a prompt", 7) == ["picture", "note", 7]
    assert len(calls) == 1
    run("mine", 7, 7, "a prompt", 7)  # drawn already for this seed: nothing runs
    assert len(calls) == 1
    assert run("mine", 8, 7, "a prompt", 8)[-1] == 8 and len(calls) == 2
    assert run("mine", 7, 8, "a prompt", 7) == ["picture", "note", 7] and len(calls) == 2  # shared


def test_first_views_are_shared_only_when_the_inputs_are_everyone_s():
    from demo.common import FirstViews

    assert FirstViews.key("h", ["a", 7, {}]) == ("h", "a", 7, ())
    assert FirstViews.key("h", ["a", 7, {"colour: x": object()}]) is None
    assert FirstViews.key("h", ["a", [1, 2]]) is None
    cache = FirstViews(size=2)
    for k in "abc":
        cache.put(k, k)
    assert cache.get("a") is None and cache.get("c") == "c"


def test_a_shared_first_view_survives_being_sent():
    """Gradio pops "value" out of a gr.update while sending it: the next visitor must still get the value
    (a shared census update once came back empty and the Archive tab never finished its first view)."""
    import gradio as gr

    from demo.common import FirstViews
    from gradio.blocks import postprocess_update_dict

    cache = FirstViews()
    cache.put("k", [gr.update(value="a census", visible=True), "text"])
    first = cache.get("k")
    postprocess_update_dict(gr.Markdown(), first[0])  # what sending it does to the dict
    assert cache.get("k")[0]["value"] == "a census"


def test_walk_controls_follow_the_kind_of_walk():
    from demo.explore import walk_limits
    from toyworld.settings import MAX_DIFFUSION_FRAMES, MAX_WALK_FRAMES

    d = walk_limits("diffusion-seeds")
    assert d["max_frames"] == MAX_DIFFUSION_FRAMES and d["frames"] <= MAX_DIFFUSION_FRAMES
    assert d["prompt"] and d["second_seed"] and not d["direction"]
    g = walk_limits("gan-direction")
    assert g["max_frames"] == MAX_WALK_FRAMES and g["direction"] and not g["second_seed"]
    assert g["prompt"]  # a W walk starts from the prompt's picture brought into W
    assert not walk_limits("gan-seeds")["prompt"]


@pytest.mark.parametrize("alike", ["high", "low"])
def test_heatmaps_draw_alike_in_red_whatever_they_measure(alike):
    from demo.plots import CELL, MARGIN, heatmap

    m = np.array([[1.0, -1.0], [-1.0, 1.0]]) if alike == "high" else np.array([[0.0, 100.0], [100.0, 0.0]])
    lo, hi = (-1.0, 1.0) if alike == "high" else (0.0, 100.0)
    img = np.asarray(heatmap(m, ["red", "blue"], "t", lo, hi, alike=alike).convert("RGB")).astype(int)
    top = 30 + MARGIN
    same = img[top + 3, MARGIN + 3]  # cell (0, 0): alike
    far = img[top + 3, MARGIN + CELL + 3]  # cell (0, 1): far apart
    assert same[0] > same[2] and far[2] > far[0]

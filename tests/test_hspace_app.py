"""The h-space tab through gradio_client, on an app built around the tiny random pipeline."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edits.directions import Direction
from tests.conftest import random_h_directions
from edits.metrics import same_picture


@pytest.fixture(scope="module")
def tiny_app(tiny_model):
    from gradio_client import Client

    import demo

    dirs = random_h_directions(tiny_model)
    blocks = demo.build(demo.Models(diffusion=tiny_model, h_directions=dirs))
    blocks.launch(prevent_thread_lock=True, quiet=True, **demo.launch_kwargs())
    try:
        yield Client(blocks.local_url, verbose=False)
    finally:
        blocks.close()


def _img(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_edit_h_returns_original_and_edited(tiny_app):
    orig, edited = tiny_app.predict("a large circle on a white background", 3, "colour", "blue", 20.0,
                                    api_name="/edit_h")
    a, b = _img(orig), _img(edited)
    assert a.shape == b.shape == (16, 16, 3)
    assert not same_picture(a, b)
    orig0, edited0 = tiny_app.predict("a large circle on a white background", 3, "colour", "blue", 0.0,
                                      api_name="/edit_h")
    assert same_picture(_img(orig0), _img(edited0))
    assert same_picture(_img(orig0), a)


@pytest.mark.parametrize("args, message", [
    (("a circle", 3, "mood", "happy", 5.0), "no h-space direction"),
    (("a circle", 3, "colour", "blue", 1e9), "Strength must be between"),
    (("a circle", -4, "colour", "blue", 5.0), "seed"),
    (("a circle", 3, "colour", "blue", 1.0, 0.5, 0.5), "empty"),
    (("a circle", 3, "colour", "blue", 1.0, 0.2, 0.8, "asymmetric", "sideways"), "offered values"),
])
def test_edit_h_bad_input(tiny_app, args, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as e:
        tiny_app.predict(*args, api_name="/edit_h")
    assert message.lower() in str(e.value).lower()
    assert len(tiny_app.predict("a circle", 3, "colour", "red", 2.0, api_name="/edit_h")) == 2


def test_fit_h_with_user_csv(tiny_app, tmp_path):
    from gradio_client import handle_file

    csv = tmp_path / "l.csv"
    csv.write_text("\n".join(f"{i},{'odd' if i % 2 else 'even'}" for i in range(16)))
    out = tiny_app.predict("a {colour} circle", "parity", "my CSV", 16, handle_file(str(csv)), api_name="/fit_h")
    plot, files, status = out[0], out[1], out[2]
    assert "Fitted 2 direction" in status
    assert len(files) == 2 and all(str(f).endswith(".safetensors") for f in files)
    loaded = Direction.load(files[0])
    assert loaded.meta["attribute"] == "parity" and loaded.meta["samples"] == 16


def test_fit_h_bad_input(tiny_app):
    from gradio_client.exceptions import AppError

    from toyworld.settings import MAX_FIT_SAMPLES

    with pytest.raises(AppError, match=f"between 16 and {MAX_FIT_SAMPLES}"):
        tiny_app.predict("a circle", "colour", "classifier", 100_000, None, api_name="/fit_h")
    with pytest.raises(AppError, match="placeholder"):
        tiny_app.predict("a {mood} circle", "colour", "classifier", 16, None, api_name="/fit_h")
    with pytest.raises(AppError, match="Upload a CSV"):
        tiny_app.predict("a circle", "colour", "my CSV", 16, None, api_name="/fit_h")


def test_fit_h_never_writes_outside_its_folder(tiny_app, tmp_path):
    """Class labels and the attribute are user text: they must never become file paths."""
    from gradio_client import handle_file

    target = tmp_path / "victim"
    target.mkdir()
    evil = "../" * 12 + str(target).lstrip("/") + "/pwned"
    csv = tmp_path / "evil.csv"
    csv.write_text("\n".join(f"{i},{evil if i % 2 else '../../x'}" for i in range(16)))
    out = tiny_app.predict("a {colour} circle", "../../" + evil, "my CSV", 16, handle_file(str(csv)),
                           api_name="/fit_h")
    assert "Fitted 2 direction" in out[2]
    assert list(target.iterdir()) == []
    assert all(Path(f).name in ("h_00.safetensors", "h_01.safetensors") for f in out[1])

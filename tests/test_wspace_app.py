"""The W-space tab through gradio_client, on an app built around the tiny random generators."""
import numpy as np
import pytest
from PIL import Image
from edits.metrics import same_picture



@pytest.fixture(scope="module")
def tiny_app(tiny_full_app):
    return tiny_full_app


def _img(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_edit_w_original_and_edited(tiny_app):
    orig, edited = tiny_app.predict(5, 0.7, "colour", "blue", 3.0, api_name="/edit_w")
    a, b = _img(orig), _img(edited)
    assert a.shape == b.shape == (16, 16, 3)
    assert not same_picture(a, b)
    orig0, edited0 = tiny_app.predict(5, 0.7, "colour", "blue", 0.0, api_name="/edit_w")
    assert same_picture(_img(orig0), _img(edited0)) and same_picture(_img(orig0), a)


@pytest.mark.parametrize("args, message", [
    ((5, 0.7, "mood", "happy", 1.0), "no w-space direction"),
    ((5, 0.7, "colour", "blue", 1e9), "between"),  # the app's own range check, not the slider's
    ((5, 7.0, "colour", "blue", 1.0), "between"),
    ((-5, 0.7, "colour", "blue", 1.0), "seed"),
])
def test_edit_w_bad_input(tiny_app, args, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as e:
        tiny_app.predict(*args, api_name="/edit_w")
    assert message in str(e.value).lower()
    assert len(tiny_app.predict(5, 0.7, "colour", "red", 1.0, api_name="/edit_w")) == 2  # still serving


def test_edit_w_other_attribute_through_the_api(tiny_app):
    orig, edited = tiny_app.predict(5, 0.7, "shape", "star", 2.0, api_name="/edit_w")
    assert not same_picture(_img(orig), _img(edited))


def test_embedded_gan_in_the_real_app(app_client):
    names = {e for e in app_client.view_api(print_info=False, return_format="dict")["named_endpoints"]}
    if "/edit_w" not in names:
        pytest.skip("the embedded StyleGAN is not in assets/ yet")
    orig, edited = app_client.predict(11, 0.7, "colour", "blue", 2.0, api_name="/edit_w")
    assert _img(orig).shape == (64, 64, 3) and not same_picture(_img(orig), _img(edited))

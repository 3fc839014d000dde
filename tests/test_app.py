"""The app launched in-process and called through gradio_client, as a workshop script would."""
import numpy as np
import pytest
from PIL import Image
from edits.metrics import same_picture


def _generate(client, prompt="a large red circle on a white background", seed=3, steps=8, guidance=5.0):
    path = client.predict(prompt, "", seed, steps, guidance, api_name="/generate")
    return np.asarray(Image.open(path).convert("RGB"))


def test_generate_endpoint_is_deterministic(app_client):
    a = _generate(app_client)
    b = _generate(app_client)
    assert a.shape == (64, 64, 3)
    assert same_picture(a, b)
    assert not same_picture(a, _generate(app_client, seed=4))


def test_empty_prompt_is_allowed(app_client):
    assert _generate(app_client, prompt="").shape == (64, 64, 3)


@pytest.mark.parametrize("args, message", [
    (dict(prompt="x" * 10_000), "characters long"),
    (dict(seed=-1), "seed"),
    (dict(seed=2**40), "seed"),
    (dict(seed="not a number"), "whole number"),  # the app's own check, not Gradio's preprocessing
    (dict(steps=-5), "Steps must be between 1 and 100"),
    (dict(steps=10_000), "Steps must be between 1 and 100"),
    (dict(guidance=-3.0), "Guidance scale must be between 0 and 30"),
    (dict(guidance=1e6), "Guidance scale must be between 0 and 30"),
])
def test_bad_input_gets_a_clear_message_and_the_app_keeps_serving(app_client, args, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as e:
        _generate(app_client, **args)
    text = str(e.value)
    assert "Traceback" not in text and "has not enabled verbose error reporting" not in text
    assert message.lower() in text.lower()
    assert _generate(app_client).shape == (64, 64, 3)  # still serving


def test_public_endpoints_are_named(app_client):
    names = set(app_client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert "/generate" in names


def test_edit_h_on_the_embedded_model(app_client):
    from .conftest import ROOT

    if not (ROOT / "assets" / "directions" / "h_colour_blue.safetensors").exists():
        pytest.skip("no shipped h-space directions yet")
    orig, edited = app_client.predict("a large circle on a white background", 5, "colour", "blue", 8.0,
                                      api_name="/edit_h")
    a, b = (np.asarray(Image.open(p).convert("RGB")) for p in (orig, edited))
    assert a.shape == b.shape == (64, 64, 3) and not same_picture(a, b)


def test_the_load_benchmarks_browser_like_client_gets_what_gradio_client_gets(app_client, tmp_path):
    """benchmarks.load's room phase reaches the server through Gradio's /call API, as a browser does; its
    pictures must be the ones gradio_client gets for the same calls, its errors errors."""
    from benchmarks.load import BrowserLikeClient

    url = app_client.src if app_client.src.endswith("/") else app_client.src + "/"
    light = BrowserLikeClient(url, BrowserLikeClient.api_info(url), tmp_path)
    path = light.predict("a large red circle on a white background", "", 3, 8, 5.0, api_name="/generate")
    assert same_picture(np.asarray(Image.open(path).convert("RGB")), _generate(app_client))
    pair = light.predict(5, 0.7, "colour", "blue", 1.0, api_name="/edit_w")  # trailing parameters at defaults
    ref = app_client.predict(5, 0.7, "colour", "blue", 1.0, api_name="/edit_w")
    assert len(pair) == 2
    for a, b in zip(pair, ref):
        assert same_picture(np.asarray(Image.open(a).convert("RGB")), np.asarray(Image.open(b).convert("RGB")))
    with pytest.raises(RuntimeError, match="error"):
        light.predict("a circle", "", -1, 8, 5.0, api_name="/generate")

"""Latent walks and the direction atlas through gradio_client (tiny random models)."""
import pytest
from PIL import Image

from .conftest import mp4_frames


def test_walk_writes_gif_and_mp4(tiny_full_app):
    gif, mp4, files = tiny_full_app.predict("StyleGAN: between two seeds", "", 3, 4, 5, "colour", "blue", 3, 8,
                                            api_name="/walk")
    with Image.open(gif) as im:
        assert im.n_frames == 5
    assert mp4_frames(mp4["video"] if isinstance(mp4, dict) else mp4)[0] == 5
    assert len(files) == 2


def test_diffusion_walk(tiny_full_app):
    gif, _, _ = tiny_full_app.predict("Diffusion: between two seeds", "a circle", 3, 4, 3, "colour", "blue", 3, 8,
                                      api_name="/walk")
    with Image.open(gif) as im:
        assert im.n_frames == 3


@pytest.mark.parametrize("args, message", [
    (("StyleGAN: between two seeds", "", 3, 3, 5), "two different seeds"),
    (("Diffusion: between two seeds", "a circle", 3, 4, 40), "at most"),
    (("StyleGAN: along a W direction", "", 3, 4, 5, "colour", "chartreuse"), "no direction"),
])
def test_walk_bad_input(tiny_full_app, args, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as e:
        tiny_full_app.predict(*args, api_name="/walk")
    assert message in str(e.value)


def test_atlas_endpoint(tiny_full_app):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as e:  # the tiny app has only two colour directions
        tiny_full_app.predict("W space (StyleGAN)", 0, api_name="/atlas")
    assert "fewer than three" in str(e.value)

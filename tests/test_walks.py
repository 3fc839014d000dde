"""Latent walks: interpolation, and valid GIF / MP4 files with the asked number of frames."""
import numpy as np
import pytest
import torch
from PIL import Image

from edits.pipeline import InputError
from edits.walks import MAX_FRAMES, check_frames, gan_walk, slerp, write_gif, write_mp4
from edits.metrics import same_picture

from .conftest import mp4_frames


def test_slerp_endpoints_and_norm():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert torch.allclose(slerp(a, b, 0.0), a) and torch.allclose(slerp(a, b, 1.0), b)
    assert slerp(a, b, 0.5).norm() == pytest.approx(1.0)
    assert torch.allclose(slerp(a, a, 0.3), a)


def _frames(n, size=64):
    return [np.full((size, size, 3), 10 * i, dtype=np.uint8) for i in range(n)]


def test_gif_and_mp4_have_the_asked_frames(tmp_path):
    gif = write_gif(_frames(5), tmp_path / "w.gif")
    with Image.open(gif) as im:
        assert im.n_frames == 5 and im.size == (256, 256)
    mp4 = write_mp4(_frames(6), tmp_path / "w.mp4")
    assert mp4_frames(mp4) == (6, (256, 256))


@pytest.mark.parametrize("n", [0, 1, MAX_FRAMES + 1, 2.5, float("nan"), "many"])
def test_bad_frame_counts(n):
    with pytest.raises(InputError):
        check_frames(n)


def test_gan_walk(tiny_gan):
    frames = gan_walk(tiny_gan, 1, 2, 4)
    assert len(frames) == 4 and not same_picture(frames[0], frames[-1])
    with pytest.raises(InputError):
        gan_walk(tiny_gan, 3, 3, 4)

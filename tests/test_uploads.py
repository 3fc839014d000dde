"""Uploaded pictures: PNG/JPEG read and resized; anything else refused with a plain message, in the app too."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from edits.pipeline import InputError
from edits.uploads import read_upload


def _png(img: Image.Image) -> bytes:
    b = io.BytesIO()
    img.save(b, "PNG")
    return b.getvalue()


def _png16_rgb(h=20, w=20) -> bytes:
    """A 16-bit RGB PNG (Pillow itself opens it as 8-bit RGB, silently)."""
    a = (np.random.default_rng(0).random((h, w, 3)) * 65535).astype(">u2")
    raw = b"".join(b"\x00" + a[i].tobytes() for i in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_png_and_jpeg_are_resized_to_the_model(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((100, 80, 3)) * 255).astype(np.uint8)).save(tmp_path / "a.jpg", "JPEG")
    out = read_upload(tmp_path / "a.jpg", 64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    rgba = read_upload(_png(Image.new("RGBA", (30, 30), (255, 0, 0, 0))), 16)  # transparent -> white
    assert rgba.shape == (16, 16, 3) and (rgba == 255).all()


@pytest.mark.parametrize("make, message", [
    (lambda: b"this is not a picture", "not a png or jpeg"),
    (lambda: _png(Image.new("RGB", (1, 1))), "only 1×1"),
    (lambda: _png(Image.new("L", (5000, 60))), "largest side"),
    (lambda: _png(Image.fromarray(np.zeros((20, 20), np.uint16))), "16 bits"),
    (lambda: _png16_rgb(), "16 bits"),
    (lambda: b"\x00" * (11 * 2**20), "larger than"),
    (lambda: None, "upload a picture"),
])
def test_bad_uploads_get_a_plain_message(make, message):
    with pytest.raises(InputError) as e:
        read_upload(make())
    assert message in str(e.value).lower()


def test_gif_is_refused(tmp_path):
    Image.new("RGB", (20, 20)).save(tmp_path / "a.gif", "GIF")
    with pytest.raises(InputError, match="PNG or JPEG"):
        read_upload(tmp_path / "a.gif")


def test_upload_through_the_app(tiny_full_app, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    good = tmp_path / "ok.png"
    Image.new("RGB", (40, 40), (200, 30, 30)).save(good)
    orig, edited = tiny_full_app.predict(handle_file(str(good)), "colour", "blue", 3.0, api_name="/edit_w_upload")
    assert np.asarray(Image.open(orig)).shape[:2] == (16, 16)
    for name, data in (("bad.png", b"not a picture"), ("one.png", _png(Image.new("RGB", (1, 1)))),
                       ("deep.png", _png16_rgb())):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(AppError):
            tiny_full_app.predict(handle_file(str(tmp_path / name)), "colour", "blue", 1.0, api_name="/edit_w_upload")
    assert len(tiny_full_app.predict(5, 0.7, "colour", "red", 1.0, api_name="/edit_w")) == 2  # still serving

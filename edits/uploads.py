"""A picture someone uploads, read safely: PNG or JPEG only, checked before it is decoded, made RGB and square.

    img = read_upload("photo.png", size=64)     # (64, 64, 3) uint8, or InputError with a plain message

Nothing here unpickles or executes anything: Pillow only parses the two formats allowed.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from .pipeline import InputError

MAX_BYTES = 10 * 1024 * 1024  # 10 MB
MAX_SIDE = 4096  # pixels; larger pictures are refused before they are decoded
MIN_SIDE = 8
FORMATS = ("PNG", "JPEG")
SIXTEEN_BIT = ("This PNG stores 16 bits per channel; save it with 8 bits per channel (ordinary RGB) and "
               "upload it again.")


def _open(source):
    from PIL import Image, UnidentifiedImageError

    if source is None:
        raise InputError("Upload a picture first (PNG or JPEG).")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise InputError("The uploaded file could not be found; please upload it again.")
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"The file is larger than {MAX_BYTES // 2**20} MB; upload a smaller picture.")
        data = path.read_bytes()
    elif isinstance(source, (bytes, bytearray)):
        if len(source) > MAX_BYTES:
            raise InputError(f"The file is larger than {MAX_BYTES // 2**20} MB; upload a smaller picture.")
        data = bytes(source)
    else:
        raise InputError("Upload a picture as a PNG or JPEG file.")
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 24 and data[24] > 8:  # IHDR bit depth
        raise InputError(SIXTEEN_BIT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
    except Image.DecompressionBombError:
        raise InputError(f"The picture is far too large; the largest side allowed is {MAX_SIDE} pixels.") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise InputError("This file is not a PNG or JPEG picture; upload one of those.") from None


def read_upload(source, size: int = 64) -> np.ndarray:
    """A PNG or JPEG (a path or bytes) -> (size, size, 3) uint8: centre-cropped to a square, resized by area.
    Refuses, with a message saying why: other formats and non-pictures, files over MAX_BYTES, sides over
    MAX_SIDE or under MIN_SIDE pixels, and 16-bit (or other high-depth) PNGs."""
    from PIL import Image

    img = _open(source)
    w, h = img.size
    if max(w, h) > MAX_SIDE:
        raise InputError(f"The picture is {w}×{h} pixels; the largest side allowed is {MAX_SIDE}. Shrink it first.")
    if min(w, h) < MIN_SIDE:
        raise InputError(f"The picture is only {w}×{h} pixels; it needs at least {MIN_SIDE} on each side.")
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F") or "16" in img.mode:
        raise InputError(SIXTEEN_BIT)
    try:
        img.load()
    except (OSError, ValueError, Image.DecompressionBombError):
        raise InputError("The picture could not be decoded; the file may be damaged.") from None
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    img = img.convert("RGB")
    side = min(img.size)
    left, top = (img.size[0] - side) // 2, (img.size[1] - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.uint8).copy()

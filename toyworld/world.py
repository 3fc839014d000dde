"""The toy world: procedural scenes with known, independent factors, and their captions.

A scene is one flat-coloured object (colour, shape, size, position) on a flat background.
Everything is deterministic from a seed, so a scene, its image and its caption can be
re-created anywhere, and every edit the demo makes can be measured against known factors.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

RESOLUTION = 64

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 35),
    "orange": (245, 135, 20),
    "yellow": (240, 215, 25),
    "green": (40, 165, 55),
    "cyan": (30, 200, 215),
    "blue": (35, 65, 220),
    "purple": (135, 45, 190),
    "pink": (245, 125, 190),
}
SHAPES = ("circle", "square", "triangle", "star")
SIZES = ("small", "medium", "large")
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "gray": (128, 128, 128),
    "beige": (225, 205, 165),
}
# Object "radius" in pixels at RESOLUTION=64, per size; the ranges do not overlap.
SIZE_RADIUS = {"small": (6.5, 8.0), "medium": (10.5, 12.5), "large": (15.5, 18.0)}
# How far each shape reaches from its centre, in radii (keeps every object inside the frame).
EXTENT = {"circle": 1.0, "square": 0.86 * 1.42, "triangle": 1.2, "star": 1.3}

# (colour, shape) pairs that never appear in any training image or caption, so that the
# benchmarks can ask whether conditioning composes what it never saw.
HELDOUT = (("red", "star"), ("green", "square"), ("blue", "triangle"), ("pink", "circle"))

FACTORS = {
    "colour": tuple(COLOURS),
    "shape": SHAPES,
    "size": SIZES,
    "background": tuple(BACKGROUNDS),
}


@dataclass(frozen=True)
class Scene:
    colour: str
    shape: str
    size: str
    background: str
    x: float  # object centre, fraction of the width (0..1)
    y: float  # object centre, fraction of the height (0..1)
    radius: float  # pixels at RESOLUTION

    def labels(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in FACTORS}

    def to_dict(self) -> dict:
        return asdict(self)


def placement_margin(radius, extent):
    """How far (a fraction of the side) an object's centre must stay from the edges: its reach (radius in
    pixels times the shape's extent) plus 1.5 pixels. Works on numbers, arrays and tensors alike."""
    return (radius * extent + 1.5) / RESOLUTION


def sample_scene(rng: np.random.Generator, include_heldout: bool = False, **fixed: str) -> Scene:
    """Draw a scene; factors given in `fixed` (e.g. colour="blue") are kept."""
    for name, value in fixed.items():
        if name not in FACTORS or value not in FACTORS[name]:
            raise ValueError(f"unknown {name!r} value {value!r}")
    while True:
        f = {k: fixed.get(k) or str(rng.choice(v)) for k, v in FACTORS.items()}
        if include_heldout or (f["colour"], f["shape"]) not in HELDOUT or (
            "colour" in fixed and "shape" in fixed
        ):
            break
    lo, hi = SIZE_RADIUS[f["size"]]
    radius = float(rng.uniform(lo, hi))
    margin = placement_margin(radius, EXTENT[f["shape"]])
    x, y = (float(v) for v in rng.uniform(margin, 1.0 - margin, size=2))
    return Scene(x=x, y=y, radius=radius, **f)


def _polygon(kind: str, cx: float, cy: float, r: float) -> np.ndarray:
    if kind == "square":
        s = 0.86 * r
        return np.array([[cx - s, cy - s], [cx + s, cy - s], [cx + s, cy + s], [cx - s, cy + s]])
    if kind == "triangle":
        R = 1.2 * r
        a = -np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        return np.stack([cx + R * np.cos(a), cy + 0.15 * r + R * np.sin(a)], 1)
    if kind == "star":
        R = 1.25 * r
        a = -np.pi / 2 + np.arange(10) * np.pi / 5
        rad = np.where(np.arange(10) % 2 == 0, R, 0.48 * R)
        return np.stack([cx + rad * np.cos(a), cy + 0.05 * r + rad * np.sin(a)], 1)
    raise ValueError(kind)


def _inside_polygon(px: np.ndarray, py: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule, vectorised over pixels."""
    inside = np.zeros(px.shape, dtype=bool)
    n = len(poly)
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        crosses = (y1 > py) != (y2 > py)
        xint = (x2 - x1) * (py - y1) / (y2 - y1 + 1e-12) + x1
        inside ^= crosses & (px < xint)
    return inside


def object_mask(scene: Scene, resolution: int = RESOLUTION, supersample: int = 2) -> np.ndarray:
    """Soft (anti-aliased) coverage of the object, float32 (H, W) in [0, 1]."""
    n = resolution * supersample
    scale = resolution / RESOLUTION
    c = (np.arange(n, dtype=np.float64) + 0.5) / supersample
    py, px = np.meshgrid(c, c, indexing="ij")
    cx, cy, r = scene.x * resolution, scene.y * resolution, scene.radius * scale
    if scene.shape == "circle":
        m = (px - cx) ** 2 + (py - cy) ** 2 <= r * r
    else:
        m = _inside_polygon(px, py, _polygon(scene.shape, cx, cy, r))
    m = m.reshape(resolution, supersample, resolution, supersample).mean(axis=(1, 3))
    return m.astype(np.float32)


def render(scene: Scene, seed: int = 0, resolution: int = RESOLUTION) -> np.ndarray:
    """RGB uint8 (H, W, 3). `seed` only jitters the exact shades a little."""
    rng = np.random.default_rng(seed)
    fg = np.clip(np.array(COLOURS[scene.colour]) + rng.integers(-10, 11, 3), 0, 255)
    bg = np.clip(np.array(BACKGROUNDS[scene.background]) + rng.integers(-6, 7, 3), 0, 255)
    m = object_mask(scene, resolution)[..., None]  # (H, W, 1)
    img = m * fg + (1.0 - m) * bg  # (H, W, 3)
    return np.round(img).astype(np.uint8)


# ---------------------------------------------------------------- captions
# Noun phrases and sentence frames; a caption names only the factors it keeps.
_NOUN_PHRASES = (  # weights favour the canonical order "size colour shape"
    ("{size} {colour} {shape}", 5), ("{colour} {size} {shape}", 1),
    ("{colour} {shape} , {size} ,", 1), ("{shape} that is {colour} and {size}", 1),
)
_FRAMES = (
    ("{np} on a {background} background", 5), ("{background} background with {np}", 1),
    ("{np} against {background}", 1), ("{np} over a {background} backdrop", 1),
    ("on a {background} background , {np}", 1), ("a picture of {np} on {background}", 1),
)
_DROP = {"colour": 0.3, "shape": 0.2, "size": 0.3, "background": 0.3}
EMPTY_CAPTION_RATE = 0.1


def _pick(options, rng):
    if rng is None:
        return options[0][0]
    w = np.array([o[1] for o in options], dtype=float)
    return options[int(rng.choice(len(options), p=w / w.sum()))][0]


def caption(scene: Scene, rng: np.random.Generator, keep: tuple[str, ...] | None = None) -> str:
    """A caption with varied phrasing; some factors are left unsaid (keep=None draws which).

    About one caption in ten is empty, which also trains the unconditional branch
    used by classifier-free guidance.
    """
    if keep is None:
        if rng.random() < EMPTY_CAPTION_RATE:
            return ""
        keep = tuple(k for k, p in _DROP.items() if rng.random() >= p)
    return phrase({k: getattr(scene, k) for k in keep}, rng)


def phrase(factors: dict[str, str], rng: np.random.Generator | None = None) -> str:
    """Words for the given factors only, e.g. {"shape": "circle", "background": "white"}.

    Without `rng` the canonical form is used: "a {size} {colour} {shape} on a {background} background".
    """
    if not factors:
        return ""
    noun = factors.get("shape") or ("shape" if rng is None or rng.random() < 0.7 else "object")
    np_text = _pick(_NOUN_PHRASES, rng)
    if "colour" not in factors or "size" not in factors:  # the short forms only
        np_text = "{size} {colour} {shape}"
    np_text = np_text.format(shape=noun, size=factors.get("size", ""), colour=factors.get("colour", ""))
    np_text = " ".join(np_text.split()).strip(" ,")
    np_text = ("an " if np_text[0] in "aeiou" else "a ") + np_text
    if "background" not in factors:
        return np_text
    text = _pick(_FRAMES, rng).format(np=np_text, background=factors["background"])
    return " ".join(text.split())


def prompt_for(size: str | None = None, colour: str | None = None, shape: str | None = None,
               background: str | None = None) -> str:
    """The canonical prompt: 'a {size} {colour} {shape} on a {background} background'."""
    f = {k: v for k, v in dict(size=size, colour=colour, shape=shape, background=background).items() if v}
    return phrase(f)


def _vocab() -> list[str]:
    words = set()
    for t, _ in _NOUN_PHRASES + _FRAMES:
        words |= set(re.sub(r"\{\w+\}", " ", t).split())
    extra = {"a", "an", "the", "object", "shape", "grey", "colour", "color", "in", "of", "and", "with"}
    return sorted(words | extra | set(COLOURS) | set(SHAPES) | set(SIZES) | set(BACKGROUNDS))


VOCAB_WORDS = _vocab()

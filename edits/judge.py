"""An independent judge of toy-world pictures: analysis-by-synthesis with the world's own renderer.

    from edits.judge import read, read_one
    r = read_one(image)              # Reading(colour='red', shape='star', size='small', background='gray', ...)
    r.labels(), r.valid, (r.x, r.y)  # factors, whether it is a toy-world scene, object centroid in pixels

What it reads, from the pixels of one picture (resized to 64 x 64 first):
- background: the median CIELAB colour of the frame's border, named by the nearest of the world's backgrounds;
- the object: pixels far (CIELAB distance) from that background colour; the largest connected component
  (scipy.ndimage.label) is the object, and a second sizeable one makes the scene invalid;
- colour: the median CIELAB colour of the object's interior, named by the nearest of the world's 8 colours;
  its spread (how far the interior pixels lie from that median) must be small for the scene to be valid;
- shape, size and position: the object's soft coverage (each pixel's position on the background-to-object
  colour line, which is how `toyworld.world.render` mixes them) is matched against silhouettes drawn by
  `toyworld.world.object_mask` itself: for each shape the radius follows from the coverage's area (area per
  r^2 is a per-shape constant measured on the renderer), the silhouette is placed so that its centroid falls
  on the coverage's (triangles and stars sit off their centre), a small grid of radii and half-pixel offsets
  refines it, and the soft IoU scores it. The best shape wins; the size is the fitted radius against the
  midpoints between `SIZE_RADIUS` ranges; x, y is the coverage's centroid.

Why it is independent: it has no learnt weights and no training data. It shares nothing with the fitting
labellers in edits/labelers.py (the toy classifier's CNN weights; ColourLabeler's HSV hue rules), and no
direction, readout or edit is fitted on it, so scoring an edit with it does not grade the fit with its own
yardstick. Its knowledge of the world is the world's definition: the palettes, `object_mask` and SIZE_RADIUS.

`valid` is honest: no object, two objects, a mixed colour, a colour or background off the palette (or halfway
between two of its names), a blob that matches no shape well (IoU below `MIN_MATCH`, or not clearly better than
another shape) or a radius the world never draws makes a picture invalid, and `reason` says which. The labels
are given all the same (the nearest names), so a caller may still look at them.

Speed: about 3 ms of one CPU thread per 64 x 64 picture once the silhouettes are cached (`python -m benchmarks
judge` measures it); the cache is bounded by the lattice of radii and quarter-pixel offsets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.color import rgb2lab

from toyworld.world import BACKGROUNDS, COLOURS, RESOLUTION, SHAPES, SIZE_RADIUS, Scene, object_mask

# ------------------------------------------------------------------ settings (CIELAB units are ΔE76)
MIN_OBJECT_DE = 12.0        # a pixel belongs to some object when this far from the background, at least ...
NOISE_FACTOR = 3.0          # ... and this many times the border's own 90th-percentile deviation
MIN_AREA = 30               # pixels: smaller components are specks, not objects (the smallest object is ~79)
SECOND_OBJECT_AREA = 20     # pixels: a second component this large makes the scene invalid ...
SECOND_OBJECT_FRACTION = 0.1  # ... when it is also this fraction of the main one
MAX_COLOUR_SPREAD = 12.0    # 80th percentile of the interior's distance to its median colour
MAX_COLOUR_DISTANCE = 30.0  # from the nearest palette colour (renders stay within 12) ...
MIN_COLOUR_MARGIN = 5.0     # ... and this much nearer to it than to the next one (renders: at least 12.6)
MAX_BACKGROUND_DISTANCE = 20.0  # from the nearest palette background (white and beige are 26 apart)
MIN_MATCH = 0.8             # soft IoU of the best silhouette (renders: at least 0.94) ...
MIN_SHAPE_MARGIN = 0.05     # ... ahead of the best other shape by this much (renders: at least 0.11)
RADIUS_RANGE = (5.0, 20.0)  # radii the world could have drawn, with some slack (it draws 6.5 .. 18)
RADIUS_STEP = 0.25          # the silhouette lattice: radius step (pixels) ...
OFFSET_STEP = 0.25          # ... and centre step (pixels)
MAX_CLIMB = 8               # refinement: hill-climbing steps on that lattice, at most
SHARPEN = 2.0               # soft threshold on coverage (1 = none); see _sharpen
PRUNE = 0.1                 # shapes whose starting IoU trails the best start by more are not refined
_PAD = 40                   # zero padding around the coverage map, so a silhouette window never leaves it

BACKGROUND_NAMES = tuple(BACKGROUNDS)
COLOUR_NAMES = tuple(COLOURS)
_BG_LAB = rgb2lab(np.array(list(BACKGROUNDS.values()), dtype=np.float64)[None] / 255.0)[0]  # (4, 3)
_FG_LAB = rgb2lab(np.array(list(COLOURS.values()), dtype=np.float64)[None] / 255.0)[0]  # (8, 3)
_EIGHT = np.ones((3, 3), dtype=bool)  # 8-connectivity
_YY, _XX = np.mgrid[0:RESOLUTION, 0:RESOLUTION] + 0.5  # pixel centres


def _size_thresholds() -> tuple[list[float], list[str]]:
    """Midpoints between consecutive SIZE_RADIUS ranges (they do not overlap) and the size names in order."""
    names = sorted(SIZE_RADIUS, key=lambda k: SIZE_RADIUS[k][0])
    cuts = [(SIZE_RADIUS[a][1] + SIZE_RADIUS[b][0]) / 2 for a, b in zip(names, names[1:])]
    return cuts, names


SIZE_CUTS, SIZE_NAMES = _size_thresholds()


def size_of(radius: float) -> str:
    return SIZE_NAMES[int(np.searchsorted(SIZE_CUTS, radius))]


@dataclass(frozen=True)
class Reading:
    colour: str | None      # one of FACTORS["colour"]; None when there is no object
    shape: str | None
    size: str | None
    background: str | None
    x: float                # object centroid, pixels of a 64 x 64 frame (nan when no object)
    y: float
    valid: bool             # one object, one palette colour, a shape match, a plausible radius
    reason: str = ""        # why not valid ("" when valid)
    match: float = 0.0      # soft IoU of the best silhouette (0..1)
    runner_up: float = 0.0  # soft IoU of the best silhouette of another shape
    radius: float = math.nan  # fitted radius, pixels
    centre_x: float = math.nan  # fitted shape centre (Scene.x * 64 convention; differs from x for triangle/star)
    centre_y: float = math.nan
    area: float = 0.0       # soft coverage of the object, pixels
    objects: int = 0        # sizeable components seen
    colour_spread: float = math.nan  # ΔE, 80th percentile of the interior's distance to its median
    colour_distance: float = math.nan  # ΔE from the interior's median to the named palette colour
    colour_margin: float = math.nan  # how much farther (ΔE) the next palette colour is
    background_distance: float = math.nan  # ΔE from the border's median to the named background

    def labels(self) -> dict[str, str | None]:
        return {"colour": self.colour, "shape": self.shape, "size": self.size, "background": self.background}


# ------------------------------------------------------------------ what the renderer tells us
@dataclass(frozen=True)
class ShapeConstants:
    area_per_r2: float  # silhouette area / radius^2
    centroid_dx: float  # silhouette centroid minus centre, in radii
    centroid_dy: float


@lru_cache(maxsize=None)
def shape_constants(shape: str) -> ShapeConstants:
    """Measured once on `object_mask`, drawn large (radius 80 px in a 256 px frame) so pixels do not matter."""
    res, r = 4 * RESOLUTION, 20.0
    m = object_mask(Scene("red", shape, "large", "white", 0.5, 0.5, r), resolution=res).astype(np.float64)
    rr = r * res / RESOLUTION
    yy, xx = np.mgrid[0:res, 0:res] + 0.5
    area = m.sum()
    return ShapeConstants(area / rr**2, ((m * xx).sum() / area - res / 2) / rr, ((m * yy).sum() / area - res / 2) / rr)


_PER = round(1 / OFFSET_STEP)  # lattice points per pixel
_R_MAX = int(math.ceil(RADIUS_RANGE[1] * 1.15 / RADIUS_STEP))  # largest radius index tried
_R_MIN = 4
_NEIGHBOURS = ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))


@lru_cache(maxsize=None)  # bounded by the lattice: 4 shapes x _R_MAX radii x _PER^2 phases
def _silhouette(shape: str, r_index: int, phase_x: int, phase_y: int) -> tuple[np.ndarray, int, int, float]:
    """The world's silhouette of radius r_index * RADIUS_STEP, centred at (32 + phase_x * OFFSET_STEP,
    32 + phase_y * OFFSET_STEP): (tight crop, its top and left relative to pixel 32, its area)."""
    c = RESOLUTION // 2
    scene = Scene("red", shape, "large", "white", (c + phase_x * OFFSET_STEP) / RESOLUTION,
                  (c + phase_y * OFFSET_STEP) / RESOLUTION, r_index * RADIUS_STEP)
    m = _sharpen(object_mask(scene))  # (64, 64) float32
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    crop = np.ascontiguousarray(m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
    return crop, int(rows[0]) - c, int(cols[0]) - c, float(crop.sum())


def _sharpen(coverage: np.ndarray) -> np.ndarray:
    """A soft threshold at half coverage: a ramp SHARPEN times steeper, applied alike to the picture's coverage
    and to the silhouettes, so that a blurred edge is read where it crosses one half."""
    return np.clip((coverage - 0.5) * SHARPEN + 0.5, 0.0, 1.0).astype(np.float32)


def _iou(padded: np.ndarray, total: float, shape: str, ri: int, cx: int, cy: int) -> float:
    """Soft IoU of a coverage map (padded by _PAD) with the silhouette of radius index ri centred at
    (cx, cy) lattice points (pixels / OFFSET_STEP)."""
    crop, top, left, s = _silhouette(shape, ri, cx % _PER, cy % _PER)
    y0, x0 = _PAD + cy // _PER + top, _PAD + cx // _PER + left
    inter = float(np.minimum(padded[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]], crop).sum())
    return inter / (total + s - inter)


def _start(total: float, mx: float, my: float, shape: str) -> tuple[int, int, int]:
    """Lattice point whose silhouette has the coverage's area and centroid."""
    k = shape_constants(shape)
    ri = min(max(round(math.sqrt(total / k.area_per_r2) / RADIUS_STEP), _R_MIN), _R_MAX)
    r = ri * RADIUS_STEP
    cx = min(max(mx - k.centroid_dx * r, 0.0), float(RESOLUTION))
    cy = min(max(my - k.centroid_dy * r, 0.0), float(RESOLUTION))
    return ri, round(cx / OFFSET_STEP), round(cy / OFFSET_STEP)


def _climb(padded: np.ndarray, total: float, shape: str, point: tuple[int, int, int],
           score: float) -> tuple[float, tuple[int, int, int]]:
    """Hill-climb the soft IoU over the lattice (one radius or offset step at a time) from `point`."""
    seen = {point}
    for _ in range(MAX_CLIMB):
        best, best_p = score, point
        for d in _NEIGHBOURS:
            p = (point[0] + d[0], point[1] + d[1], point[2] + d[2])
            if p in seen or not _R_MIN <= p[0] <= _R_MAX or not 0 <= p[1] <= RESOLUTION * _PER \
                    or not 0 <= p[2] <= RESOLUTION * _PER:
                continue
            seen.add(p)
            v = _iou(padded, total, shape, *p)
            if v > best:
                best, best_p = v, p
        if best_p == point:
            break
        score, point = best, best_p
    return score, point


def fit_shapes(coverage: np.ndarray) -> dict[str, tuple[float, float, float, float]]:
    """For every shape: (soft IoU, radius, centre x, centre y) of its best silhouette on a coverage map (64, 64).
    Shapes whose starting IoU trails the best start by more than PRUNE are not refined (their IoU is the start's)."""
    total = float(coverage.sum())
    mx, my = float((coverage * _XX).sum() / total), float((coverage * _YY).sum() / total)
    padded = np.pad(coverage, _PAD)
    starts = {s: _start(total, mx, my, s) for s in SHAPES}
    scores = {s: _iou(padded, total, s, *starts[s]) for s in SHAPES}
    top = max(scores.values())
    out = {}
    for s in SHAPES:
        score, p = (scores[s], starts[s]) if scores[s] < top - PRUNE else _climb(padded, total, s, starts[s], scores[s])
        out[s] = (score, p[0] * RADIUS_STEP, p[1] * OFFSET_STEP, p[2] * OFFSET_STEP)
    return out


# ------------------------------------------------------------------ input
def _as_frame(image) -> np.ndarray:
    """One picture as uint8 (64, 64, 3); other sizes are resized (box filter when shrinking)."""
    if isinstance(image, Image.Image):
        pil = image.convert("RGB")
    else:
        a = np.asarray(image)
        if a.ndim != 3 or a.shape[-1] not in (3, 4):
            raise ValueError(f"the judge reads (H, W, 3) pictures, not an array of shape {a.shape}")
        if a.dtype != np.uint8:
            if not np.issubdtype(a.dtype, np.floating) or a.min() < 0 or a.max() > 1:
                raise ValueError("the judge reads uint8 pictures, or floats in [0, 1]")
            a = np.round(a * 255.0).astype(np.uint8)
        a = a[..., :3]
        if a.shape[:2] == (RESOLUTION, RESOLUTION):
            return a
        pil = Image.fromarray(np.ascontiguousarray(a))
    if pil.size != (RESOLUTION, RESOLUTION):
        shrink = min(pil.size) >= RESOLUTION
        pil = pil.resize((RESOLUTION, RESOLUTION), Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR)
    return np.asarray(pil)


def _frames(images) -> np.ndarray:
    if isinstance(images, np.ndarray) and images.ndim == 4:
        if images.shape[1:] == (RESOLUTION, RESOLUTION, 3) and images.dtype == np.uint8:
            return images
        return np.stack([_as_frame(a) for a in images]) if len(images) else np.zeros((0, 64, 64, 3), np.uint8)
    frames = [_as_frame(im) for im in images]
    return np.stack(frames) if frames else np.zeros((0, RESOLUTION, RESOLUTION, 3), np.uint8)


# ------------------------------------------------------------------ reading
def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _nearest(lab: np.ndarray, palette: np.ndarray) -> tuple[int, float, float]:
    """(index of the nearest palette entry, its distance, how much farther the next one is)."""
    d = np.linalg.norm(palette - lab, axis=-1)
    i, j = np.argsort(d)[:2]
    return int(i), float(d[i]), float(d[j] - d[i])


def _read_frame(rgb: np.ndarray, lab: np.ndarray) -> Reading:
    """rgb uint8 (64, 64, 3), lab its CIELAB (64, 64, 3)."""
    border = _border(lab)
    bg_lab = np.median(border, axis=0)
    bi, bg_de, _ = _nearest(bg_lab, _BG_LAB)
    background = BACKGROUND_NAMES[bi]
    none = dict(colour=None, shape=None, size=None, background=background, x=math.nan, y=math.nan,
                background_distance=bg_de)

    d = np.linalg.norm(lab - bg_lab, axis=-1)  # (64, 64) ΔE from the background
    noise = float(np.percentile(np.linalg.norm(border - bg_lab, axis=-1), 90))
    labels, n = ndimage.label(d > max(MIN_OBJECT_DE, NOISE_FACTOR * noise), structure=_EIGHT)
    if n == 0:
        return Reading(valid=False, reason="no object", **none)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    main = int(sizes.argmax()) + 1
    if sizes[main - 1] < MIN_AREA:
        return Reading(valid=False, reason="no object", **none)
    big = sizes >= max(SECOND_OBJECT_AREA, SECOND_OBJECT_FRACTION * sizes[main - 1])
    objects = int(big.sum())
    component = labels == main

    # colour: the interior, at least 1.5 px (up to 3 px, or half the object's depth) from its edge
    depth = ndimage.distance_transform_edt(component)
    interior = depth >= max(1.5, min(3.0, 0.5 * float(depth.max())))
    if interior.sum() < 4:
        interior = component
    inner = lab[interior]
    fg_lab = np.median(inner, axis=0)
    spread = float(np.percentile(np.linalg.norm(inner - fg_lab, axis=-1), 80))
    ci, fg_de, fg_margin = _nearest(fg_lab, _FG_LAB)

    # soft coverage: where each pixel lies between the background's and the object's RGB (as render mixes)
    img = rgb.astype(np.float64)
    bg_rgb = np.median(_border(img), axis=0)
    fg_rgb = np.median(img[interior], axis=0)
    axis = fg_rgb - bg_rgb
    coverage = np.clip((img - bg_rgb) @ axis / max(float(axis @ axis), 1e-6), 0.0, 1.0)
    coverage *= ndimage.binary_dilation(component, _EIGHT, iterations=2)  # this object only
    coverage = _sharpen(coverage)
    area = float(coverage.sum())
    if area < 1.0:  # an object indistinguishable from the background in RGB
        return Reading(valid=False, reason="no object", **none)
    x, y = float((coverage * _XX).sum() / area), float((coverage * _YY).sum() / area)

    fits = fit_shapes(coverage)
    ranked = sorted(fits, key=lambda s: fits[s][0], reverse=True)
    shape = ranked[0]
    match, radius, cx, cy = fits[shape]

    reason = ""
    if objects > 1:
        reason = f"{objects} objects"
    elif spread > MAX_COLOUR_SPREAD:
        reason = "mixed colour"
    elif fg_de > MAX_COLOUR_DISTANCE:
        reason = "colour off the palette"
    elif fg_margin < MIN_COLOUR_MARGIN:
        reason = "colour between two names"
    elif bg_de > MAX_BACKGROUND_DISTANCE:
        reason = "background off the palette"
    elif match < MIN_MATCH:
        reason = "no shape matches"
    elif match - fits[ranked[1]][0] < MIN_SHAPE_MARGIN:
        reason = "shape between two names"
    elif not RADIUS_RANGE[0] <= radius <= RADIUS_RANGE[1]:
        reason = "size out of range"
    return Reading(colour=COLOUR_NAMES[ci], shape=shape, size=size_of(radius), background=background, x=x, y=y,
                   valid=not reason, reason=reason, match=match, runner_up=fits[ranked[1]][0], radius=radius,
                   centre_x=cx, centre_y=cy, area=area, objects=objects, colour_spread=spread,
                   colour_distance=fg_de, colour_margin=fg_margin, background_distance=bg_de)


def read(images) -> list[Reading]:
    """Readings of pictures: a uint8 (N, H, W, 3) array, or a list of PIL images / (H, W, 3) arrays, any size."""
    frames = _frames(images)  # (N, 64, 64, 3) uint8
    if not len(frames):
        return []
    lab = rgb2lab(frames.astype(np.float64) / 255.0)  # (N, 64, 64, 3)
    return [_read_frame(f, l) for f, l in zip(frames, lab)]


def valid_shares(images) -> dict[str, float]:
    """What share of pictures (as `read` takes them) the judge reads as a valid scene ("valid"), and as a valid
    scene of each shape (one key per shape): a generator that draws nothing but circles shows it here."""
    readings = read(images)
    n = max(1, len(readings))
    return {"valid": round(sum(r.valid for r in readings) / n, 4),
            **{shape: round(sum(r.valid and r.shape == shape for r in readings) / n, 4) for shape in SHAPES}}


def read_one(image) -> Reading:
    """The reading of one picture (PIL image or (H, W, 3) array)."""
    return read([image])[0]

"""Attribute labellers behind one interface: images in, one label per image out.

- `ColourLabeler`: the object's colour from pixels alone (no model).
- `ToyClassifierLabeler`: a small CNN trained on toy-world scenes (weights in assets/classifier).
- `CLIPLabeler`: zero-shot labels for real models, from class texts the user gives.
- `CSVLabeler`: labels the user supplies, one `seed,label` row each.

Every labeller exposes `classes` and `__call__(images, seeds=None) -> list[str]`, where
images are uint8 arrays (N, H, W, 3) or a list of PIL images.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from skimage.color import rgb2hsv
from torch import nn

from nets.classifier import ToyClassifier, load_classifier
from toyworld.settings import CLASSIFIER, MAX_CSV_CELL_CHARS, MAX_CSV_ROWS
from toyworld.world import FACTORS

from .pipeline import InputError, check_text, to_uint8

COLOUR_NAMES = FACTORS["colour"]


def as_uint8_batch(images) -> np.ndarray:
    """(N, H, W, 3) uint8 from a list of PIL images / arrays, or an array."""
    if isinstance(images, np.ndarray) and images.ndim == 4:
        arr = images
    else:
        arr = np.stack([np.asarray(im.convert("RGB") if hasattr(im, "convert") else im) for im in images])
    if arr.dtype != np.uint8:
        arr = to_uint8(arr) if arr.max() <= 1.0 else np.clip(np.round(arr), 0, 255).astype(np.uint8)
    return arr


# ------------------------------------------------------------ colour from pixels
def colour_name(rgb) -> str:
    """The nearest of the 8 toy-world colour names for one RGB triple (0..255)."""
    h, s, v = rgb2hsv(np.asarray(rgb, dtype=np.float64)[None] / 255.0)[0]  # each in 0..1
    h, s = round(h * 360.0, 6), round(s, 9)  # degrees; rounded so that a hue exactly on a bound is on it
    if 290 <= h < 345 and (s < 0.62 or v > 0.9 and s < 0.7):
        return "pink"
    if h >= 345 or h < 18:
        return "pink" if s < 0.55 else "red"
    if h < 40:
        return "orange"
    if h < 70:
        return "yellow"
    if h < 160:
        return "green"
    if h < 205:
        return "cyan"
    if h < 255:
        return "blue"
    if h < 290:
        return "purple"
    return "pink" if s < 0.62 else "purple"


def object_pixels(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mask (H, W), distance (H, W)) of one picture (H, W, 3): the background is the border's median colour; the
    object is what differs from it by more than 40 levels and half its 99th-percentile distance."""
    img = np.asarray(img, dtype=np.float64)
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    dist = np.linalg.norm(img - np.median(border, axis=0), axis=-1)
    return dist > max(40.0, np.percentile(dist, 99) * 0.5), dist


@dataclass
class ColourLabeler:
    """The object's colour from pixels: the background is the border's median colour; the
    object is what differs from it most; its median colour is mapped to a hue name."""

    name: str = "colour"
    attribute: str = "colour"
    classes: tuple[str, ...] = COLOUR_NAMES

    def object_rgb(self, img: np.ndarray) -> np.ndarray:
        img = img.astype(np.float64)
        mask, dist = object_pixels(img)
        if mask.sum() < 4:
            mask = dist >= np.percentile(dist, 98)
        return np.median(img[mask], axis=0)

    def __call__(self, images, seeds=None) -> list[str]:
        return [colour_name(self.object_rgb(im)) for im in as_uint8_batch(images)]


def to_model_input(images) -> torch.Tensor:
    arr = as_uint8_batch(images)
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (N, 3, H, W)
    if x.shape[-1] != 64 or x.shape[-2] != 64:
        x = nn.functional.interpolate(x, size=(64, 64), mode="bilinear", antialias=True, align_corners=False)
    return x


class ToyClassifierLabeler:
    """Labels one factor (or all, through `predict`) with the toy-world classifier."""

    name = "classifier"

    def __init__(self, attribute: str = "colour", folder: str | Path = CLASSIFIER,
                 model: ToyClassifier | None = None):
        self.model = model if model is not None else load_classifier(folder)
        if attribute not in self.model.factors:
            raise InputError(f"the classifier knows {', '.join(self.model.factors)}, not {attribute!r}")
        self.attribute = attribute
        self.classes = self.model.factors[attribute]

    @torch.no_grad()
    def predict(self, images, batch_size: int = 256) -> dict[str, tuple[list[str], np.ndarray]]:
        """For every factor: (labels, confidence of each label)."""
        x = to_model_input(images)
        out: dict[str, list] = {k: [] for k in self.model.factors}
        for i in range(0, len(x), batch_size):
            logits = self.model(x[i:i + batch_size])
            for k, v in logits.items():
                out[k].append(v.softmax(-1))
        res = {}
        for k, chunks in out.items():
            p = torch.cat(chunks)
            conf, idx = p.max(-1)
            res[k] = ([self.model.factors[k][j] for j in idx.tolist()], conf.numpy())
        return res

    def __call__(self, images, seeds=None) -> list[str]:
        return self.predict(images)[self.attribute][0]

    @staticmethod
    def sure(prediction: dict[str, tuple[list[str], np.ndarray]], threshold: float = 0.9) -> np.ndarray:
        """Per image, whether `predict`'s probability is >= threshold for every factor (what the benchmarks
        call a recognisable scene)."""
        return np.min(np.stack([conf for _, conf in prediction.values()]), axis=0) >= threshold


# ------------------------------------------------------------ CLIP zero-shot
class CLIPLabeler:
    """Zero-shot labels with a transformers `CLIPModel`: the class whose text matches best."""

    name = "clip"

    def __init__(self, model, processor, classes: list[str], attribute: str = "custom",
                 template: str = "a photo of a {} object"):
        classes = [c.strip() for c in classes if c and c.strip()]
        if len(classes) < 2:
            raise InputError("give at least two class names for CLIP to choose between")
        self.model, self.processor = model.eval(), processor
        self.classes, self.attribute, self.template = tuple(classes), attribute, template

    @torch.no_grad()
    def __call__(self, images, seeds=None) -> list[str]:
        from PIL import Image

        pil = [Image.fromarray(a) for a in as_uint8_batch(images)]
        texts = [self.template.format(c) for c in self.classes]
        inputs = self.processor(text=texts, images=pil, return_tensors="pt", padding=True)
        logits = self.model(**inputs).logits_per_image  # (N, C)
        return [self.classes[i] for i in logits.argmax(-1).tolist()]


# ------------------------------------------------------------ user-supplied labels
_SEED = re.compile(r"-?[0-9]+")  # ASCII digits only (str.isdigit also takes "²")


class CSVLabeler:
    """Labels the user supplies: a CSV with rows `seed,label` (a header row is allowed)."""

    name = "csv"

    def __init__(self, text: str, attribute: str = "custom", max_rows: int = MAX_CSV_ROWS):
        table: dict[int, str] = {}
        for i, row in enumerate(csv.reader(io.StringIO(text.replace("\0", "")))):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < 2:
                raise InputError(f"row {i + 1} of the CSV needs two columns: seed,label")
            if any(len(c) > MAX_CSV_CELL_CHARS for c in row[:2]):
                raise InputError(f"row {i + 1} of the CSV has a cell longer than {MAX_CSV_CELL_CHARS} characters")
            seed = row[0].strip()
            label = check_text(row[1], f"label in row {i + 1} of the CSV", MAX_CSV_CELL_CHARS)
            if not _SEED.fullmatch(seed):
                if i == 0:
                    continue  # header
                raise InputError(f"row {i + 1}: {seed!r} is not a whole-number seed")
            if not label:
                raise InputError(f"row {i + 1}: the label is empty")
            table[int(seed)] = label
            if len(table) > max_rows:
                raise InputError(f"the CSV has more than {max_rows} rows")
        if not table:
            raise InputError("the CSV holds no seed,label rows")
        self.table, self.attribute = table, attribute
        self.classes = tuple(sorted(set(table.values())))

    @property
    def seeds(self) -> list[int]:
        return sorted(self.table)

    def __call__(self, images, seeds=None) -> list[str]:
        if seeds is None:
            raise InputError("CSV labels need the seeds of the images")
        missing = [s for s in seeds if s not in self.table]
        if missing:
            raise InputError(f"the CSV has no label for seed {missing[0]}")
        return [self.table[s] for s in seeds]

"""Differentiable readers of a decoded picture: what a causal direction is fitted by (`causal.py`).

A reader maps pictures (B, 3, H, W) in [-1, 1] to a few features z (B, F), and those to log p(class | picture)
(B, K). The split lets `causal.py` take F backward passes through the network (F = 3 for colour) and turn
them into the gradient of every class's log-probability at once.

- `PaletteColourReader`: the object's soft mean colour against the toy world's 8 palette colours
  (`toyworld.world.COLOURS`); no learnt weights. The object is what stands out from the border's median
  colour (a soft mask); log p(k) = log_softmax(-|c - palette_k|^2 / temperature).
- `ClassifierReader`: one head of the toy-world CNN (`nets.classifier`, assets/classifier), the labeller that
  fitted the shipped shape directions; log p = log_softmax of its logits.

Neither is the judge (edits/judge.py): the judge reads CIELAB medians and fits the renderer's silhouettes,
and nothing here is fitted on its readings.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from toyworld.world import COLOURS


def _border(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, 4 * (W - 1)) the frame's border pixels."""
    return torch.cat([x[..., 0, :-1], x[..., :-1, -1], x[..., -1, 1:], x[..., 1:, 0]], -1)


def soft_object_mask(img: torch.Tensor, sharpness: float = 12.0, floor: float = 0.15) -> torch.Tensor:
    """(B, 1, H, W) in (0, 1): how far each pixel of `img` (B, 3, H, W), in [0, 1], stands from the border's median
    colour, against half the 99th percentile of that distance (at least `floor`); the threshold and the
    background are held fixed (no gradient): the reader reads the object, it does not move the background."""
    bg = _border(img).median(-1).values.detach()[..., None, None]  # (B, 3, 1, 1)
    d = (img - bg).norm(dim=1, keepdim=True)  # (B, 1, H, W)
    thr = (0.5 * d.detach().flatten(1).quantile(0.99, dim=1)).clamp_min(floor).view(-1, 1, 1, 1)
    return torch.sigmoid(sharpness * (d - thr) / thr)


class PaletteColourReader:
    """The object's soft mean colour (RGB in [0, 1]) against the palette."""

    attribute = "colour"
    name = "palette-colour"

    def __init__(self, temperature: float = 0.01):
        self.classes = tuple(COLOURS)
        self.palette = torch.tensor(list(COLOURS.values()), dtype=torch.float32) / 255.0  # (K, 3)
        self.temperature = temperature

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """image (B, 3, H, W) in [-1, 1] -> the object's mean colour (B, 3) in [0, 1]."""
        img = ((image.float() + 1) / 2).clamp(0, 1)
        m = soft_object_mask(img)  # (B, 1, H, W)
        return (m * img).sum((2, 3)) / m.sum((2, 3)).clamp_min(1e-6)

    def log_probs(self, z: torch.Tensor) -> torch.Tensor:
        d2 = ((z[:, None, :] - self.palette.to(z)) ** 2).sum(-1)  # (B, K)
        return torch.log_softmax(-d2 / self.temperature, 1)


class ClassifierReader:
    """One head of the toy-world classifier; its logits are the features."""

    name = "classifier"

    def __init__(self, attribute: str, model=None):
        from nets.classifier import load_classifier

        self.model = model if model is not None else load_classifier()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.attribute = attribute
        self.classes = tuple(self.model.factors[attribute])

    def features(self, image: torch.Tensor) -> torch.Tensor:
        x = image.float()
        if x.shape[-1] != 64 or x.shape[-2] != 64:
            x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False)
        return self.model(x)[self.attribute]  # (B, K)

    def log_probs(self, z: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(z, 1)


def make_reader(attribute: str, kind: str | None = None):
    """The reader a causal direction of `attribute` is fitted by: the palette for colour, else the classifier."""
    kind = kind or ("palette-colour" if attribute == "colour" else "classifier")
    if kind == "palette-colour":
        if attribute != "colour":
            raise ValueError("the palette reader reads colour only")
        return PaletteColourReader()
    if kind == "classifier":
        return ClassifierReader(attribute)
    raise ValueError(f"unknown reader {kind!r}: palette-colour or classifier")

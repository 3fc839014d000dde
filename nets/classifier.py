"""The toy-world classifier: a small CNN with one head per factor (used to label and to measure edits)."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from toyworld.settings import CLASSIFIER
from toyworld.world import FACTORS


class ToyClassifier(nn.Module):
    """A small CNN with one head per toy-world factor; input (N, 3, 64, 64) in [-1, 1]."""

    def __init__(self, factors: dict[str, tuple[str, ...]] = FACTORS, width: int = 32):
        super().__init__()
        self.factors = {k: tuple(v) for k, v in factors.items()}
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, 1, 1), nn.SiLU(),
            nn.Conv2d(w, w, 3, 2, 1), nn.SiLU(),  # 32x32
            nn.Conv2d(w, 2 * w, 3, 2, 1), nn.SiLU(),  # 16x16
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1), nn.SiLU(),  # 8x8
            nn.Conv2d(4 * w, 4 * w, 3, 2, 1), nn.SiLU(),  # 4x4
            nn.Flatten(), nn.Linear(4 * w * 16, 256), nn.SiLU(),
        )
        self.heads = nn.ModuleDict({k: nn.Linear(256, len(v)) for k, v in self.factors.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.features(x)  # (N, 256)
        return {k: head(f) for k, head in self.heads.items()}


def load_classifier(folder: str | Path = CLASSIFIER) -> ToyClassifier:
    from safetensors.torch import load_file

    folder = Path(folder)
    cfg = json.loads((folder / "config.json").read_text())
    model = ToyClassifier({k: tuple(v) for k, v in cfg["factors"].items()}, cfg.get("width", 32))
    model.load_state_dict({k: v.float() for k, v in load_file(folder / "model.safetensors").items()})
    return model.eval()

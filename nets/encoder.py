"""Image -> w: the encoder that brings a picture into a StyleGAN's W space (StyleGAN2's discriminator layout)."""
from __future__ import annotations

import math

import torch.nn as nn
import torch.nn.functional as F

from .stylegan import EqualConv2d, EqualLinear, StyleGANConfig, fused_lrelu


class DBlock(nn.Module):
    """Residual block: two 3x3 convs, then 2x average-pool downsampling (StyleGAN2's discriminator block)."""

    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.conv1 = EqualConv2d(in_ch, in_ch, 3, padding=1)
        self.conv2 = EqualConv2d(in_ch, out_ch, 3, padding=1)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x):
        y = fused_lrelu(self.conv1(x))
        y = F.avg_pool2d(fused_lrelu(self.conv2(y)), 2)
        return (y + F.avg_pool2d(self.skip(x), 2)) / math.sqrt(2)


class Encoder(nn.Module):
    """Image -> w: StyleGAN2's residual discriminator layout with `w_dim` outputs (training only)."""

    def __init__(self, cfg: StyleGANConfig):
        super().__init__()
        ch, r = cfg.channels, cfg.resolution
        self.from_rgb = EqualConv2d(cfg.img_channels, ch[r], 1)
        blocks = []
        while r > 4:
            blocks.append(DBlock(ch[r], ch[r // 2]))
            r //= 2
        self.blocks = nn.Sequential(*blocks)
        self.final_conv = EqualConv2d(ch[4], ch[4], 3, padding=1)
        self.fc1 = EqualLinear(ch[4] * 16, ch[4], activation=True)
        self.fc2 = EqualLinear(ch[4], cfg.w_dim)

    def forward(self, x):
        x = self.blocks(fused_lrelu(self.from_rgb(x)))  # (B, C, 4, 4)
        return self.fc2(self.fc1(fused_lrelu(self.final_conv(x)).flatten(1)))  # (B, w_dim)


ENCODER_FILE = "encoder.safetensors"  # a generator folder's encoder (config.json's "encoder" names it)


def save_encoder_weights(E: nn.Module, folder) -> str:
    """E's weights as fp16 safetensors in a generator folder; returns the file name for config.json's "encoder"."""
    from pathlib import Path

    from safetensors.torch import save_file

    save_file({k: v.detach().half().contiguous() for k, v in E.state_dict().items()}, str(Path(folder) / ENCODER_FILE),
              metadata={"format": "imagination-potentiality/stylegan-encoder@1"})
    return ENCODER_FILE


def load_encoder_weights(E: nn.Module, folder, name: str | None = None) -> bool:
    """A generator folder's encoder file into E (fp32); `name` defaults to the one config.json names, else
    ENCODER_FILE. False, E untouched, when the folder has none."""
    import json
    from pathlib import Path

    from safetensors.torch import load_file

    if folder is None:
        return False
    folder = Path(folder)
    if name is None:
        cfg = folder / "config.json"
        name = (json.loads(cfg.read_text()).get("encoder") if cfg.is_file() else None) or ENCODER_FILE
    if not (folder / name).is_file():
        return False
    E.load_state_dict({k: v.float() for k, v in load_file(str(folder / name)).items()})
    return True

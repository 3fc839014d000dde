"""A StyleGAN2-style residual discriminator in plain PyTorch (what training/stylegan_gan.py trains G against).

    d = Discriminator(DiscriminatorConfig())          # the default mirrors nets.stylegan.StyleGANConfig's channels
    logits = d(images)                                # (B, 3, 64, 64) in [-1, 1] -> (B, 1), real > fake

Layout of StyleGAN2's "resnet" discriminator: FromRGB at full resolution, then one residual block per
resolution (two 3x3 convolutions, an anti-aliased 2x downsampling with the [1,3,3,1] filter, a 1x1 skip,
the sum scaled by 1/sqrt(2)), down to 4x4, where a minibatch-standard-deviation feature is appended before
the last 3x3 convolution and two fully connected layers. Equalised learning rate throughout (the
generator's EqualConv2d / EqualLinear).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from .stylegan import EqualConv2d, EqualLinear, blur, check_pyramid, fused_lrelu, make_kernel


@dataclass
class DiscriminatorConfig:
    resolution: int = 64
    img_channels: int = 3
    channels: dict = field(default_factory=lambda: {4: 128, 8: 128, 16: 64, 32: 32, 64: 16})
    mbstd_group: int = 4  # samples per group of the minibatch-stddev feature (the batch must divide by it)
    mbstd_channels: int = 1  # stddev features appended at 4x4
    blur_kernel: tuple = (1, 3, 3, 1)
    # PacGAN (Lin et al. 2018): D judges `pack` pictures at once, stacked on the channels, so a generator that draws
    # the same kind of picture again and again is told apart from the varied real ones (against mode collapse).
    # The batch must divide by pack x mbstd_group; D gives one logit per pack.
    pack: int = 1

    def __post_init__(self):
        check_pyramid(self)


def downsample2x(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """FIR low-pass, then every other pixel: (B, C, 2H, 2W) -> (B, C, H, W)."""
    p = kernel.shape[0] - 2
    return blur(x, kernel, ((p + 1) // 2, p // 2 + 1))[:, :, ::2, ::2]


class ResBlock(nn.Module):
    """Two 3x3 convolutions and an anti-aliased 2x downsampling, beside a downsampled 1x1 skip."""

    def __init__(self, in_ch: int, out_ch: int, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.conv1 = EqualConv2d(in_ch, in_ch, 3, padding=1)
        self.conv2 = EqualConv2d(in_ch, out_ch, 3, padding=1)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False)
        self.register_buffer("kernel", make_kernel(blur_kernel), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = fused_lrelu(self.conv1(x))  # (B, in, H, W)
        y = fused_lrelu(self.conv2(downsample2x(y, self.kernel)))  # (B, out, H/2, W/2)
        s = self.skip(downsample2x(x, self.kernel))  # (B, out, H/2, W/2)
        return (y + s) / math.sqrt(2)


def minibatch_stddev(x: torch.Tensor, group: int, channels: int = 1) -> torch.Tensor:
    """x with `channels` more feature maps: the standard deviation of each feature across a group of samples,
    averaged over features and pixels (tells the discriminator how varied the batch is)."""
    b, c, h, w = x.shape
    g = min(group, b)
    if b % g:
        raise ValueError(f"minibatch stddev: batch {b} is not a multiple of the group size {g}")
    y = x.reshape(g, b // g, channels, c // channels, h, w)  # sample i sits in group i % (b // g)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (b/g, F, c/F, h, w)
    y = y.mean(dim=(2, 3, 4))  # (b/g, F)
    y = y.reshape(-1, channels, 1, 1).repeat(g, 1, h, w)  # (b, F, h, w)
    return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    def __init__(self, cfg: DiscriminatorConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or DiscriminatorConfig()
        ch, r = cfg.channels, cfg.resolution
        self.from_rgb = EqualConv2d(cfg.img_channels * cfg.pack, ch[r], 1)
        blocks = []
        while r > 4:
            blocks.append(ResBlock(ch[r], ch[r // 2], cfg.blur_kernel))
            r //= 2
        self.blocks = nn.Sequential(*blocks)
        self.final_conv = EqualConv2d(ch[4] + cfg.mbstd_channels, ch[4], 3, padding=1)
        self.fc = EqualLinear(ch[4] * 16, ch[4], activation=True)
        self.out = EqualLinear(ch[4], 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        b, c, h, w = img.shape
        if b % self.cfg.pack:
            raise ValueError(f"PacGAN: batch {b} is not a multiple of the pack {self.cfg.pack}")
        img = img.reshape(b // self.cfg.pack, c * self.cfg.pack, h, w)  # consecutive pictures stacked on channels
        x = self.blocks(fused_lrelu(self.from_rgb(img)))  # (B / pack, C4, 4, 4)
        x = minibatch_stddev(x, self.cfg.mbstd_group, self.cfg.mbstd_channels)  # (B, C4 + F, 4, 4)
        x = fused_lrelu(self.final_conv(x)).flatten(1)  # (B, C4 * 16)
        return self.out(self.fc(x))  # (B / pack, 1)

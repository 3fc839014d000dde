"""StyleSpace (Wu et al., CVPR 2021): the channel-wise style vectors s that the generator's affine layers make of w.

    from edits.stylespace import style_codes, style_layers
    s = style_codes(gan.generator, w)          # (B, S): every modulated conv's and ToRGB's style, concatenated

Every `ModulatedConv2d` (the styled convolutions and the ToRGB layers) scales its input channels by
`s = modulation(w_l)`, w_l being the W+ layer that feeds it. S is the concatenation of those vectors in the
order the synthesis runs them (conv1, to_rgb1, then per resolution: the upsampling conv, the conv, the ToRGB):
for the embedded 64 px generator 1088 channels.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from nets.stylegan import Generator, ModulatedConv2d


@dataclass(frozen=True)
class StyleLayer:
    """One modulated convolution: its module name, the W+ layer that feeds it, and where its channels sit in S."""

    name: str
    conv: ModulatedConv2d
    w_index: int
    start: int  # first channel in S
    channels: int

    @property
    def stop(self) -> int:
        return self.start + self.channels


def style_layers(generator: Generator) -> list[StyleLayer]:
    """The modulated convolutions in synthesis order, each with its W+ layer index (as `Generator.synthesis`
    reads w_plus: conv1 <- 0, to_rgb1 <- 1, then per resolution i, i + 1, i + 2 with i = 1, 3, 5, ...)."""
    order = [("conv1.conv", generator.conv1.conv, 0), ("to_rgb1.conv", generator.to_rgb1.conv, 1)]
    i = 1
    for k, rgb in enumerate(generator.to_rgbs):
        order += [(f"convs.{2 * k}.conv", generator.convs[2 * k].conv, i),
                  (f"convs.{2 * k + 1}.conv", generator.convs[2 * k + 1].conv, i + 1),
                  (f"to_rgbs.{k}.conv", rgb.conv, i + 2)]
        i += 2
    out, start = [], 0
    for name, conv, wi in order:
        out.append(StyleLayer(name, conv, wi, start, conv.in_ch))
        start += conv.in_ch
    return out


@torch.no_grad()
def style_codes(generator: Generator, w: torch.Tensor) -> torch.Tensor:
    """W (B, w_dim) or W+ (B, L, w_dim) -> S (B, S): each layer's `modulation(w_l)`, concatenated."""
    w_plus = generator.broadcast(w)  # (B, L, w_dim)
    return torch.cat([layer.conv.modulation(w_plus[:, layer.w_index]) for layer in style_layers(generator)], 1)

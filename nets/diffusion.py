"""Configurations of the embedded models, in one place (defaults visible at the top)."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel


@dataclass
class DiffusionConfig:
    resolution: int = 64
    latent_channels: int = 4
    vae_channels: tuple[int, ...] = (16, 32, 64)  # 64 -> 16 latents (two downsamples)
    # Four levels: the mid-block (h-space) sits at 2x2, so it sees the whole scene.
    unet_channels: tuple[int, ...] = (32, 64, 128, 128)
    unet_down: tuple[str, ...] = ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                  "CrossAttnDownBlock2D")
    text_hidden: int = 64
    text_layers: int = 2
    text_heads: int = 4
    max_length: int = 16
    beta_schedule: str = "scaled_linear"
    # "epsilon", "v_prediction" or "sample" (x0; the hourglass UNet's, see train.train_hourglass)
    prediction_type: str = "epsilon"
    extra: dict = field(default_factory=dict)

    @property
    def latent_size(self) -> int:
        return self.resolution // 2 ** (len(self.vae_channels) - 1)


def make_vae(cfg: DiffusionConfig) -> AutoencoderKL:
    n = len(cfg.vae_channels)
    return AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=cfg.vae_channels,
        # 4 groups: with one channel per group (16 groups on 16 channels) GroupNorm is an instance norm,
        # which normalises away each image's absolute colour (seen: yellow decoded as orange).
        layers_per_block=1, latent_channels=cfg.latent_channels, norm_num_groups=4,
        sample_size=cfg.resolution, mid_block_add_attention=False,
    )


def make_unet(cfg: DiffusionConfig) -> UNet2DConditionModel:
    up = tuple("UpBlock2D" if d == "DownBlock2D" else "CrossAttnUpBlock2D" for d in reversed(cfg.unet_down))
    return UNet2DConditionModel(
        sample_size=cfg.latent_size, in_channels=cfg.latent_channels, out_channels=cfg.latent_channels,
        layers_per_block=1, block_out_channels=cfg.unet_channels, down_block_types=cfg.unet_down,
        up_block_types=up, cross_attention_dim=cfg.text_hidden, attention_head_dim=4,
        norm_num_groups=8,  # at least 4 channels per group (see make_vae)
    )


def skip_inputs(unet: UNet2DConditionModel) -> list[tuple[torch.nn.Module, int]]:
    """(ResNet, first skip channel) of every up-block ResNet: its input is cat([hidden, skip]), and its
    `conv1` and `conv_shortcut` are the only weights that read the skip channels."""
    out, prev = [], unet.config.block_out_channels[-1]  # the mid-block's width enters the first up-block
    for block in unet.up_blocks:
        for j, r in enumerate(block.resnets):
            out.append((r, prev if j == 0 else r.conv1.out_channels))
        prev = block.resnets[-1].conv1.out_channels
    return out


@torch.no_grad()
def cut_skips(unet: UNet2DConditionModel, keep: int = 0) -> UNet2DConditionModel:
    """Zero every weight that reads a skip tensor, except in the last `keep` up-block ResNets (the last
    one reads `conv_in`'s output: the noisy input itself, for fine detail). With keep = 0 the UNet is an
    hourglass whose decoder half sees the input only through the mid-block output (h) -- plus the text,
    the timestep, and a GroupNorm group that straddles hidden and skip channels in four ResNets.
    The weights stay a standard UNet's."""
    inputs = skip_inputs(unet)
    for r, first in inputs[:len(inputs) - keep]:
        r.conv1.weight[:, first:] = 0
        r.conv_shortcut.weight[:, first:] = 0
    return unet


def make_text_encoder(cfg: DiffusionConfig, vocab_size: int) -> CLIPTextModel:
    return CLIPTextModel(CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=cfg.text_hidden, intermediate_size=2 * cfg.text_hidden,
        num_hidden_layers=cfg.text_layers, num_attention_heads=cfg.text_heads,
        max_position_embeddings=cfg.max_length, bos_token_id=0, eos_token_id=1, pad_token_id=1,
        projection_dim=cfg.text_hidden,
    ))


def make_schedulers(cfg: DiffusionConfig) -> tuple[DDPMScheduler, DDIMScheduler]:
    common = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                  beta_schedule=cfg.beta_schedule, prediction_type=cfg.prediction_type)
    return DDPMScheduler(**common), DDIMScheduler(
        **common, clip_sample=False, set_alpha_to_one=False, steps_offset=1, timestep_spacing="trailing")

"""Train the embedded models on the toy world.

    python -m training classifier   # attribute classifier -> assets/classifier
    python -m training vae          # autoencoder (first stage of the diffusion model)
    python -m training diffusion    # text encoder + UNet on VAE latents -> assets/toy-diffusion
    python -m training hourglass    # skips cut, x0-prediction -> assets/toy-diffusion-hourglass (h-space)
    python -m training decoder      # sharpen the VAE decoder (encoder frozen); then `export`
    python -m training export       # re-export the last diffusion checkpoint with the sharpened VAE
    python -m training stylegan     # StyleGAN, labels used in training -> assets/toy-stylegan-labelled
    python -m training.stylegan_label_free train|export   # the StyleGAN learnt from pictures alone
    python -m training.stylegan_gan train|snapshot|export # StyleGAN2 trained as a GAN on pictures alone
    python -m training.stylegan_encoder --gan FOLDER        # an encoder for a trained generator, pictures alone
    python -m training all          # all of them, in order

Each run checkpoints to runs/ every few hundred steps and resumes from there when restarted.
Only final (EMA) weights go to assets/, as fp16 safetensors.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from nets.diffusion import DiffusionConfig

from .classifier import train_classifier
from .common import RUNS, log
from .diffusion import export_final, finetune_decoder, train_diffusion, train_hourglass, train_vae


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["classifier", "vae", "decoder", "diffusion", "hourglass", "stylegan", "export",
                                    "all"])
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the shipped recipe)")
    p.add_argument("--out", type=Path, default=None, help="classifier only: where to write it (default: assets/classifier)")
    a = p.parse_args(argv)
    cfg = DiffusionConfig()
    kw = {} if a.steps is None else {"steps": a.steps}
    if a.what in ("classifier", "all"):
        train_classifier(**kw, out_dir=a.out)
    if a.what in ("vae", "all"):
        if not (RUNS / "vae" / "metrics.json").exists() or a.what == "vae":
            train_vae(cfg, **kw)
    if a.what in ("decoder", "all"):
        finetune_decoder(**kw)
    if a.what in ("diffusion", "all"):
        train_diffusion(cfg, **kw)
    if a.what in ("hourglass", "all"):
        train_hourglass(cfg, **kw)
    if a.what == "export":
        export_final(cfg)
    if a.what in ("stylegan", "all"):
        from .stylegan_labelled import train_stylegan

        train_stylegan(log=log, **kw)


if __name__ == "__main__":
    main()

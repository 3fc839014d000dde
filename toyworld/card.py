"""Write an embedded model's card (README.md) from its training record and measurements.

    python -m toyworld.card assets/toy-diffusion [benchmark-output.txt ...]
    python -m toyworld.card assets/toy-stylegan [benchmark-output.txt ...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .models import DiffusionConfig
from .world import HELDOUT


def write_card(folder: Path, measured: list[dict]) -> str:
    t = json.loads((folder / "training.json").read_text())
    cfg = DiffusionConfig()
    vae = t.get("vae", {})
    decoder = (f"\n  Decoder sharpened afterwards with the encoder frozen: {vae['decoder_finetune_steps']} steps, "
               f"{vae.get('decoder_finetune_wall_s')} s." if vae.get("decoder_finetune_steps") else "")
    note = t.get("note", "")
    rows = _rows(measured)
    text = f"""# toy-diffusion: a small latent text-to-image diffusion model of the toy world

A standard diffusers `StableDiffusionPipeline` folder (VAE, CLIP text encoder + tokenizer,
cross-attention UNet, DDIM scheduler, `model_index.json`), trained from scratch by this project on
procedurally rendered toy-world scenes, so exactly the same code loads it and a Hub model.

## Architecture
- VAE (`AutoencoderKL`): 64×64×3 ↔ {cfg.latent_size}×{cfg.latent_size}×{cfg.latent_channels}, channels {cfg.vae_channels}, one
  ResNet per block, no attention, GroupNorm with 4 groups (one channel per group would be an
  instance norm that normalises each image's colour away).
- Text encoder: `CLIPTextModel`, {cfg.text_layers} layers, width {cfg.text_hidden}, {cfg.max_length} tokens; tokenizer: a
  `CLIPTokenizer` whose BPE vocabulary makes every toy-world word one token (unknown words fall back to
  letters).
- UNet (`UNet2DConditionModel`, {t.get('unet_params_M')} M parameters): channels {cfg.unet_channels}, blocks {cfg.unet_down},
  one ResNet per block, GroupNorm with 8 groups. **The mid-block (h-space) sits at 2×2**: four levels,
  so the bottleneck sees the whole scene. Even so its skip connections carry the decisions around it, and
  h-space edits change nothing here (`../directions/FINDINGS.md`); the h-space tab edits the sibling
  `../toy-diffusion-hourglass`, this model with its skips cut.
- Scheduler: DDPM `scaled_linear` betas (0.00085–0.012, 1000 steps) for training; DDIM with
  `trailing` spacing for sampling (25 steps by default, guidance 5).

## Data
40 000 scenes rendered once (seed 3): object colour (8), shape (4), size (3), position (continuous),
background (4, never the object's colour). Captions are drawn afresh at every step with varied
phrasing and word order; each factor is left unsaid with probability 0.2–0.3, and one caption in ten is
empty (which also trains the unconditional branch for classifier-free guidance). The (colour, shape)
pairs {', '.join(f'{c} {s}' for c, s in HELDOUT)} never appear in training.

## Training (`python -m toyworld.train vae`, then `decoder`, then `diffusion`; resumable)
- VAE: {vae.get('steps')} steps at batch 32, AdamW lr 1e-3 (cosine), L1 + L2 with object pixels weighted 9×,
  decoding the posterior mean (an autoencoder with KL weight 1e-6); {vae.get('wall_s')} s.{decoder}
  Held-out reconstruction error {vae.get('test_l1_255')}/255 (mean absolute, 1000 scenes).
- UNet + text encoder: {t.get('steps')} steps at batch {t.get('batch')}, AdamW lr {t.get('lr')} with warm-up and cosine decay,
  min-SNR-5 weighting, gradient clipping 1.0, EMA 0.999 (the EMA weights are shipped);
  fp32 on 2 CPU cores (this CPU has no bf16 support: autocast to bf16 was 30× slower);
  {t.get('diffusion_wall_s')} s. Final loss (mean of the last 50 steps): {t.get('final_loss_50')}.{note}
- Weights are fp16 safetensors.

## Measured (`python -m benchmarks ...`, this 2-core CPU)
| benchmark | last line |
|---|---|
{rows}
"""
    (folder / "README.md").write_text(text)
    return text


def _rows(measured: list[dict]) -> str:
    return "\n".join(f"| `{m.get('benchmark', '?')}` | `{json.dumps({k: v for k, v in m.items() if k != 'sweep'})}` |"
                     for m in measured)


def write_gan_card(folder: Path, measured: list[dict]) -> str:
    import dataclasses

    from edits.stylegan import StyleGANConfig

    t = json.loads((folder / "training.json").read_text())
    cfg = json.loads((folder / "config.json").read_text())
    defaults = {f.name for f in dataclasses.fields(StyleGANConfig)}
    arch = ", ".join(f"{k}={cfg[k]}" for k in sorted(defaults) if k in cfg)
    note = t.get("note", "")
    text = f"""# toy-stylegan: a StyleGAN2-style generator of the toy world

`edits/stylegan.py` in plain PyTorch (no custom ops): a mapping network z → w ({cfg['n_mlp']} layers, learning-rate
multiplier {cfg['lr_mlp']}, tracked `w_avg`), synthesis from a learned 4×4 constant through modulated /
demodulated 3×3 convolutions (transposed-convolution upsampling + [1,3,3,1] blur), per-layer noise (fixed
buffers at inference, so an image is a function of w alone), ToRGB skips; {cfg['resolution'] and (2 * (cfg['resolution'].bit_length() - 1) - 2)} style layers (W+).
Config: {arch}. Generator {t.get('g_params_M')} M parameters (discriminator {t.get('d_params_M')} M, not shipped).

## Pixels or latents? (measured before training, this 2-core CPU)
The synthesis network writes the **4×16×16 latents of the toy diffusion model's VAE** (scaled by its scaling
factor, as the UNet sees them), and that VAE's decoder (`../toy-diffusion/vae`) turns them into 64×64 pixels.
One generator + discriminator forward/backward pass at batch 32, one thread, measured on latents: 0.94 s with
channels 128/128/64 and the grouped ("fused") modulated convolution, 0.51 s after replacing it by the equivalent
per-sample scaling of activations, 0.23 s with channels 128/64/32 (shipped); a training step (D and G updates)
then took 0.40 s. The pixel-space option was not timed: it needs two more resolutions (32 and 64) whose layers
alone cost 4× and 16× the 16×16 layer's work at equal width, i.e. well over 3 hours for the same number of
steps on these cores. Decoding to pixels is included in the W-space edit time below (`edit_w_ms`).

## Training (`python -m toyworld.train stylegan`; resumable, checkpoints in runs/)
Data: the 40 000 training latents of the diffusion model (the same scenes; the held-out colour/shape pairs never appear).
Loss: non-saturating logistic GAN loss, lazy R1 (γ = {t.get('r1_gamma')}, every 16 steps), style mixing
(p = {t.get('style_mixing')}), Adam (lr {t.get('lr')}, β = (0, 0.99)), batch {t.get('batch')}, EMA generator (shipped), fp32.{note}

**Plus an autoencoding path** (weights: reconstruction {t.get('rec_weight')}, MMD {t.get('mmd_weight')}). The plain GAN was
trained first, for 3000 steps (21 min on one core): its samples were colour blobs, often several colours per
object, and over 500 samples the classifier was confident (≥ 0.9 on every factor) on 0.61 of them, with green at
0.3× its training frequency. So training went on from those weights with an encoder E (the discriminator's
architecture, 128 outputs) that maps real latents to w, a reconstruction loss (the synthesis network must redraw
the real latent from E's w, MSE) and a maximum-mean-discrepancy loss between the mapping network's w and E's w
(both ways), so that sampled codes land where real scenes' codes are. It is still a GAN (the adversarial loss and
the discriminator stay), with W shaped by real scenes as in an adversarial autoencoder. The step count below
counts the autoencoding phase only; the wall time includes both phases.

Steps: {t.get('steps')}; total wall time {t.get('wall_s')} s. Final losses (mean of the last 50 steps): D {t.get('final_d_loss_50')},
G {t.get('final_g_loss_50')}, reconstruction MSE {t.get('final_rec_50')}.

## Measured (`python -m benchmarks ...`, this 2-core CPU)
| benchmark | last line |
|---|---|
{_rows(measured)}
"""
    (folder / "README.md").write_text(text)
    return text


def write_hourglass_card(folder: Path, measured: list[dict]) -> str:
    t = json.loads((folder / "training.json").read_text())
    text = f"""# toy-diffusion-hourglass: the toy diffusion model with its skip connections cut

The model that the **h-space** edits move (the Imagination tab uses `../toy-diffusion`). A standard
diffusers `StableDiffusionPipeline` folder with the same VAE, tokenizer and architecture as
`../toy-diffusion`, so any SD-family code loads it. What differs is in the weights and the scheduler:

- **Skips cut.** Every weight of the UNet that reads a skip tensor is zero (`toyworld.models.cut_skips`),
  except in the last up-block ResNet, which reads `conv_in`'s output (the noisy input, for fine detail).
  So the decoder half of the UNet learns of the noisy latent only through the mid-block output, h
  (and through conv_in's features at full resolution, which see a 5×5 neighbourhood). Why:
  `../directions/FINDINGS.md` — with all skips, an unsaid colour is decided by the starting noise at the
  object's pixels, carried around the bottleneck, and no push on h changed it.
- **x0-prediction** (`prediction_type="sample"`): a decoder that sees its input only through a 2×2
  bottleneck cannot predict the noise itself, so it predicts the clean latent.

## Training (`python -m toyworld.train hourglass`; resumable, runs/diffusion_x.ckpt)
Fine-tuned from `../toy-diffusion`'s weights (UNet and text encoder), on the same 40 000 scenes and captions,
batch {t.get('batch')}, AdamW lr {t.get('lr')} (warm-up, cosine), min-SNR-5 weighting in x0 form, gradient clipping 1.0,
EMA weights shipped, fp32 on 2 CPU cores. {t.get('steps')} steps; {t.get('diffusion_wall_s')} s.
Final loss (mean of the last 50 steps): {t.get('final_loss_50')}.{t.get('note', '')}

## Measured (`python -m benchmarks ...`, this 2-core CPU)
| benchmark | last line |
|---|---|
{_rows(measured)}
"""
    (folder / "README.md").write_text(text)
    return text


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    measured = [json.loads(Path(p).read_text().strip().splitlines()[-1]) for p in sys.argv[2:]]
    if (folder / "generator.safetensors").exists():
        print(write_gan_card(folder, measured))
    elif json.loads((folder / "training.json").read_text()).get("skips_cut"):
        print(write_hourglass_card(folder, measured))
    else:
        print(write_card(folder, measured))

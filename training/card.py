"""Write an embedded model's card (README.md) from its training record and the benchmarks' results files.

    python -m training.card assets/toy-diffusion
    python -m training.card assets/toy-stylegan-labelled

The "Measured" table quotes the files that `python -m benchmarks NAME` writes to assets/measured (which
ones each card quotes: CARD_BENCHMARKS); rerun a benchmark, then this, and the card follows.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from nets.diffusion import DiffusionConfig
from toyworld.settings import MEASURED
from toyworld.world import HELDOUT

# per model folder, the results files (assets/measured/NAME.json) its card quotes, in order
CARD_BENCHMARKS = {
    "toy-diffusion": ("imagination", "speed", "compare", "atlas"),
    "toy-stylegan-labelled": ("wspace.toy-stylegan-labelled",),  # the label-free ones: benchmarks.report
}
MEASURED_HEADER = """## Measured (`python -m benchmarks ...`, this 2-core CPU; the files in `../measured/`)
| benchmark | last line |
|---|---|"""


def measured_for(folder: Path, measured_dir: Path = MEASURED) -> list[dict]:
    """The results files a model's card quotes (those that exist), each one benchmark's last line."""
    names = CARD_BENCHMARKS.get(Path(folder).name, ())
    return [json.loads((measured_dir / f"{n}.json").read_text()) for n in names if (measured_dir / f"{n}.json").exists()]


def findings_text(t: dict, measured: list[dict]) -> str:
    """The card's findings (training.json), their measured numbers filled in from the benchmarks' files:
    `{imagination[n]}` is that key of assets/measured/imagination.json."""
    return t["findings"].format_map({m.get("benchmark", "?"): m for m in measured})


def write_card(folder: Path, measured: list[dict]) -> str:
    t = json.loads((folder / "training.json").read_text())
    cfg = DiffusionConfig()
    vae = t.get("vae", {})
    decoder = (f"\n  Decoder sharpened afterwards with the encoder frozen: {vae['decoder_finetune_steps']} steps, "
               f"{vae.get('decoder_finetune_wall_s')} s." if vae.get("decoder_finetune_steps") else "")
    note = t.get("note", "")
    findings = f"\n\n{findings_text(t, measured)}" if t.get("findings") else ""
    rows = _rows(measured)
    im = next((m for m in measured if m.get("benchmark") == "imagination"), {})
    steps_line = (f"{im['steps']} steps by default, the fewest that keep the prompt as well as 25 steps by the judge "
                  "(`python -m benchmarks steps`) and at the classifier's adherence floors (`python -m benchmarks "
                  "imagination`)") if im.get("steps") else "the steps `edits.pipeline.EMBEDDED_STEPS` sets"
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
  adding a direction to h changes almost nothing here; the h-space tab applies its directions through the
  UNet instead, along the gradient of their readouts (`../directions/FINDINGS.md`).
- Scheduler: DDPM `scaled_linear` betas (0.00085–0.012, 1000 steps) for training; DDIM with
  `trailing` spacing for sampling ({steps_line}; guidance 5).

## Data
40 000 scenes rendered once (seed 3): object colour (8), shape (4), size (3), position (continuous),
background (4, never the object's colour). Captions are drawn afresh at every step with varied
phrasing and word order; each factor is left unsaid with probability 0.2–0.3, and one caption in ten is
empty (which also trains the unconditional branch for classifier-free guidance). The (colour, shape)
pairs {', '.join(f'{c} {s}' for c, s in HELDOUT)} never appear in training.

## Training (`python -m training vae`, then `decoder`, then `diffusion`; resumable)
- VAE: {vae.get('steps')} steps at batch 32, AdamW lr 1e-3 (cosine), L1 + L2 with object pixels weighted 9×,
  decoding the posterior mean (an autoencoder with KL weight 1e-6); {vae.get('wall_s')} s.{decoder}
  Held-out reconstruction error {vae.get('test_l1_255')}/255 (mean absolute, 1000 scenes).
- UNet + text encoder: {t.get('steps')} steps at batch {t.get('batch')}, AdamW lr {t.get('lr')} with warm-up and cosine decay,
  min-SNR-5 weighting, gradient clipping 1.0, EMA 0.999 (the EMA weights are shipped);
  fp32 on 2 CPU cores (this CPU has no bf16 support: autocast to bf16 was 30× slower);
  {t.get('diffusion_wall_s')} s. Final loss (mean of the last 50 steps): {t.get('final_loss_50')}.{note}
- Weights are fp16 safetensors.{findings}

{MEASURED_HEADER}
{rows}
"""
    (folder / "README.md").write_text(text)
    return text


def _rows(measured: list[dict]) -> str:
    """One row per benchmark line; the sweep and the seeded files' `source` note are left out."""
    return "\n".join(f"| `{m.get('benchmark', '?')}` | "
                     f"`{json.dumps({k: v for k, v in m.items() if k not in ('sweep', 'source')})}` |"
                     for m in measured)


GAN_WHY = """## Why this recipe (see FINDINGS.md)
- A plain GAN (non-saturating loss, R1, style mixing) on the toy VAE's 4×16×16 latents drew colour blobs after
  3000 steps: the classifier was confident on 0.61 of 500 samples, green at 0.3× its training frequency.
- With an autoencoding path and MMD (9500 steps, same latents) it reached coverage 0.59–1.81×, confident 0.55,
  and W edits reached the target colour in 0.63 of edits but kept shape, size and background in 0.05.
- The toy VAE itself caps that route (measured this session): decoding the VAE's own encodings of 1000 held-out
  scenes, the classifier is confident on 0.84 of them (on the clean renders: 0.93) and reads small shapes right
  in 0.81. So this generator draws pixels. A training step of this recipe costs 0.35–0.45 s at batch 32 pairs on
  these 2 cores; with an image discriminator added every other step (the first 600 steps of a discarded try,
  whose mapping network also lagged far behind the encoder) it cost 0.63 s, so the adversarial part was moved
  into W, where it costs 0.02 s a step (that GAN in W was later replaced by the mapping from scenes above)."""


def _gan_architecture(t: dict, cfg: dict) -> str:
    """The toy-stylegan card's title, its warning that labels shaped the model, and the architecture."""
    import dataclasses

    from nets.stylegan import StyleGANConfig

    defaults = {f.name for f in dataclasses.fields(StyleGANConfig)}
    arch = ", ".join(f"{k}={cfg[k]}" for k in sorted(defaults) if k in cfg)
    return f"""# toy-stylegan-labelled: a StyleGAN2-style generator of the toy world, labels used in training (an upper bound)

**Not a label-free model.** The scene labels are built into this generator's training (scene pairs that
differ in one known factor shape W; the mapping network regresses codes from one-hot labels and a z decoded
by hand into a scene). Its W-space scores therefore show what the construction achieves, not that a
disentangled W emerged: it is kept as an upper bound beside the two learnt from pictures alone,
`../toy-stylegan-gan` (a GAN, the app's default W model: `EMBEDDED_GAN` in `toyworld/settings.py`) and
`../toy-stylegan-label-free` (an autoencoder); `python app.py --gan assets/toy-stylegan-labelled` shows this one.

`nets/stylegan.py` in plain PyTorch (no custom ops): a mapping network z → w ({cfg['n_mlp']} layers, learning-rate
multiplier {cfg['lr_mlp']}, tracked `w_avg`), synthesis from a learned 4×4 constant through modulated /
demodulated 3×3 convolutions (transposed-convolution upsampling + [1,3,3,1] blur), per-layer noise (fixed
buffers at inference, so an image is a function of w alone), ToRGB skips; {2 * (cfg['resolution'].bit_length() - 1) - 2} style layers (W+).
It draws **64×64 RGB pixels** directly. Its W directions are in `directions/`. Config: {arch}. Generator {t.get('g_params_M')} M parameters
(encoder {t.get('e_params_M')} M, used in training only, not shipped)."""


def _gan_stage2(t: dict) -> str:
    """The toy-stylegan card's paragraph on stage 2: the mapping network learns the codes of named scenes."""
    return f"""2. **The mapping network draws the codes of definite scenes.** A small MLP learns E's code of each of the
   40 000 training scenes from its factors and geometry (MSE, {t.get('scene_steps')} steps; it explains
   {t.get('scene_to_w_explained')} of the codes' variance on a held-out tenth). A fresh {t.get('n_mlp')}-layer mapping network then
   learns, for every z, the code of the scene z names (`training.stylegan_labelled.z_to_scene`: after the mapping's PixelNorm,
   the first seven coordinates of z, through the normal CDF, pick colour, shape, size and background in
   equal-mass bins, never a colour's held-out shape, and x, y and radius uniformly in the ranges the training
   scenes use); MSE, {t.get('mapping_steps')} steps at batch 1024, a fresh z each step. So a seed names a scene and the
   generator draws that scene's code: this is a designed, supervised prior on z, where StyleGAN's mapping is
   learned without labels. The earlier recipe, a GAN in W against E's codes, drew codes
   between the classes (FINDINGS.md). `w_avg` is the mean of 20 000 samples."""


def _gan_training(t: dict) -> str:
    """The toy-stylegan card's training section: data, the two stages, wall time and final losses."""
    note = t.get("note", "")
    losses = f"mapping MSE {t.get('mapping_mse')}"
    return f"""## Training (`python -m training stylegan`, labels used; resumable, checkpoints in runs/)
Data: the diffusion model's 40 000 training scenes (the held-out colour/shape pairs never appear), and each of
them once more with one factor changed (same position and shade jitter; `training.stylegan_labelled.make_pairs`).

An **autoencoder with label-built priors** in two stages (the shipped recipe has no adversarial loss anywhere):
1. **Synthesis by reconstruction.** An encoder E (a residual CNN, 128 outputs) maps a scene to w; the synthesis
   network must redraw the scene from w (L1 + L2 per pixel, object pixels weighted 9×, as for the VAE, plus
   {t.get('edge_weight')} × L1 on neighbouring-pixel differences, for the outlines), with
   Gaussian noise of {t.get('code_noise')} × the codes' spread added to w, so that every point near a real code draws a clean
   scene. **W is made additive in the factors**: for a scene and its one-factor-changed twin, the codes must
   differ by a learned vector of that (factor, class) change, E(x') − E(x) = u[f, b] − u[f, a] (loss weight
   {t.get('add_weight')}; the error is relative to the sizes of both differences, so that ignoring a factor cannot
   satisfy it). This is a supervised
   prior on W: the factor labels shape the geometry of W during training. No classifier, direction or edit
   is trained: the directions the W-space tab uses are fitted afterwards from labelled samples, as always.
   Adam (lr {t.get('lr')}, β = (0, 0.99)), batch {t.get('batch')} pairs, {t.get('steps')} steps; EMA copies of E and the generator.
{_gan_stage2(t)}

Wall time {t.get('wall_s')} s on 2 CPU cores. Final losses (mean of the last 200 steps): reconstruction
{t.get('final_200', {}).get('rec')}, additivity {t.get('final_200', {}).get('additivity')}; {losses}.{note}"""


def write_gan_card(folder: Path, measured: list[dict]) -> str:
    """The toy-stylegan-labelled card, put together from its sections (the _gan_* functions and GAN_WHY)."""
    t = json.loads((folder / "training.json").read_text())
    cfg = json.loads((folder / "config.json").read_text())
    text = f"""{_gan_architecture(t, cfg)}

{_gan_training(t)}

{GAN_WHY}

{MEASURED_HEADER}
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

- **Skips cut.** Every weight of the UNet that reads a skip tensor is zero (`nets.diffusion.cut_skips`),
  except in the last up-block ResNet, which reads `conv_in`'s output (the noisy input, for fine detail).
  So the decoder half of the UNet learns of the noisy latent only through the mid-block output, h
  (and through conv_in's features at full resolution, which see a 5×5 neighbourhood). Why:
  `../directions/FINDINGS.md` — with all skips, an unsaid colour is decided by the starting noise at the
  object's pixels, carried around the bottleneck, and no push on h changed it.
- **x0-prediction** (`prediction_type="sample"`): a decoder that sees its input only through a 2×2
  bottleneck cannot predict the noise itself, so it predicts the clean latent.

## Training (`python -m training hourglass`; resumable, runs/diffusion_x.ckpt)
Fine-tuned from `../toy-diffusion`'s weights (UNet and text encoder), on the same 40 000 scenes and captions,
batch {t.get('batch')}, AdamW lr {t.get('lr')} (warm-up, cosine), min-SNR-5 weighting in x0 form, gradient clipping 1.0,
EMA weights shipped, fp32 on 2 CPU cores. {t.get('steps')} steps; {t.get('diffusion_wall_s')} s.
Final loss (mean of the last 50 steps): {t.get('final_loss_50')}.{t.get('note', '')}

{MEASURED_HEADER}
{_rows(measured)}
"""
    (folder / "README.md").write_text(text)
    return text


def write_adversarial_gan_card(folder: Path) -> str:
    """A stub card for a generator exported by training/stylegan_gan.py to a run's folder. A shipped one
    (assets/toy-stylegan-gan) has its own card, whose measured block `python -m benchmarks.report` renders: that
    card is left as it is."""
    card = folder / "README.md"
    if card.is_file() and "<!-- measured:" in card.read_text():
        return card.read_text()
    t = json.loads((folder / "training.json").read_text())
    c = t.get("config", {})
    q = t.get("last_quality", {})
    text = f"""# {folder.name}: a StyleGAN2 trained as a GAN on toy-world pictures alone (not shipped yet)

No label, caption, scene pair or factor reached its training: {t.get('train_pictures')} rendered pictures
(the HELDOUT colour/shape pairs {', '.join(f'{a} {b}' for a, b in HELDOUT)} never among them) and a discriminator
that looks at them. Recipe: {t.get('recipe')}.

## Training (`python -m training.stylegan_gan train`, resumable)
{t.get('steps')} steps at batch {c.get('batch')} ({t.get('kimg')} k pictures), {t.get('wall_s')} s; Adam lr {c.get('lr')},
betas {c.get('betas')}; R1 gamma {c.get('r1_gamma')} every {c.get('r1_every')} steps; path length weight
{c.get('pl_weight')} every {c.get('pl_every')}; style mixing {c.get('mixing_prob')}; G_ema half-life {c.get('ema_kimg')} k pictures;
bf16 autocast {c.get('bf16')}. G {t.get('g_params_M')} M, D {t.get('d_params_M')} M parameters; fp16 safetensors.

## Last quality reading of the training log (toy classifier on 256 G_ema samples; not the judge)
`{json.dumps(q)}`
"""
    (folder / "README.md").write_text(text)
    return text


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    measured = measured_for(folder)
    if (folder / "generator.safetensors").exists() and json.loads((folder / "config.json").read_text()).get("adversarial"):
        print(write_adversarial_gan_card(folder))
    elif (folder / "generator.safetensors").exists():
        print(write_gan_card(folder, measured))
    elif json.loads((folder / "training.json").read_text()).get("skips_cut"):
        print(write_hourglass_card(folder, measured))
    else:
        print(write_card(folder, measured))

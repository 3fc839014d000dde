"""A StyleGAN2 trained as a GAN on toy-world pictures alone (`python -m training.stylegan_gan ...`).

    # start (or continue: a run folder with a checkpoint resumes from it), one torch thread, stop at a deadline
    OMP_NUM_THREADS=1 nohup python -m training.stylegan_gan train --run-dir /work/gan-run \\
        --until 2026-12-03T09:05 --ckpt-minutes 10 --bf16 --threads 1 > /work/gan-run/train.out 2>&1 &
    # stop early, cleanly (a checkpoint is written): kill -TERM <pid of that python>
    # the compact committed form (checkpoint + log, <= 40 MB) from the run's latest checkpoint
    python -m training.stylegan_gan snapshot --run-dir /work/gan-run --out training/checkpoints/stylegan_gan
    # a fresh machine, a later session: the run folder starts from the committed snapshot and goes on
    python -m training.stylegan_gan train --run-dir runs/gan --resume-from training/checkpoints/stylegan_gan --minutes 170
    # the EMA generator as a generator folder (nets.stylegan.load_generator, edits.gan.load_gan); not into assets/
    python -m training.stylegan_gan export --run-dir /work/gan-run --out runs/toy-stylegan-gan
    # several GPUs (each process draws batch / processes pictures; gradients are averaged by hand, see below)
    accelerate launch --multi_gpu --num_processes 4 -m training.stylegan_gan train --run-dir runs/gan --minutes 60

What goes in: `ImagesOnly` (training/stylegan_label_free.py), the 40 000 cached toy-world pictures with every
label column dropped on load, HELDOUT colour/shape pairs excluded (toyworld.data.make_dataset's default). No
caption, label, scene pair or factor ever reaches a loss; the code below never names one (tests check it).

The recipe is StyleGAN2's (Karras et al. 2020, config F, with StyleGAN2-ADA's low-resolution settings):
- non-saturating logistic loss; the discriminator (nets/discriminator.py) is residual with minibatch stddev;
- lazy R1 on real pictures every 16 D steps, gamma = 0.0002 * 64^2 / 32 ~ 0.026 (StyleGAN2-ADA's heuristic
  for 64 x 64 at batch 32); lazy path-length regularisation every 4 G steps (weight 2, half batch, decay 0.01);
  Adam (0, 0.99), lr 0.0025, with the lazy intervals' lr / beta correction (c = k / (k + 1));
- style mixing with probability 0.9; per-layer noise drawn afresh; mapping lr multiplier 0.01 (the
  Generator's EqualLinear lr_mul); w_avg tracked (beta 0.995) and recomputed from G_ema at export;
- G_ema: a lerp towards G after every step with a half-life of 10 000 pictures, ramped up over the first
  pictures (0.05 x images seen), as StyleGAN2-ADA does. (diffusers' EMAModel averages parameters only with its
  own step-count warm-up; the lerp is three lines and keeps G_ema a whole Generator, buffers included.)

Optional, off by default: a reconstruction anchor (`--recon-weight`). An encoder E (picture -> w) is trained beside
G, and each G step adds the weighted reconstruction loss of the step's real pictures redrawn through
G.synthesis(E(x)): every kind of picture in the data must stay one that G can draw, against the mode collapse
(to circles) of the plain runs, as ALAE and VAE-GAN pair an encoder with a GAN. E sees the pictures D sees and
nothing else; with --init-from it starts from that folder's encoder, and the export ships it for inversion.
`--latent-weight` also teaches E the codes of G's own samples (pSp / e4e), so that its codes of real pictures lie
where the mapping draws codes; without it they drifted far from them and the anchor kept pictures drawable that
no seed reaches. `--recon-adv` also has D judge the redrawn pictures (fakes to D; G and E learn to make them
pass, as VAE-GAN does): a pixel loss alone let squares, triangles and stars come back as round blobs. A resumed
run takes all three (an encoder is added when it had none). Measured in training/checkpoints/stylegan_gan/README.md.

Cost on the shared 2-core CPU, one thread, batch 32, default networks (G 0.80 M, D 0.88 M parameters): 2.9-3.4 s
per step in fp32 and 2.3-2.9 s with `--bf16` (autocast of the main passes; AMX / avx512_bf16), measured side by
side; more when the machine is busy. `--init-from assets/toy-stylegan-label-free` warm-starts G from the
label-free autoencoder (its config, n_mlp 8); not measured yet, so the runs start from scratch.

Runs under `accelerate`: one Accelerator gives the device, the process index and the reductions. The
networks are not wrapped in DistributedDataParallel (R1 and path length take double-backward passes, and the
lazy steps touch only some parameters); as in StyleGAN2-ADA, gradients are averaged across processes by hand
before each optimiser step, and the networks start identical on every process (built from the same seed).

Randomness: every random number of step k (picture indices, z, mixing cut-off, noise) comes from a CPU
torch.Generator seeded from (seed, process, k), so a run resumed at step k draws exactly what an uninterrupted
run would: resuming gives bit-for-bit the same weights (tests/test_gan_adversarial.py) on the same hardware.

Checkpoint (`checkpoint.safetensors` in the run folder, one file written atomically every --ckpt-minutes,
at the deadline and on SIGTERM / SIGINT): G, G_ema, D, both Adam states in fp32 (about 21 MB for the default
networks) and, in its metadata, step, images seen, wall seconds, the path-length mean and the whole config.
`log.jsonl` beside it: one JSON line every --log-every steps (step, wall_s, s_per_step, loss_d, loss_g, r1,
pl, logits) and, every --quality-every steps, a `quality` reading of 1000 of G_ema's samples (`classifier_quality`:
the toy classifier's confident fraction and the spread of its predictions; `judge_quality`: the judge's share of
valid scenes, in all and by kind of object; swap it with --quality module:function).
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import math
import os
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from nets.discriminator import Discriminator, DiscriminatorConfig
from nets.encoder import ENCODER_FILE, Encoder, load_encoder_weights, save_encoder_weights
from nets.stylegan import Generator, StyleGANConfig, load_generator, save_generator
from toyworld.settings import GAN_CHECKPOINT, RUNS

from .common import reconstruction_loss
from .stylegan_label_free import N_TRAIN, TRAIN_SEED, ImagesOnly

CKPT = "checkpoint.safetensors"
LOG = "log.jsonl"
MAX_CKPT_MB = 40.0  # the committed snapshot (checkpoint + log) must stay under this
EXPORT_DIR = RUNS / "toy-stylegan-gan"


@dataclass
class GANTrainConfig:
    batch: int = 32  # pictures per step, over all processes
    lr: float = 0.0025
    g_lr_scale: float = 1.0  # G's learning rate is lr times this (a warm-started G may take a smaller one)
    betas: tuple = (0.0, 0.99)
    r1_gamma: float = 0.0256  # 0.0002 * resolution^2 / batch (StyleGAN2-ADA's heuristic) for 64 x 64, batch 32
    r1_every: int = 16
    pl_weight: float = 2.0
    pl_every: int = 4
    pl_decay: float = 0.01
    pl_batch_shrink: int = 2
    mixing_prob: float = 0.9
    ema_kimg: float = 10.0  # G_ema's half-life, in thousands of pictures
    ema_rampup: float | None = 0.05  # half-life at most this fraction of the pictures seen so far
    w_avg_beta: float = 0.995
    bf16: bool = False  # autocast the main D and G passes (not the regularisers) to bfloat16
    seed: int = 0
    # Differentiable augmentation of every picture D sees (real, fake, in R1 and in G's loss), each op applied to
    # a picture with probability aug_p, adapted as StyleGAN2-ADA does: up when D is sure of the real pictures
    # (the mean sign of its real logits over ada_target), down otherwise, at most 0 -> 1 in ada_kimg thousand
    # pictures. "" = none. Ops (augment_pictures): xflip, translation (1/8 of the side, edges repeated), cutout.
    augment: str = ""
    ada_target: float = 0.6
    ada_kimg: float = 100.0
    # Reconstruction anchor (0 = off, the plain GAN): an encoder E (picture -> w, nets/encoder.py) is trained
    # beside G, and every G step also redraws the step's real pictures through G.synthesis(E(x)) with this weight
    # on training.common.reconstruction_loss, so every kind of picture in the data stays one G can draw (against
    # the mode collapse of the plain runs), as ALAE / VAE-GAN pair an encoder with a GAN. Pictures only: E sees
    # the same real pictures D sees, and nothing else.
    recon_weight: float = 0.0
    # With the anchor: E also learns to give back the code of G's own samples (w known, no style mixing), with
    # this weight on the squared error (E only; G gets no gradient from it), as pSp / e4e train an encoder on a
    # generator's samples: E's codes of real pictures then lie where the mapping draws codes, so the pictures the
    # anchor keeps drawable are the ones random seeds reach.
    latent_weight: float = 0.0
    # With the anchor: D also judges the redrawn real pictures, as fakes (VAE-GAN, Larsen et al. 2016), and G and
    # E are also trained to make them pass, with this weight on both sides. A pixel loss alone lets a square come
    # back as a round blob (seen: every shape but the circle redrawn as one); D tells a blob from the square it
    # should have been. 0 = off.
    recon_adv: float = 0.0
    n_train: int = N_TRAIN
    train_seed: int = TRAIN_SEED
    generator: dict = field(default_factory=lambda: json.loads(StyleGANConfig().to_json()))
    discriminator: dict = field(default_factory=lambda: asdict(DiscriminatorConfig()))

    def __post_init__(self):
        self.betas = tuple(self.betas)

    def g_cfg(self) -> StyleGANConfig:
        return StyleGANConfig(**self.generator)

    def d_cfg(self) -> DiscriminatorConfig:
        return DiscriminatorConfig(**self.discriminator)


# ---------------------------------------------------------------------------------------------- the networks
@dataclass
class GANState:
    cfg: GANTrainConfig
    G: Generator
    G_ema: Generator
    D: Discriminator
    opt_g: torch.optim.Adam
    opt_d: torch.optim.Adam
    step: int = 0
    wall: float = 0.0  # seconds trained before this process started
    pl_mean: float = 0.0
    aug_p: float = 0.0  # the augmentation probability now (cfg.augment)
    nimg: int = 0  # pictures seen by D so far (step x batch while the batch stays; a resumed run may change it)
    E: Encoder | None = None  # the reconstruction anchor's encoder (cfg.recon_weight > 0), and its optimiser
    opt_e: torch.optim.Adam | None = None


def lazy_adam(params, cfg: GANTrainConfig, every: int, scale: float = 1.0) -> torch.optim.Adam:
    """Adam at lr x scale, its lr and betas corrected for a regulariser applied every `every` steps (StyleGAN2
    App. C)."""
    c = every / (every + 1)
    return torch.optim.Adam(params, lr=cfg.lr * scale * c, betas=(cfg.betas[0] ** c, cfg.betas[1] ** c), eps=1e-8)


def build(cfg: GANTrainConfig, device: torch.device | str = "cpu") -> GANState:
    """Fresh networks, the same on every process (built from cfg.seed without touching the caller's RNG)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        G, D = Generator(cfg.g_cfg()), Discriminator(cfg.d_cfg())
        E = Encoder(cfg.g_cfg()).to(device) if cfg.recon_weight > 0 else None  # (after G and D: their draws stay)
    G_ema = Generator(cfg.g_cfg())
    G_ema.load_state_dict(G.state_dict())
    G, G_ema, D = G.to(device), G_ema.to(device).eval().requires_grad_(False), D.to(device)
    opt_e = None if E is None else encoder_adam(E, cfg)
    return GANState(cfg, G, G_ema, D, lazy_adam(G.parameters(), cfg, cfg.pl_every, cfg.g_lr_scale),
                    lazy_adam(D.parameters(), cfg, cfg.r1_every), E=E, opt_e=opt_e)


def encoder_adam(E: Encoder, cfg: GANTrainConfig) -> torch.optim.Adam:
    return torch.optim.Adam(E.parameters(), lr=cfg.lr, betas=cfg.betas, eps=1e-8)


def warm_start(state: GANState, folder: Path) -> list[str]:
    """Copy a generator folder's weights (e.g. the label-free autoencoder's) into G and G_ema, and its encoder
    into E when the run has one and the folder ships one; D stays fresh. Returns what was copied."""
    g, _ = load_generator(folder)
    if g.cfg.to_json() != state.G.cfg.to_json():
        raise ValueError(f"{folder} holds a generator with another config; train with --init-from {folder}")
    for net in (state.G, state.G_ema):
        net.load_state_dict(g.state_dict())
    copied = ["G", "G_ema"]
    if state.E is not None and load_encoder_weights(state.E, folder):
        copied.append("E")
    return copied


# ---------------------------------------------------------------------------------------------- checkpoints
def _optim_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors = {f"{prefix}.{i}.{k}": v.detach().contiguous() for i, s in sd["state"].items() for k, v in s.items()}
    return tensors, {"param_groups": sd["param_groups"], "state_keys": {str(i): list(s) for i, s in sd["state"].items()}}


def _load_optim(opt: torch.optim.Optimizer, prefix: str, tensors: dict, meta: dict, device) -> None:
    state = {int(i): {k: tensors[f"{prefix}.{i}.{k}"].to(device) if k != "step" else tensors[f"{prefix}.{i}.{k}"]
                      for k in keys} for i, keys in meta["state_keys"].items()}
    groups = [{**g, "betas": tuple(g["betas"])} for g in meta["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})


def _networks(state: GANState) -> list[tuple[str, torch.nn.Module]]:
    return [("G", state.G), ("G_ema", state.G_ema), ("D", state.D)] + ([("E", state.E)] if state.E is not None else [])


def _optimisers(state: GANState) -> list[tuple[str, torch.optim.Optimizer]]:
    return [("opt_g", state.opt_g), ("opt_d", state.opt_d)] + ([("opt_e", state.opt_e)] if state.E is not None else [])


def save_checkpoint(state: GANState, path: Path, extra: dict | None = None) -> Path:
    """Everything a resumed run needs, in one safetensors file (fp32 tensors, JSON metadata), written atomically."""
    from safetensors.torch import save_file

    tensors = {}
    for name, net in _networks(state):
        tensors.update({f"{name}.{k}": v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()})
    optims = {}
    for name, opt in _optimisers(state):
        t, optims[name] = _optim_tensors(name, opt)
        tensors.update({k: v.cpu() for k, v in t.items()})
    meta = {"step": state.step, "wall": state.wall, "pl_mean": state.pl_mean, "aug_p": state.aug_p,
            "nimg": state.nimg,
            "cfg": asdict(state.cfg),
            **optims, **(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": "imagination-potentiality/stylegan-gan-ckpt@1",
                                            "state": json.dumps(meta)})
    os.replace(tmp, path)
    return path


def read_meta(path: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return json.loads(f.metadata()["state"])


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> GANState:
    from safetensors.torch import load_file

    meta = read_meta(path)
    tensors = load_file(str(path))
    state = build(GANTrainConfig(**meta["cfg"]), device)
    for name, net in _networks(state):
        net.load_state_dict({k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")})
    for name, opt in _optimisers(state):
        _load_optim(opt, name, tensors, meta[name], device)
    state.step, state.wall, state.pl_mean = int(meta["step"]), float(meta["wall"]), float(meta["pl_mean"])
    state.aug_p = float(meta.get("aug_p", 0.0))
    # checkpoints written before "nimg" was kept: their batch never changed
    state.nimg = int(meta.get("nimg", state.step * state.cfg.batch))
    return state


def with_new_discriminator(state: GANState, d_cfg: dict, device: torch.device | str = "cpu") -> GANState:
    """The same G and G_ema (and their optimiser) with a fresh D of config d_cfg and its fresh optimiser: a run
    that goes on from a checkpoint with a discriminator of another size."""
    cfg = GANTrainConfig(**{**asdict(state.cfg), "discriminator": dict(d_cfg)})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed + 1 + state.step)
        D = Discriminator(cfg.d_cfg()).to(device)
    return GANState(cfg, state.G, state.G_ema, D, state.opt_g, lazy_adam(D.parameters(), cfg, cfg.r1_every),
                    step=state.step, wall=state.wall, pl_mean=state.pl_mean, aug_p=0.0, nimg=state.nimg,
                    E=state.E, opt_e=state.opt_e)


def take_setting(cfg: GANTrainConfig, key: str, value, what: str, changes: list[str]) -> None:
    """A resumed run given another value of one plain setting of its config: the value is taken (as the config's
    type) and the change noted in `changes` ("<what> old -> new"). None or the same value: nothing."""
    old = getattr(cfg, key)
    if value is not None and value != old:
        setattr(cfg, key, type(old)(value))
        changes.append(f"{what} {old:g} -> {value:g}")


def with_anchor(state: GANState, weight: float, init_from: Path | None = None,
                device: torch.device | str = "cpu") -> str:
    """A resumed run given another reconstruction-anchor weight: the weight changes; a run without an encoder
    gets a fresh one (its weights from `init_from`'s encoder when that folder ships one) and its optimiser; a
    weight of 0 drops the encoder. Returns the change, for the log."""
    old, state.cfg.recon_weight = state.cfg.recon_weight, float(weight)
    change = f"reconstruction anchor weight {old:g} -> {weight:g}"
    if weight <= 0:
        state.E = state.opt_e = None
        return change + " (encoder dropped)"
    if state.E is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(state.cfg.seed + 2 + state.step)
            state.E = Encoder(state.cfg.g_cfg()).to(device)
        change += f", a new encoder from {init_from}" if load_encoder_weights(state.E, init_from) else ", a new encoder"
        state.opt_e = encoder_adam(state.E, state.cfg)
    return change


# ---------------------------------------------------------------------------------------------- augmentation
AUGMENTS = ("xflip", "translation", "cutout")


def parse_augment(spec: str) -> tuple[str, ...]:
    ops = tuple(o for o in (spec or "").replace(" ", "").split(",") if o)
    unknown = [o for o in ops if o not in AUGMENTS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown}; known: {', '.join(AUGMENTS)}")
    return ops


def augment_pictures(x: torch.Tensor, p: float, ops: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    """Pictures (B, C, R, R) through `ops`, each op applied to each picture with probability p (random numbers
    from gen, drawn whatever p is, so a run's draws do not depend on p). Differentiable with respect to x;
    identity at p = 0."""
    b, _, r, _ = x.shape
    for op in ops:
        on = (torch.rand(b, generator=gen) < p).to(x.device)
        if op == "xflip":
            x = torch.where(on.view(b, 1, 1, 1), x.flip(3), x)
        elif op == "translation":  # whole-pixel shifts up to r/8, the picture's border repeated
            m = r // 8
            shift = torch.randint(-m, m + 1, (b, 2), generator=gen).to(x.device) * on.view(b, 1)  # (B, 2)
            ii = torch.arange(r, device=x.device)
            rows, cols = ii.view(1, r) + m - shift[:, :1], ii.view(1, r) + m - shift[:, 1:]  # (B, R) into the pad
            xp = F.pad(x, (m, m, m, m), mode="replicate")
            x = xp[torch.arange(b, device=x.device).view(b, 1, 1), :, rows.view(b, r, 1), cols.view(b, 1, r)]
            x = x.permute(0, 3, 1, 2)  # indexing put the channels last
        elif op == "cutout":  # a square of half the side set to 0, anywhere in the picture
            half = r // 2
            at = torch.randint(0, r - half + 1, (b, 2), generator=gen).to(x.device)
            ii = torch.arange(r, device=x.device)
            rows = (ii.view(1, r) >= at[:, :1]) & (ii.view(1, r) < at[:, :1] + half)  # (B, R)
            cols = (ii.view(1, r) >= at[:, 1:]) & (ii.view(1, r) < at[:, 1:] + half)
            hole = rows.view(b, 1, r, 1) & cols.view(b, 1, 1, r) & on.view(b, 1, 1, 1)
            x = x * (~hole).to(x.dtype)
    return x


# ---------------------------------------------------------------------------------------------- one step
def step_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The random numbers of step `step` on process `rank`: a function of the three, so resuming redraws them."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0]))


def random_noise(G: Generator, b: int, gen: torch.Generator, device) -> list[torch.Tensor]:
    """Fresh per-layer noise maps for b pictures, drawn from gen."""
    sizes = [getattr(G.noises, f"noise_{i}").shape[-1] for i in range(2 * len(G.to_rgbs) + 1)]
    return [torch.randn(b, 1, r, r, generator=gen).to(device) for r in sizes]


def sample_ws(G: Generator, b: int, gen: torch.Generator, mixing_prob: float, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(w (b, w_dim), W+ codes (b, L, w_dim)) of b fresh z, styles mixed from a second z after a random layer
    with probability mixing_prob."""
    z = torch.randn(b, G.cfg.z_dim, generator=gen).to(device)
    z2 = torch.randn(b, G.cfg.z_dim, generator=gen).to(device)
    mix = torch.rand((), generator=gen).item() < mixing_prob
    cutoff = int(torch.randint(1, G.n_latent, (), generator=gen)) if G.n_latent > 1 else G.n_latent
    w = G.mapping(z)  # (b, w_dim)
    ws = G.broadcast(w)  # (b, L, w_dim)
    if mix:
        ws = torch.cat([ws[:, :cutoff], G.broadcast(G.mapping(z2))[:, cutoff:]], dim=1)
    return w, ws


class Reducer:
    """Gradient and scalar averaging across processes (a no-op in one process)."""

    def __init__(self, accelerator):
        self.acc = accelerator
        self.n = accelerator.num_processes if accelerator is not None else 1

    def grads(self, params) -> None:
        if self.n > 1:
            for p in params:
                if p.grad is not None:
                    p.grad = self.acc.reduce(p.grad, "mean")

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        return self.acc.reduce(x, "mean") if self.n > 1 else x


def train_step(s: GANState, real: torch.Tensor, gen: torch.Generator, red: Reducer, device) -> dict:
    """One D step (plus lazy R1) and one G step (plus lazy path length); returns the scalars to log."""
    cfg, G, D = s.cfg, s.G, s.D
    b = real.shape[0]
    k = s.step  # 0-based index of this step
    def ac():
        return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=cfg.bf16)

    out = {}
    ops = parse_augment(cfg.augment)

    def aug(x):  # what D sees
        return augment_pictures(x, s.aug_p, ops, gen) if ops else x

    # ---- D: logistic loss on real and generated pictures
    G.requires_grad_(False)
    D.requires_grad_(True)
    with torch.no_grad():
        _, ws = sample_ws(G, b, gen, cfg.mixing_prob, device)
    noise = random_noise(G, b, gen, device)
    with ac():
        fake = G.synthesis(ws, noise=noise)  # (B, C, R, R)
        logit_fake, logit_real = D(aug(fake.detach())).float(), D(aug(real)).float()  # (B, 1)
    loss_d = F.softplus(logit_fake).mean() + F.softplus(-logit_real).mean()
    if s.E is not None and cfg.recon_adv > 0:  # the redrawn real pictures are fakes too (VAE-GAN)
        with torch.no_grad(), ac():
            rec_d = G.synthesis(G.broadcast(s.E(real)), noise=random_noise(G, b, gen, device))
        with ac():
            logit_rec = D(aug(rec_d)).float()
        loss_d = loss_d + cfg.recon_adv * F.softplus(logit_rec).mean()
        out["logit_rec"] = logit_rec.mean().item()
    s.opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    red.grads(D.parameters())
    s.opt_d.step()
    out.update(loss_d=loss_d.item(), logit_real=logit_real.mean().item(), logit_fake=logit_fake.mean().item())

    if k % cfg.r1_every == 0:  # lazy R1: gradient penalty on real pictures, in fp32
        x = real.detach().requires_grad_(True)
        grad, = torch.autograd.grad(D(aug(x)).sum(), x, create_graph=True)  # (B, C, R, R)
        r1 = grad.square().sum(dim=(1, 2, 3)).mean()
        s.opt_d.zero_grad(set_to_none=True)
        (r1 * (cfg.r1_gamma / 2) * cfg.r1_every).backward()
        red.grads(D.parameters())
        s.opt_d.step()
        out["r1"] = r1.item()

    # ---- G: non-saturating loss
    G.requires_grad_(True)
    D.requires_grad_(False)
    w, ws = sample_ws(G, b, gen, cfg.mixing_prob, device)
    noise = random_noise(G, b, gen, device)
    with ac():
        loss_g = F.softplus(-D(aug(G.synthesis(ws, noise=noise))).float()).mean()
    total = loss_g
    if s.E is not None:  # the reconstruction anchor: the step's real pictures redrawn through G from E's codes
        with ac():
            rec = G.synthesis(G.broadcast(s.E(real)), noise=random_noise(G, b, gen, device))  # (B, C, R, R)
        loss_rec = reconstruction_loss(rec.float(), real)
        total = total + cfg.recon_weight * loss_rec
        if cfg.recon_adv > 0:  # ... and they should pass D as real pictures
            with ac():
                loss_g_rec = F.softplus(-D(aug(rec)).float()).mean()
            total = total + cfg.recon_adv * loss_g_rec
            out["loss_g_rec"] = loss_g_rec.item()
        s.opt_e.zero_grad(set_to_none=True)
        out["rec"] = loss_rec.item()
        if cfg.latent_weight > 0:  # E on G's own samples: their codes are known
            with torch.no_grad():
                w_own = G.mapping(torch.randn(b, G.cfg.z_dim, generator=gen).to(device))  # (B, w_dim)
                with ac():
                    own = G.synthesis(G.broadcast(w_own), noise=random_noise(G, b, gen, device))
            with ac():
                loss_lat = (s.E(own).float() - w_own).square().mean()
            total = total + cfg.latent_weight * loss_lat
            out["lat"] = loss_lat.item()
    s.opt_g.zero_grad(set_to_none=True)
    total.backward()
    red.grads(G.parameters())
    s.opt_g.step()
    if s.E is not None:
        red.grads(s.E.parameters())
        s.opt_e.step()
    with torch.no_grad():
        G.w_avg.lerp_(red.mean(w.detach().mean(0)), 1 - cfg.w_avg_beta)
    out["loss_g"] = loss_g.item()

    if k % cfg.pl_every == 0:  # lazy path length: |J_w^T y| constant over w, in fp32
        pb = max(1, b // cfg.pl_batch_shrink)
        _, ws = sample_ws(G, pb, gen, cfg.mixing_prob, device)
        img = G.synthesis(ws, noise=random_noise(G, pb, gen, device))  # (pb, C, R, R)
        y = torch.randn(img.shape, generator=gen).to(device) / math.sqrt(img.shape[2] * img.shape[3])
        grad, = torch.autograd.grad((img * y).sum(), ws, create_graph=True)  # (pb, L, w_dim)
        lengths = grad.square().sum(2).mean(1).sqrt()  # (pb,)
        s.pl_mean = s.pl_mean + cfg.pl_decay * (red.mean(lengths.mean().detach()).item() - s.pl_mean)
        pl = (lengths - s.pl_mean).square().mean()
        s.opt_g.zero_grad(set_to_none=True)
        (pl * cfg.pl_weight * cfg.pl_every).backward()
        red.grads(G.parameters())
        s.opt_g.step()
        out.update(pl=pl.item(), pl_mean=s.pl_mean)
    G.requires_grad_(False)

    # ---- the augmentation probability, adapted to how sure D is of the real pictures
    if ops:
        rt = float(red.mean(logit_real.detach().sign().mean()))
        s.aug_p = min(1.0, max(0.0, s.aug_p + math.copysign(b * red.n / (cfg.ada_kimg * 1000), rt - cfg.ada_target)))
        out.update(rt=rt, aug_p=s.aug_p)

    # ---- G_ema: lerp towards G with a half-life in pictures
    s.step += 1
    s.nimg += b * red.n
    ema_nimg = cfg.ema_kimg * 1000
    if cfg.ema_rampup is not None:
        ema_nimg = min(ema_nimg, s.nimg * cfg.ema_rampup)
    beta = 0.5 ** (b * red.n / max(ema_nimg, 1e-8))
    with torch.no_grad():
        for p_ema, p in zip(s.G_ema.parameters(), G.parameters()):
            p_ema.copy_(p.lerp(p_ema, beta))
        for b_ema, b_ in zip(s.G_ema.buffers(), G.buffers()):
            b_ema.copy_(b_)
    return out


# ---------------------------------------------------------------------------------------------- quality hook
def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Generator output (B, 3, R, R) in [-1, 1] -> 64 x 64 in [-1, 1], as the toy classifier reads pictures."""
    x = x.float().clamp(-1, 1)
    if x.shape[-1] != 64:
        x = F.interpolate(x, size=(64, 64), mode="bilinear", antialias=x.shape[-1] > 64, align_corners=False)
    return x


_CLASSIFIER = None


def classifier_quality(images: torch.Tensor) -> dict:
    """A cheap reading of pictures (B, 3, R, R) in [-1, 1] with the toy classifier (assets/classifier): `sure`,
    the fraction read with probability >= 0.9 on every head; `conf`, the mean over pictures of their least
    confident head; `spread_<head>`, the entropy of the predicted classes over the pictures divided by its
    maximum (1: every class equally often; mode collapse lowers it). Measurement only: nothing here reaches a loss."""
    global _CLASSIFIER
    from nets.classifier import load_classifier

    if _CLASSIFIER is None:
        _CLASSIFIER = load_classifier()
    with torch.no_grad():
        logits = _CLASSIFIER(to_unit(images).cpu())
    conf = torch.stack([v.softmax(-1).max(-1).values for v in logits.values()])  # (heads, B)
    out = {"sure": round(float((conf.min(0).values >= 0.9).float().mean()), 4),
           "conf": round(float(conf.min(0).values.mean()), 4)}
    for head, v in logits.items():
        p = torch.bincount(v.argmax(-1), minlength=v.shape[-1]).float() / v.shape[0]
        ent = -(p[p > 0] * p[p > 0].log()).sum() / math.log(v.shape[-1])
        out[f"spread_{head}"] = round(abs(float(ent)), 4)
    return out


def pixel_quality(images: torch.Tensor) -> dict:
    """Pixel statistics needing no model: mean and std of the pictures, and the mean absolute difference of
    neighbouring pixels (flat toy scenes with hard edges are low; noise is high)."""
    x = images.float()
    tv = (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
    return {"mean": round(float(x.mean()), 4), "std": round(float(x.std()), 4), "tv": round(float(tv / 2), 4)}


def judge_quality(images: torch.Tensor) -> dict:
    """The judge's reading (edits/judge.py, which no direction, readout or edit is fitted on) of pictures (B, 3, R, R)
    in [-1, 1]: `judge_valid`, the share it reads as a valid scene (one object, one palette colour, a shape), and
    `judge_<kind>`, the share read as a valid scene of each kind of object (`edits.judge.valid_shares`).
    Measurement only: nothing here reaches a loss."""
    from edits.judge import valid_shares
    from edits.pipeline import to_uint8

    u8 = to_uint8((to_unit(images).permute(0, 2, 3, 1).numpy() + 1) / 2)  # (B, 64, 64, 3)
    return {f"judge_{k}": v for k, v in valid_shares(u8).items()}


QUALITY_SAMPLES = 1000  # G_ema's samples a periodic reading looks at (the judge's 1000 of the issue)


def default_quality(images: torch.Tensor) -> dict:
    return {**classifier_quality(images), **pixel_quality(images), **judge_quality(images)}


@torch.no_grad()
def ema_samples(G_ema: Generator, n: int = QUALITY_SAMPLES, seed: int = 12345, batch: int = 64) -> torch.Tensor:
    """n pictures of G_ema from fixed z (no truncation, the fixed noise buffers), on the CPU."""
    z = torch.randn(n, G_ema.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    dev = G_ema.w_avg.device
    return torch.cat([G_ema(z[i:i + batch].to(dev)).float().cpu() for i in range(0, n, batch)])


def resolve_quality(spec: str | None) -> Callable[[torch.Tensor], dict] | None:
    """'default', 'none', or 'module:function' (a callable: pictures (B, 3, R, R) in [-1, 1] -> dict of numbers)."""
    if spec in (None, "none"):
        return None
    if spec == "default":
        return default_quality
    mod, _, fn = spec.partition(":")
    return getattr(importlib.import_module(mod), fn)


# ---------------------------------------------------------------------------------------------- the loop
def deadline_from(until: str | None, minutes: float | None) -> float:
    """Epoch seconds to stop at: `minutes` from now, or `until` (UTC: HH:MM, the next one, or an ISO date-time)."""
    if minutes is not None:
        return time.time() + 60 * minutes
    if until is None:
        return float("inf")
    now = dt.datetime.now(dt.timezone.utc)
    if len(until) > 5:
        t = dt.datetime.fromisoformat(until)
        return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).timestamp()
    h, m = (int(v) for v in until.split(":"))
    t = now.replace(hour=h, minute=m, second=0, microsecond=0)
    return (t if t > now else t + dt.timedelta(days=1)).timestamp()


def _trim_log(path: Path, step: int) -> None:
    """Drop log lines written after the checkpoint a run resumes from (a run killed between checkpoints)."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln).get("step", 0) <= step]
    path.write_text("".join(ln + "\n" for ln in keep))


def _resize(x: torch.Tensor, r: int) -> torch.Tensor:
    return x if x.shape[-1] == r else F.interpolate(x, size=(r, r), mode="area")


def train(run_dir: Path, cfg: GANTrainConfig | None = None, deadline: float = float("inf"),
          max_steps: int | None = None, data=None, resume_from: Path | None = None, init_from: Path | None = None,
          ckpt_every_s: float = 600.0, log_every: int = 10, quality_every: int = 250,
          quality: Callable[[torch.Tensor], dict] | None = default_quality, accelerator=None,
          handle_signals: bool = True, log=print, augment: str | None = None,
          discriminator: dict | None = None, r1_gamma: float | None = None, batch: int | None = None,
          recon_weight: float | None = None, latent_weight: float | None = None,
          recon_adv: float | None = None) -> dict:
    """Train until `deadline` (epoch s), `max_steps` (total) or SIGTERM / SIGINT; resumes from
    run_dir/checkpoint.safetensors, else from `resume_from`'s checkpoint (a snapshot folder), else fresh from
    `cfg` (G and G_ema warm-started from the generator folder `init_from` when given). `data` needs only
    `len(data)` and `data.batch(idx) -> (B, 3, H, W)` in [-1, 1]. A resumed run takes `augment` (ops),
    `discriminator` (a D config: a fresh D of that size, G and G_ema kept), `r1_gamma`, `batch` (pictures per
    step: a machine with an accelerator takes more; the learning rates stay) and `recon_weight` (the anchor; a new
    encoder from `init_from`'s when the run had none), `latent_weight` and `recon_adv` when given; a fresh one
    takes cfg's."""
    if accelerator is None:
        from accelerate import Accelerator

        accelerator = Accelerator(cpu=not torch.cuda.is_available())
    acc, device = accelerator, accelerator.device
    red, rank, main = Reducer(acc), acc.process_index, acc.is_main_process
    run_dir = Path(run_dir)
    ck, log_path = run_dir / CKPT, run_dir / LOG
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    src = ck if ck.exists() else (Path(resume_from) / CKPT if resume_from else None)
    changes: list[str] = []  # what a resumed run changes (logged, and written to the log as events)
    if src is not None and src.exists():
        s = load_checkpoint(src, device)
        if src != ck and main and (Path(resume_from) / LOG).exists():
            shutil.copyfile(Path(resume_from) / LOG, log_path)
        if main:
            _trim_log(log_path, s.step)
        log(f"gan: resumed from {src} at step {s.step} ({s.wall / 60:.1f} min trained)")
        if augment is not None and augment != s.cfg.augment:
            parse_augment(augment)
            changes.append(f"augmentation {s.cfg.augment or 'none'} -> {augment or 'none'} (p = {s.aug_p:.3f})")
            s.cfg.augment = augment
        take_setting(s.cfg, "r1_gamma", r1_gamma, "R1 gamma", changes)
        take_setting(s.cfg, "batch", batch, "batch", changes)
        if discriminator is not None and DiscriminatorConfig(**discriminator) != s.cfg.d_cfg():
            s = with_new_discriminator(s, discriminator, device)
            changes.append(f"a fresh D {discriminator}, {sum(p.numel() for p in s.D.parameters()) / 1e6:.3f} M parameters")
        if recon_weight is not None and recon_weight != s.cfg.recon_weight:
            changes.append(with_anchor(s, recon_weight, init_from, device))
        take_setting(s.cfg, "latent_weight", latent_weight, "encoder's latent weight", changes)
        take_setting(s.cfg, "recon_adv", recon_adv, "D judges the redrawn pictures: weight", changes)
    elif src is not None:
        raise FileNotFoundError(f"no checkpoint in {resume_from}")
    else:
        s = build(cfg or GANTrainConfig(), device)
        if init_from is not None:
            copied = warm_start(s, Path(init_from))
            changes.append(f"{' and '.join(copied)} warm-started from {init_from}")
        log(f"gan: fresh run, G {sum(p.numel() for p in s.G.parameters()) / 1e6:.3f} M, "
            f"D {sum(p.numel() for p in s.D.parameters()) / 1e6:.3f} M parameters")
    cfg = s.cfg
    if cfg.batch % acc.num_processes:  # a fresh run's batch or the one a resumed run was given
        raise ValueError(f"batch {cfg.batch} does not split over {acc.num_processes} processes")
    b = cfg.batch // acc.num_processes
    pack = cfg.d_cfg().pack  # D judges b / pack stacks of pictures; refused before any render
    if b % pack:
        raise ValueError(f"batch {b} (a process's) is not a multiple of D's pack {pack}")
    group = min(cfg.d_cfg().mbstd_group, b // pack)  # as nets.discriminator.minibatch_stddev takes it
    if (b // pack) % group:
        raise ValueError(f"batch {b} (a process's) is not a multiple of the minibatch-stddev group {group} (x pack {pack})")
    data = data if data is not None else ImagesOnly(cfg.n_train, cfg.train_seed)
    res = cfg.g_cfg().resolution

    stop = {"signal": None}
    old = {}
    if handle_signals:
        def on_signal(signum, frame):
            stop["signal"] = signal.Signals(signum).name
        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, on_signal)

    t0 = time.time()
    t_ck, t_log, step_log = t0, t0, s.step
    acc_scalars: dict[str, list[float]] = {}

    def wall() -> float:
        return s.wall + time.time() - t0

    def write(rec: dict) -> None:
        if main:
            with open(log_path, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def checkpoint(reason: str) -> None:
        if main:
            snap = GANState(**{**s.__dict__, "wall": wall()})
            save_checkpoint(snap, ck, {"saved_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                       "reason": reason, "threads": torch.get_num_threads()})

    for change in changes:
        log(f"gan: {change}")
        write({"step": s.step, "event": change})
    if quality is not None and s.step == 0 and main:
        real = _resize(data.batch(np.arange(min(QUALITY_SAMPLES, len(data)))), res)
        write({"step": 0, "wall_s": 0.0, "quality_real": quality(real), "quality": quality(ema_samples(s.G_ema))})
        t_log = time.time()

    reason = "max_steps"
    try:
        while max_steps is None or s.step < max_steps:
            halt = time.time() >= deadline or stop["signal"] is not None
            if red.n > 1:
                halt = bool(red.mean(torch.tensor(float(halt), device=device)).item() > 0)
            if halt:
                reason = stop["signal"] or "deadline"
                break
            gen = step_generator(cfg.seed, rank, s.step)
            idx = torch.randint(0, len(data), (b,), generator=gen).numpy()
            real = _resize(data.batch(idx), res).to(device)
            out = train_step(s, real, gen, red, device)
            if not all(np.isfinite(v) for v in out.values()):
                # bf16 or a diverging run: back to the last checkpoint, in fp32 from there on
                if not ck.exists():
                    raise FloatingPointError(f"non-finite losses at step {s.step} and no checkpoint: {out}")
                bad = s.step
                s = load_checkpoint(ck, device)
                s.cfg.bf16 = False
                t0 = t_log = time.time()
                step_log, acc_scalars = s.step, {}
                if main:
                    _trim_log(log_path, s.step)
                write({"step": s.step, "event": f"non-finite losses at step {bad}; reloaded step {s.step}, bf16 off"})
                log(f"gan: non-finite losses at step {bad}; reloaded the checkpoint of step {s.step}, bf16 off")
                continue
            for k, v in out.items():
                acc_scalars.setdefault(k, []).append(v)
            if s.step % log_every == 0 or s.step % quality_every == 0:
                now = time.time()
                rec = {"step": s.step, "kimg": round(s.nimg / 1000, 3), "wall_s": round(wall(), 1),
                       "s_per_step": round((now - t_log) / max(1, s.step - step_log), 3),
                       **{k: round(float(np.mean(v)), 5) for k, v in acc_scalars.items()}}
                if quality is not None and s.step % quality_every == 0 and main:
                    rec["quality"] = quality(ema_samples(s.G_ema))
                write(rec)
                if main and (s.step % (log_every * 10) == 0 or "quality" in rec):
                    log(json.dumps(rec))
                acc_scalars, t_log, step_log = {}, time.time(), s.step  # the quality reading is not a step's time
            if time.time() - t_ck > ckpt_every_s:
                checkpoint("periodic")
                t_ck = time.time()
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
    checkpoint(reason)
    log(f"gan: stopped ({reason}) at step {s.step}, {wall() / 60:.1f} min trained; checkpoint {ck}")
    return {"steps": s.step, "wall_s": round(wall(), 1), "reason": reason, "checkpoint": str(ck)}


# ---------------------------------------------------------------------------------------------- snapshot, export
def snapshot(run_dir: Path, out: Path, max_mb: float = MAX_CKPT_MB) -> dict:
    """Copy the run's latest checkpoint and its log into `out` (the committed, resumable form); refuse if over max_mb."""
    run_dir, out = Path(run_dir), Path(out)
    files = [run_dir / CKPT] + ([run_dir / LOG] if (run_dir / LOG).exists() else [])
    if not files[0].exists():
        raise FileNotFoundError(f"no checkpoint in {run_dir}")
    mb = sum(f.stat().st_size for f in files) / 2 ** 20
    if mb > max_mb:
        raise ValueError(f"the checkpoint and log take {mb:.1f} MB, over {max_mb} MB")
    out.mkdir(parents=True, exist_ok=True)
    for f in files:
        tmp = out / (f.name + ".tmp")
        shutil.copyfile(f, tmp)
        os.replace(tmp, out / f.name)
    meta = read_meta(out / CKPT)
    return {"out": str(out), "step": meta["step"], "wall_s": round(meta["wall"], 1), "mb": round(mb, 2)}


def export(run_dir: Path, out: Path = EXPORT_DIR, n_w_avg: int = 10_000) -> dict:
    """G_ema of a checkpoint (a run folder or a snapshot) as a generator folder, w_avg recomputed from its mapping."""
    s = load_checkpoint(Path(run_dir) / CKPT)
    G = s.G_ema.eval()
    with torch.no_grad():
        G.w_avg.copy_(G.mean_latent(n_w_avg))
    out = Path(out)
    extra = {"label_free": True, "adversarial": True}
    if s.E is not None:  # the reconstruction anchor's encoder: edits.gan.load_gan's picture -> w
        extra["encoder"] = ENCODER_FILE
    save_generator(G, out, extra=extra)
    if s.E is not None:
        save_encoder_weights(s.E, out)
    record = {"recipe": "StyleGAN2 trained adversarially on toy-world pictures alone (training/stylegan_gan.py): "
                        "non-saturating logistic loss, residual D with minibatch stddev, lazy R1, style mixing, "
                        "path-length regularisation, mapping lr x0.01, G_ema exported"
                        + (f"; with a reconstruction anchor (an encoder trained beside G redraws the real pictures "
                           f"through G, weight {s.cfg.recon_weight:g}, its latent term weight {s.cfg.latent_weight:g}; shipped as "
                           f"{ENCODER_FILE}"
                           + (f"; D also judged the redrawn pictures, weight {s.cfg.recon_adv:g}" if s.cfg.recon_adv > 0 else "")
                           + ")"
                           if s.E is not None else ""),
              "labels_used_in_training": False, "train_pictures": s.cfg.n_train, "steps": s.step,
              "kimg": round(s.nimg / 1000, 1), "wall_s": round(s.wall, 1),
              "config": asdict(s.cfg), "g_params_M": round(sum(p.numel() for p in G.parameters()) / 1e6, 3),
              "d_params_M": round(sum(p.numel() for p in s.D.parameters()) / 1e6, 3)}
    log_path = Path(run_dir) / LOG
    if log_path.exists():
        q = [json.loads(ln) for ln in log_path.read_text().splitlines() if '"quality"' in ln]
        if q:
            record["last_quality"] = {"step": q[-1]["step"], **q[-1]["quality"]}
    (out / "training.json").write_text(json.dumps(record, indent=1))
    try:
        from .card import write_adversarial_gan_card

        write_adversarial_gan_card(out)
    except ImportError:
        pass
    return {"out": str(out), "steps": s.step}


def plot_curve(run_dir: Path, out: Path, readings: Path | None = None) -> dict:
    """The run's curve as a PNG: the periodic quality readings of G_ema in its log (the toy classifier's share of
    samples it is sure of, its spread over the shapes and colours, and the judge's share of valid scenes where the
    log has it) against the pictures seen, the log's events as numbered marks, and, when `readings`
    (judge-readings.jsonl) holds lines for this log, the judge's share of valid scenes among 1000 samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = [json.loads(ln) for ln in (Path(run_dir) / LOG).read_text().splitlines() if ln.strip()]
    q = [ln for ln in lines if "quality" in ln and "kimg" in ln]
    kimg_at = {ln["step"]: ln["kimg"] for ln in lines if "kimg" in ln}
    events = [ln for ln in lines if "event" in ln]
    judge = []
    if readings is not None and Path(readings).is_file():
        judge = [r for r in (json.loads(ln) for ln in Path(readings).read_text().splitlines() if ln.strip())
                 if str(r.get("run", "")).startswith(LOG) and r.get("valid_scene_fraction") is not None]
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=110)
    x = [ln["kimg"] for ln in q]
    for key, label in (("sure", "classifier sure of every factor (256, since session 10 1000 a reading)"),
                       ("spread_shape", "spread over the 4 shapes"), ("spread_colour", "spread over the 8 colours")):
        ax.plot(x, [ln["quality"][key] for ln in q], label=label, lw=1.4)
    jq = [ln for ln in q if "judge_valid" in ln["quality"]]
    if jq:  # the periodic readings' own judge line (logs written since the judge joined them)
        ax.plot([ln["kimg"] for ln in jq], [ln["quality"]["judge_valid"] for ln in jq], "k.-", lw=1.4, ms=4,
                label=f"judge: valid scenes, periodic reading ({QUALITY_SAMPLES} samples)")
    if judge:
        ax.plot([r["kimg"] for r in judge], [r["valid_scene_fraction"] for r in judge], "ko", ms=5,
                label="judge: valid scenes, benchmark reading (1000 samples)")
    marks, steps = [], sorted({e["step"] for e in events})
    for i, step in enumerate(steps, 1):
        k = kimg_at.get(step) or min(kimg_at.items(), key=lambda kv: abs(kv[0] - step))[1]
        ax.axvline(k, color="0.6", lw=0.8, ls=":")
        ax.text(k, 1.01, str(i), ha="center", va="bottom", fontsize=8, transform=ax.get_xaxis_transform())
        marks.append(f"{i}: step {step}, " + "; ".join(e["event"] for e in events if e["step"] == step))
    ax.set_xlabel("k pictures seen")
    ax.set_ylim(0, 1.05)
    fig.suptitle("G_ema's samples during training (spread 1 = every class equally often; dotted: changes of the "
                 "recipe)", fontsize=9)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return {"out": str(out), "readings": len(q), "events": marks, "judge_readings": len(judge), "judge_lines": len(jq)}


def config_from_args(a: argparse.Namespace) -> tuple[GANTrainConfig, dict | None]:
    """A fresh run's config from the command line, and the D config given there (None: the default D)."""
    cfg = GANTrainConfig(batch=a.batch or GANTrainConfig.batch, bf16=a.bf16, seed=a.seed, augment=a.augment or "",
                         r1_gamma=GANTrainConfig.r1_gamma if a.r1_gamma is None else a.r1_gamma,
                         g_lr_scale=a.g_lr_scale, recon_weight=a.recon_weight or 0.0, latent_weight=a.latent_weight or 0.0,
                         recon_adv=a.recon_adv or 0.0)
    if a.init_from is not None:
        cfg.generator = json.loads(load_generator(a.init_from)[0].cfg.to_json())
    d_cfg = None
    if a.d_channels or a.mbstd_group or a.d_pack:
        d_cfg = dict(cfg.discriminator)
        if a.d_pack:
            d_cfg["pack"] = a.d_pack
        if a.d_channels:
            d_cfg["channels"] = {int(k): int(v) for k, v in (kv.split(":") for kv in a.d_channels.split(","))}
        if a.mbstd_group:
            d_cfg["mbstd_group"] = a.mbstd_group
        cfg.discriminator = d_cfg
    return cfg, d_cfg


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.stylegan_gan", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["train", "snapshot", "export", "curve"])
    p.add_argument("--run-dir", type=Path, default=RUNS / "gan")
    p.add_argument("--until", help="train: stop at this UTC time (HH:MM, the next one; or 2026-12-03T09:05)")
    p.add_argument("--minutes", type=float, help="train: stop after this many minutes")
    p.add_argument("--max-steps", type=int, help="train: stop at this total step count")
    p.add_argument("--resume-from", type=Path, help="train: a snapshot folder to continue from when the run "
                                                   "folder has no checkpoint")
    p.add_argument("--init-from", type=Path, help="train, fresh run: warm-start G from this generator folder "
                                                 "(its config becomes the generator's)")
    p.add_argument("--batch", type=int, default=None, help="pictures per step (a fresh run: 32); a resumed run "
                   "takes it when given")
    p.add_argument("--bf16", action="store_true", help="autocast the main passes to bfloat16")
    p.add_argument("--r1-gamma", type=float, default=None,
                   help=f"R1 weight (a fresh run: default {GANTrainConfig.r1_gamma}; a resumed run keeps its own "
                        "unless this is given)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--augment", help="train: D's augmentations, e.g. 'xflip,translation,cutout' (adaptive p); "
                                     "'' for none; a resumed run keeps its own unless given")
    p.add_argument("--d-channels", help="train: D's channels per resolution, e.g. '64:32,32:64,16:128,8:128,4:128'; "
                                        "a resumed run given other channels goes on with a fresh D of that size")
    p.add_argument("--mbstd-group", type=int, help="train: samples per group of D's minibatch-stddev feature "
                                                   f"(default {DiscriminatorConfig.mbstd_group}; larger groups see "
                                                   "more of the batch's variety); a resumed run given another "
                                                   "goes on with a fresh D")
    p.add_argument("--d-pack", type=int, help="train: PacGAN, D judges this many pictures at once (stacked on its "
                                              "input channels; default 1) against mode collapse; a resumed run given "
                                              "another goes on with a fresh D")
    p.add_argument("--g-lr-scale", type=float, default=1.0, help="train, fresh run: G's learning rate over D's "
                                                                    "(e.g. 0.25 to fine-tune a warm-started G)")
    p.add_argument("--recon-weight", type=float, default=None,
                   help="train: the reconstruction anchor's weight (an encoder trained beside G redraws the real "
                        "pictures through G; with --init-from, E starts from that folder's encoder); 0 or none: off. "
                        "A resumed run given it takes it (an encoder is added, from --init-from's when given)")
    p.add_argument("--latent-weight", type=float, default=None,
                   help="train, with the anchor: the weight of E's error on the codes of G's own samples (pSp / "
                        "e4e); a resumed run takes it when given")
    p.add_argument("--recon-adv", type=float, default=None,
                   help="train, with the anchor: D also judges the redrawn real pictures as fakes and G and E learn "
                        "to make them pass (VAE-GAN), with this weight; a resumed run takes it when given")
    p.add_argument("--ckpt-minutes", type=float, default=10.0)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--quality-every", type=int, default=250)
    p.add_argument("--quality", default="default", help="'default', 'none' or module:function")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 on the shared CPU)")
    p.add_argument("--out", type=Path, help=f"snapshot (default {GAN_CHECKPOINT.relative_to(GAN_CHECKPOINT.parents[2])}) / "
                                            f"export (default {EXPORT_DIR}): the folder to write")
    return p


def main(argv=None) -> None:
    a = parser().parse_args(argv)
    torch.set_num_threads(a.threads)

    def log(msg):
        print(time.strftime("%H:%M:%S"), msg, flush=True)

    if a.command == "train":
        cfg, d_cfg = config_from_args(a)
        res = train(a.run_dir, cfg, deadline_from(a.until, a.minutes), a.max_steps, resume_from=a.resume_from,
                    init_from=a.init_from, ckpt_every_s=60 * a.ckpt_minutes, log_every=a.log_every,
                    quality_every=a.quality_every, quality=resolve_quality(a.quality), log=log,
                    augment=a.augment, discriminator=d_cfg, r1_gamma=a.r1_gamma, batch=a.batch,
                    recon_weight=a.recon_weight, latent_weight=a.latent_weight, recon_adv=a.recon_adv)
    elif a.command == "snapshot":
        res = snapshot(a.run_dir, a.out or GAN_CHECKPOINT)
    elif a.command == "curve":
        res = plot_curve(a.run_dir, a.out or Path(a.run_dir) / "curve.png", Path(a.run_dir) / "judge-readings.jsonl")
    else:
        res = export(a.run_dir, a.out or EXPORT_DIR)
    print(json.dumps(res))


if __name__ == "__main__":
    main()

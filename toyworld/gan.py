"""Training the embedded StyleGAN (`python -m toyworld.train stylegan`).

The generator writes the 4 x 16 x 16 latents of the toy diffusion model's VAE (scaled by its
scaling factor), and that VAE decodes them to 64 x 64 pixels. The discriminator only ever sees
latents, so a training step costs a small fraction of a pixel-space one (measured cost of both
options: assets/toy-stylegan/README.md). Loss: non-saturating logistic, lazy R1 on the reals,
style mixing, an EMA copy of the generator for export; `w_avg` tracked as in StyleGAN2.
"""
from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from edits.stylegan import EqualConv2d, EqualLinear, Generator, StyleGANConfig, fused_lrelu, save_generator

RUNS = Path("runs")
ASSETS = Path("assets")


class DBlock(nn.Module):
    """Residual discriminator block: two 3x3 convs, then 2x average-pool downsampling."""

    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.conv1 = EqualConv2d(in_ch, in_ch, 3, padding=1)
        self.conv2 = EqualConv2d(in_ch, out_ch, 3, padding=1)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x):
        y = fused_lrelu(self.conv1(x))
        y = F.avg_pool2d(fused_lrelu(self.conv2(y)), 2)
        return (y + F.avg_pool2d(self.skip(x), 2)) / math.sqrt(2)


class Discriminator(nn.Module):
    """Residual discriminator on latents; with `out_dim=w_dim` and no minibatch-std, the encoder."""

    def __init__(self, cfg: StyleGANConfig, out_dim: int = 1, mbstd: bool = True):
        super().__init__()
        self.mbstd = mbstd
        ch, r = cfg.channels, cfg.resolution
        self.from_rgb = EqualConv2d(cfg.img_channels, ch[r], 1)
        blocks = []
        while r > 4:
            blocks.append(DBlock(ch[r], ch[r // 2]))
            r //= 2
        self.blocks = nn.Sequential(*blocks)
        self.final_conv = EqualConv2d(ch[4] + int(mbstd), ch[4], 3, padding=1)
        self.fc1 = EqualLinear(ch[4] * 16, ch[4], activation=True)
        self.fc2 = EqualLinear(ch[4], out_dim)

    def forward(self, x):
        x = self.blocks(fused_lrelu(self.from_rgb(x)))  # (B, C, 4, 4)
        if not self.mbstd:
            return self.fc2(self.fc1(fused_lrelu(self.final_conv(x)).flatten(1)))
        g = min(4, x.shape[0])
        b, c, h, w = x.shape
        y = x.view(g, -1, c, h, w)  # minibatch standard deviation, groups of g
        y = (y.var(0, unbiased=False) + 1e-8).sqrt().mean([1, 2, 3]).view(-1, 1, 1, 1).repeat(g, 1, h, w)
        x = fused_lrelu(self.final_conv(torch.cat([x, y], 1)))
        return self.fc2(self.fc1(x.flatten(1)))


def _mix_latents(g: Generator, batch: int, prob: float, gen: torch.Generator) -> torch.Tensor:
    z = torch.randn(2, batch, g.cfg.z_dim, generator=gen)
    w1, w2 = g.mapping(z[0]), g.mapping(z[1])
    wp = g.broadcast(w1).clone()
    if float(torch.rand(1, generator=gen)) < prob:
        cut = int(torch.randint(1, g.n_latent, (1,), generator=gen))
        wp[:, cut:] = w2[:, None, :]
    return wp, w1


def mmd(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Maximum mean discrepancy between two samples (N, D), (M, D): Gaussian kernels at several
    bandwidths around the median distance (robust to the codes' overall scale)."""
    x = torch.cat([a, b])
    d2 = torch.cdist(x, x).pow(2)  # (N+M, N+M)
    med = d2.detach()[d2.detach() > 0].median()
    k = sum(torch.exp(-d2 / (s * med)) for s in (0.25, 1.0, 4.0))
    n = len(a)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def train_stylegan(steps: int = 6000, batch: int = 32, lr: float = 0.002, r1_gamma: float = 0.1,
                   r1_every: int = 16, mixing: float = 0.5, out: Path = ASSETS / "toy-stylegan",
                   export_every: int = 500, log=print, rec_weight: float = 10.0, mmd_weight: float = 10.0) -> dict:
    """Adversarial training (non-saturating loss, lazy R1) plus an autoencoding path: an encoder E maps
    real latents to w and the synthesis must reconstruct them (`rec_weight`), while the mapping network
    learns to produce the encoder's distribution of w and the encoder stays within the mapping's range
    (MMD in both directions, `mmd_weight`). On this CPU budget the
    pure GAN drew colour blobs after 2500 steps (see the model card); the reconstruction teaches the
    synthesis network the toy world's scenes directly. rec_weight = mmd_weight = 0 is the plain GAN."""
    from diffusers import AutoencoderKL

    cfg = StyleGANConfig()
    vae_dir = RUNS / "vae"
    sf = AutoencoderKL.load_config(vae_dir)["scaling_factor"]
    with np.load(RUNS / "latents.npz") as f:
        reals_all = torch.from_numpy(f["mean"]) * sf  # (N, 4, 16, 16), what the UNet learns too
    G, D = Generator(cfg), Discriminator(cfg)
    E = Discriminator(cfg, out_dim=cfg.w_dim, mbstd=False)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    g_opt = torch.optim.Adam(list(G.parameters()) + list(E.parameters()), lr, betas=(0.0, 0.99))
    d_ratio = r1_every / (r1_every + 1)
    d_opt = torch.optim.Adam(D.parameters(), lr * d_ratio, betas=(0.0, 0.99 ** d_ratio))
    ck = RUNS / "stylegan_ae.ckpt"
    start, t_prev = 0, 0.0
    if ck.exists():
        s = torch.load(ck, weights_only=True)
        G.load_state_dict(s["G"]); D.load_state_dict(s["D"]); G_ema.load_state_dict(s["G_ema"])
        E.load_state_dict(s["E"]); g_opt.load_state_dict(s["g_opt"]); d_opt.load_state_dict(s["d_opt"])
        start, t_prev = s["step"], s["wall"]
        log(f"stylegan resumed at step {start}")
    elif (RUNS / "stylegan.ckpt").exists():  # warm start from a plain-GAN run
        s = torch.load(RUNS / "stylegan.ckpt", weights_only=True)
        G.load_state_dict(s["G"]); D.load_state_dict(s["D"]); G_ema.load_state_dict(s["G_ema"])
        t_prev = s["wall"]
        log(f"stylegan warm-started from the plain GAN at step {s['step']}")
    gen = torch.Generator().manual_seed(20_000 + start)
    ema_decay = 0.5 ** (batch / 10_000)  # half-life of 10k images
    t0, hist, rec_hist = time.time(), [], [(0.0, 0.0)]
    for step in range(start, steps):
        # ---- discriminator
        real = reals_all[torch.randint(0, len(reals_all), (batch,), generator=gen)]
        with torch.no_grad():
            wp, _ = _mix_latents(G, batch, mixing, gen)
            fake = G.synthesis(wp, randomize_noise=True)
        d_loss = F.softplus(D(fake)).mean() + F.softplus(-D(real)).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        if step % r1_every == 0:
            real.requires_grad_(True)
            grad, = torch.autograd.grad(D(real).sum(), real, create_graph=True)
            r1 = grad.pow(2).flatten(1).sum(1).mean()
            d_opt.zero_grad(set_to_none=True)
            (r1_gamma / 2 * r1 * r1_every).backward()
            d_opt.step()
        # ---- generator (+ encoder)
        wp, w1 = _mix_latents(G, batch, mixing, gen)
        g_loss = F.softplus(-D(G.synthesis(wp, randomize_noise=True))).mean()
        total = g_loss
        if rec_weight or mmd_weight:
            real = real.detach().requires_grad_(False)
            w_e = E(real)  # (B, w_dim)
            rec = F.mse_loss(G.synthesis(G.broadcast(w_e), randomize_noise=True), real)
            z = torch.randn(4 * batch, cfg.z_dim, generator=gen)
            dist = mmd(G.mapping(z), w_e)  # both ways: the encoder's codes also move towards what the mapping draws
            total = total + rec_weight * rec + mmd_weight * dist
            rec_hist.append((rec.item(), dist.item()))
        g_opt.zero_grad(set_to_none=True)
        total.backward()
        g_opt.step()
        with torch.no_grad():
            G.w_avg.lerp_(w1.mean(0), 1 - 0.995)
            for pe, pm in zip(G_ema.parameters(), G.parameters()):
                pe.lerp_(pm, 1 - ema_decay)
            G_ema.w_avg.copy_(G.w_avg)
        hist.append((d_loss.item(), g_loss.item()))
        if step % 50 == 0:
            d_m, g_m = np.mean(hist[-50:], axis=0)
            r_m, m_m = np.mean(rec_hist[-50:], axis=0)
            log(f"stylegan step {step} d {d_m:.3f} g {g_m:.3f} rec {r_m:.4f} mmd {m_m:.4f} "
                f"({(time.time() - t0) / max(1, step - start + 1):.2f} s/step)")
        done = step == steps - 1
        if (step + 1) % 250 == 0 or done:
            wall = t_prev + time.time() - t0
            torch.save({"G": G.state_dict(), "D": D.state_dict(), "G_ema": G_ema.state_dict(), "E": E.state_dict(),
                        "g_opt": g_opt.state_dict(), "d_opt": d_opt.state_dict(), "step": step + 1, "wall": wall},
                       ck.with_suffix(".tmp"))
            ck.with_suffix(".tmp").replace(ck)
            if (step + 1) % export_every == 0 or done:
                save_generator(G_ema, out, extra={"decoder": "../toy-diffusion/vae", "latent_scale": sf})
                (out / "training.json").write_text(json.dumps({
                    "steps": step + 1, "batch": batch, "lr": lr, "r1_gamma": r1_gamma, "style_mixing": mixing,
                    "train_latents": len(reals_all), "wall_s": round(wall, 1), "rec_weight": rec_weight,
                    "mmd_weight": mmd_weight, "final_rec_50": round(float(np.mean([h[0] for h in rec_hist[-50:]])), 5),
                    "g_params_M": round(sum(p.numel() for p in G.parameters()) / 1e6, 3),
                    "d_params_M": round(sum(p.numel() for p in D.parameters()) / 1e6, 3),
                    "final_d_loss_50": round(float(np.mean([h[0] for h in hist[-50:]])), 4),
                    "final_g_loss_50": round(float(np.mean([h[1] for h in hist[-50:]])), 4)}, indent=1))
                log(f"exported {out} at step {step + 1}")
    return {"steps": steps}

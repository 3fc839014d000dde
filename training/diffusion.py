"""Train the diffusion model on the toy world: the VAE, its sharpened decoder, the text encoder + UNet on
VAE latents (assets/toy-diffusion), and the skip-cut hourglass (assets/toy-diffusion-hourglass).
Run through `python -m training vae|decoder|diffusion|hourglass|export`.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from nets.diffusion import DiffusionConfig, cut_skips, make_schedulers, make_text_encoder, make_unet, make_vae
from toyworld.data import arrays_to_scene, make_dataset
from toyworld.tokenizer import save_tokenizer
from toyworld.world import VOCAB_WORDS, caption

from .common import (ASSETS, RUNS, ema_of, load_ckpt, log, lr_at, reconstruction_loss, save_ckpt, to_tensor,
                     weights)


def train_vae(cfg: DiffusionConfig, steps: int = 1200, batch: int = 32, kl_weight: float = 1e-6) -> dict:
    data = make_dataset(40_000, seed=3)
    vae = make_vae(cfg)
    opt = torch.optim.AdamW(vae.parameters(), 1e-3)
    ck = RUNS / "vae.ckpt"
    state, start, t_prev = load_ckpt(ck), 0, 0.0
    if state:
        vae.load_state_dict(state["model"]); opt.load_state_dict(state["opt"])
        start, t_prev = state["step"], state["wall"]
        log(f"vae resumed at step {start}")
    g = torch.Generator().manual_seed(start)
    t0 = time.time()
    for step in range(start, steps):
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, steps, 1e-3, 50)
        idx = torch.randint(0, len(data["images"]), (batch,), generator=g).numpy()
        x = to_tensor(data["images"][idx])
        post = vae.encode(x).latent_dist
        # Decode the posterior mean (an autoencoder with a small KL): sampled latents with the initial
        # std of 1 drown the code and need far more steps than this budget (seen: colours lost at step 300).
        y = vae.decode(post.mean).sample
        rec = reconstruction_loss(y, x)
        loss = rec + kl_weight * post.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"vae step {step} rec {rec.item():.4f}")
        if (step + 1) % 150 == 0 or step == steps - 1:
            save_ckpt(ck, model=vae.state_dict(), opt=opt.state_dict(), step=step + 1,
                      wall=t_prev + time.time() - t0)
    vae.eval()
    test = to_tensor(make_dataset(1000, seed=4)["images"])
    with torch.no_grad():
        z = torch.cat([vae.encode(test[i:i + 250]).latent_dist.mean for i in range(0, 1000, 250)])
        rec = torch.cat([vae.decode(z[i:i + 250]).sample for i in range(0, 1000, 250)])
    vae.register_to_config(scaling_factor=float(1.0 / z.std()))
    wall = (load_ckpt(ck) or {}).get("wall", 0.0)
    metrics = {"steps": steps, "batch": batch, "wall_s": round(wall, 1),
               "test_l1_255": round(float((rec - test).abs().mean() * 127.5), 2),
               "latent_std": round(float(z.std()), 4)}
    vae.save_pretrained(RUNS / "vae")
    (RUNS / "vae" / "metrics.json").write_text(json.dumps(metrics))
    log(f"vae done {metrics}")
    return metrics


def finetune_decoder(steps: int = 800, batch: int = 32, lr: float = 3e-4) -> dict:
    """Sharpen the VAE decoder with the encoder frozen, so the latents (and the UNet trained on
    them) stay valid. Seen before this step: small stars decoded as pentagons."""
    from diffusers import AutoencoderKL

    data = make_dataset(40_000, seed=3)
    vae = AutoencoderKL.from_pretrained(RUNS / "vae")
    vae.encoder.requires_grad_(False)
    vae.quant_conv.requires_grad_(False)
    params = [p for p in vae.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr)
    ck = RUNS / "decoder.ckpt"
    state, start, t_prev = load_ckpt(ck), 0, 0.0
    if state:
        vae.load_state_dict(state["model"]); opt.load_state_dict(state["opt"])
        start, t_prev = state["step"], state["wall"]
    g = torch.Generator().manual_seed(10_000 + start)
    t0 = time.time()
    for step in range(start, steps):
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, steps, lr, 20)
        idx = torch.randint(0, len(data["images"]), (batch,), generator=g).numpy()
        x = to_tensor(data["images"][idx])
        with torch.no_grad():
            z = vae.encode(x).latent_dist.mean
        y = vae.decode(z).sample
        rec = reconstruction_loss(y, x)
        opt.zero_grad(set_to_none=True)
        rec.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"decoder step {step} rec {rec.item():.4f}")
        if (step + 1) % 100 == 0 or step == steps - 1:
            save_ckpt(ck, model=vae.state_dict(), opt=opt.state_dict(), step=step + 1, wall=t_prev + time.time() - t0)
    vae.eval()
    test = to_tensor(make_dataset(1000, seed=4)["images"])
    with torch.no_grad():
        rec = torch.cat([vae.decode(vae.encode(test[i:i + 250]).latent_dist.mean).sample for i in range(0, 1000, 250)])
    metrics = json.loads((RUNS / "vae" / "metrics.json").read_text())
    metrics.update(decoder_finetune_steps=steps, decoder_finetune_wall_s=round((load_ckpt(ck) or {}).get("wall", 0.0), 1),
                   test_l1_255=round(float((rec - test).abs().mean() * 127.5), 2))
    vae.save_pretrained(RUNS / "vae_final")
    (RUNS / "vae_final" / "metrics.json").write_text(json.dumps(metrics))
    log(f"decoder done {metrics}")
    return metrics


@torch.no_grad()
def encode_latents(vae, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    means, stds = [], []
    for i in range(0, len(images), 500):
        d = vae.encode(to_tensor(images[i:i + 500])).latent_dist
        means.append(d.mean.numpy()); stds.append(d.std.numpy())
    return np.concatenate(means), np.concatenate(stds)


# ------------------------------------------------------------ diffusion
def export_pipeline(cfg: DiffusionConfig, vae, text_encoder, unet, out: Path, metrics: dict) -> None:
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    _, ddim = make_schedulers(cfg)
    tok = CLIPTokenizer.from_pretrained(RUNS / "tokenizer")
    pipe = StableDiffusionPipeline(
        vae=copy.deepcopy(vae).half(), text_encoder=copy.deepcopy(text_encoder).half(),
        tokenizer=tok, unet=copy.deepcopy(unet).half(), scheduler=ddim, safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )
    tmp = out.with_name(out.name + ".tmp")
    pipe.save_pretrained(tmp, safe_serialization=True)
    (tmp / "training.json").write_text(json.dumps(metrics, indent=1))
    if (out / "README.md").exists():
        (tmp / "README.md").write_text((out / "README.md").read_text())
    import shutil

    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


PREDICTIONS = ("epsilon", "v_prediction", "sample")


def _shipped_vae() -> Path:
    """On a fresh machine runs/ is empty: the shipped VAE (sharpened decoder) becomes runs/vae_final. Its
    encoder gives the same latents as runs/vae's (the encoder was frozen when `decoder` sharpened it)."""
    final = RUNS / "vae_final"
    if not (final / "metrics.json").exists():
        from diffusers import AutoencoderKL

        shipped = ASSETS / "toy-diffusion"
        AutoencoderKL.from_pretrained(shipped / "vae", torch_dtype=torch.float32).save_pretrained(final)
        (final / "metrics.json").write_text(json.dumps(json.loads((shipped / "training.json").read_text())["vae"]))
    return final


def _init_weights(init: Path) -> dict:
    """EMA weights to start a run from: a checkpoint in runs/, or a shipped pipeline folder (fp16 -> fp32)."""
    if not init.is_dir():
        return load_ckpt(init)
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel

    unet = UNet2DConditionModel.from_pretrained(init / "unet", torch_dtype=torch.float32)
    te = CLIPTextModel.from_pretrained(init / "text_encoder", torch_dtype=torch.float32)
    steps = json.loads((init / "training.json").read_text()).get("steps", 0)
    return {"ema_unet": unet.state_dict(), "ema_te": te.state_dict(), "step": steps}


def _training_latents(vae, images: np.ndarray) -> np.ndarray:
    """The VAE's posterior means of the training images, cached in runs/latents.npz."""
    lat_path = RUNS / "latents.npz"
    if lat_path.exists():
        with np.load(lat_path) as f:
            return f["mean"]
    log("encoding the training set to latents")
    lat_mean, lat_std = encode_latents(vae, images)
    np.savez(lat_path, mean=lat_mean, std=lat_std)
    return lat_mean


def diffusion_loss(unet, text: torch.Tensor, ddpm, z0: torch.Tensor, prediction: str,
                   g: torch.Generator) -> torch.Tensor:
    """The UNet's loss on clean latents z0 (B, 4, h, w) noised at random timesteps: squared error of its
    `prediction` ("epsilon", "v_prediction" or "sample"), min-SNR-5 weighted in that prediction's form."""
    noise = torch.randn(z0.shape, generator=g)
    t = torch.randint(0, 1000, (len(z0),), generator=g)
    zt = ddpm.add_noise(z0, noise, t)
    pred = unet(zt, t, text).sample
    acp = ddpm.alphas_cumprod  # (1000,)
    snr = acp[t] / (1 - acp[t])
    if prediction == "v_prediction":
        target = ddpm.get_velocity(z0, noise, t)
        w = torch.clamp(snr, max=5.0) / (snr + 1)  # min-SNR-5 weighting, v form
    elif prediction == "sample":
        target = z0
        w = torch.clamp(snr, max=5.0)  # min-SNR-5 weighting, x0 form
    else:
        target = noise
        w = torch.clamp(snr, max=5.0) / snr  # min-SNR-5 weighting (epsilon prediction)
    return (w * (pred - target).pow(2).mean(dim=(1, 2, 3))).mean()


def train_diffusion(cfg: DiffusionConfig, steps: int = 3000, batch: int = 64, lr: float = 5e-4,
                    out: Path = ASSETS / "toy-diffusion", export_every: int = 500, prediction: str = "epsilon",
                    ckpt: Path = RUNS / "diffusion.ckpt", init: Path | None = None, warmup: int = 200,
                    ema_cap: float = 0.999, skips_kept: int | None = None) -> dict:
    """Train the UNet (and text encoder) on the VAE latents of the toy world.

    `prediction` is the UNet's target ("epsilon", "v_prediction" or "sample"); `init` starts a new run (its
    own `ckpt`) from a checkpoint's or a shipped folder's EMA weights with a fresh optimiser (fine-tunes
    start this way); `skips_kept` = k cuts every skip but the last k (`cut_skips`; None: the skips stay).
    The loop is here; its setup (`_training_data`, `_nets`, `_resume`) and batches (`_batch`) stand apart.
    """
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, not {prediction!r}")
    cfg = dataclasses.replace(cfg, prediction_type=prediction)
    vae, data, lat_mean, tok = _training_data(cfg)
    te, unet, ema_te, ema_unet, params, opt = _nets(cfg, len(tok), lr)
    ddpm, _ = make_schedulers(cfg)
    start, t_prev = _resume(ckpt, init, prediction, skips_kept, unet, te, ema_unet, ema_te, opt)
    ema = ema_of([ema_unet, ema_te], ema_cap, updates_done=start)
    seed = 1000 + start + (50_000 if init is not None else 0)  # a fine-tune draws other batches
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)
    n_params = sum(p.numel() for p in unet.parameters())
    log(f"unet {n_params / 1e6:.2f} M params, text encoder {sum(p.numel() for p in te.parameters()) / 1e6:.2f} M")
    t0 = time.time()
    losses = []
    for step in range(start, steps):
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, steps, lr, warmup)
        ids, z0 = _batch(data, lat_mean, vae.config.scaling_factor, tok, cfg.max_length, rng, batch)
        loss = diffusion_loss(unet, te(ids)[0], ddpm, z0, prediction, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if skips_kept is not None:
            cut_skips(unet, skips_kept)  # the optimiser's momentum must not regrow them
        ema.step(params)  # params: unet's then te's, as ema_of's copies
        losses.append(loss.item())
        if step % 50 == 0:
            log(f"diffusion step {step} loss {np.mean(losses[-50:]):.4f} "
                f"({(time.time() - t0) / max(1, step - start + 1):.2f} s/step)")
        done = step == steps - 1
        if (step + 1) % 250 == 0 or done:
            wall = t_prev + time.time() - t0
            ema.copy_to(weights(ema_unet, ema_te))
            save_ckpt(ckpt, unet=unet.state_dict(), te=te.state_dict(), ema_unet=ema_unet.state_dict(),
                      ema_te=ema_te.state_dict(), opt=opt.state_dict(), step=step + 1, wall=wall)
            if (step + 1) % export_every == 0 or done:
                vae_out, vae_metrics = _vae_to_ship(vae)
                export_pipeline(cfg, vae_out, ema_te, ema_unet, out, {
                    "unet_params_M": round(n_params / 1e6, 2), "steps": step + 1, "batch": batch, "lr": lr,
                    "train_images": len(lat_mean), "diffusion_wall_s": round(wall, 1),
                    "final_loss_50": round(float(np.mean(losses[-50:])), 4), "vae": vae_metrics,
                    "prediction_type": prediction, "init": str(init) if init else None,
                    "skips_cut": skips_kept is not None, "skips_kept": skips_kept,
                })
                log(f"exported {out} at step {step + 1}")
    return {"steps": steps}


def _training_data(cfg: DiffusionConfig):
    """(the VAE, the 40 000 training scenes, their latents, the tokenizer) of a diffusion run."""
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(RUNS / "vae" if (RUNS / "vae").is_dir() else _shipped_vae()).eval()
    data = make_dataset(40_000, seed=3)
    lat_mean = _training_latents(vae, data["images"])
    tok = save_tokenizer(VOCAB_WORDS, RUNS / "tokenizer", cfg.max_length)
    return vae, data, lat_mean, tok


def _nets(cfg: DiffusionConfig, vocab_size: int, lr: float):
    """Fresh (text encoder, UNet, their EMA copies, the trained parameters, the optimiser)."""
    te = make_text_encoder(cfg, vocab_size)
    unet = make_unet(cfg)
    ema_te, ema_unet = copy.deepcopy(te).eval(), copy.deepcopy(unet).eval()
    params = list(unet.parameters()) + list(te.parameters())
    opt = torch.optim.AdamW(params, lr, weight_decay=1e-2)
    return te, unet, ema_te, ema_unet, params, opt


def _resume(ckpt: Path, init: Path | None, prediction: str, skips_kept: int | None, unet, te, ema_unet, ema_te,
            opt) -> tuple[int, float]:
    """Load the run's checkpoint (everything), or for a new run with `init` its starting weights (into the
    modules and their EMA copies, skips cut as asked); (the step to start at, the wall time so far)."""
    state, start, t_prev = load_ckpt(ckpt), 0, 0.0
    if state is None and init is not None:
        base = _init_weights(init)
        for m, ema, key in ((unet, ema_unet, "ema_unet"), (te, ema_te, "ema_te")):
            m.load_state_dict(base[key]); ema.load_state_dict(base[key])
        log(f"diffusion ({prediction}) initialised from {init} at its step {base['step']}")
        if skips_kept is not None:
            cut_skips(unet, skips_kept); cut_skips(ema_unet, skips_kept)
    if state:
        unet.load_state_dict(state["unet"]); te.load_state_dict(state["te"])
        ema_unet.load_state_dict(state["ema_unet"]); ema_te.load_state_dict(state["ema_te"])
        opt.load_state_dict(state["opt"])
        start, t_prev = state["step"], state["wall"]
        log(f"diffusion resumed at step {start}")
    return start, t_prev


def _batch(data: dict, lat_mean: np.ndarray, scale: float, tok, max_length: int, rng: np.random.Generator,
           batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(token ids of fresh captions, scaled latents) of `batch` random training scenes."""
    idx = rng.integers(0, len(lat_mean), batch)
    caps = [caption(arrays_to_scene(data, int(i)), rng) for i in idx]
    ids = tok(caps, padding="max_length", max_length=max_length, truncation=True, return_tensors="pt").input_ids
    z0 = torch.from_numpy(lat_mean[idx]) * scale  # (B, 4, 16, 16): the VAE is used as an autoencoder
    return ids, z0


def _vae_to_ship(vae):
    """(the VAE to export, its metrics): the sharpened decoder when `decoder` has run, else `vae` itself."""
    from diffusers import AutoencoderKL

    final = RUNS / "vae_final"
    vae_out = AutoencoderKL.from_pretrained(final) if final.is_dir() else vae
    vae_metrics = json.loads(((final if final.is_dir() else RUNS / "vae") / "metrics.json").read_text())
    return vae_out, vae_metrics


HOURGLASS = {"steps": 7000, "lr": 4e-4, "warmup": 100, "ema_cap": 0.998, "skips_kept": 1}


def train_hourglass(cfg: DiffusionConfig, steps: int = HOURGLASS["steps"],
                    out: Path = ASSETS / "toy-diffusion-hourglass",
                    init: Path | None = None) -> dict:
    """Fine-tune the epsilon UNet into the h-space model: skips cut but conv_in's (`cut_skips`), x0-prediction.

    Why (assets/directions/FINDINGS.md): with its skip connections the UNet decides an unsaid colour from
    the starting noise's values at the object's pixels, carried around the bottleneck, so h is read but
    not used. With the skips cut, everything the decoder half knows of the noisy input passes through h.
    A decoder with no skips cannot predict the noise itself, so it predicts the clean latent (x0).
    Its own checkpoint (runs/diffusion_x.ckpt); starts from runs/diffusion.ckpt, else the shipped weights.
    """
    return train_diffusion(cfg, steps=steps, lr=HOURGLASS["lr"], warmup=HOURGLASS["warmup"],
                           ema_cap=HOURGLASS["ema_cap"], prediction="sample", skips_kept=HOURGLASS["skips_kept"],
                           ckpt=RUNS / "diffusion_x.ckpt",
                           init=init or (RUNS / "diffusion.ckpt" if (RUNS / "diffusion.ckpt").exists()
                                         else ASSETS / "toy-diffusion"),
                           out=out, export_every=1000)


def export_final(cfg: DiffusionConfig, out: Path = ASSETS / "toy-diffusion") -> None:
    """Re-export the last diffusion checkpoint's EMA weights (e.g. after `decoder` sharpened the VAE)."""
    from diffusers import AutoencoderKL

    state = load_ckpt(RUNS / "diffusion.ckpt")
    if state is None:
        raise SystemExit("no diffusion checkpoint in runs/ to export")
    tok = save_tokenizer(VOCAB_WORDS, RUNS / "tokenizer", cfg.max_length)
    te, unet = make_text_encoder(cfg, len(tok)), make_unet(cfg)
    te.load_state_dict(state["ema_te"]); unet.load_state_dict(state["ema_unet"])
    final = RUNS / "vae_final" if (RUNS / "vae_final").is_dir() else RUNS / "vae"
    metrics = json.loads((out / "training.json").read_text())
    metrics["vae"] = json.loads((final / "metrics.json").read_text())
    export_pipeline(cfg, AutoencoderKL.from_pretrained(final), te.eval(), unet.eval(), out, metrics)
    log(f"exported {out} from the step-{state['step']} checkpoint with {final.name}")

"""A StyleGAN whose training never sees a factor label (`python -m training.stylegan_label_free`).

    python -m training.stylegan_label_free train --run-dir /work/runs/label_free --until 06:05
    python -m training.stylegan_label_free export --run-dir /work/runs/label_free

Only pictures of the toy world go in (`ImagesOnly`: the cached training set with every label column
dropped when it is loaded): no captions, no scene pairs, no hand-decoded z.

- Stage 1 (`train`, resumable, wall-clock budgeted): an encoder E (image -> w, StyleGAN2's residual
  discriminator layout) and the StyleGAN2 synthesis network learn to redraw each picture from E's code
  (object-weighted L1 + L2 plus L1 on pixel differences), with Gaussian noise on the codes so that the
  network draws a clean picture from every point near a real code. EMA copies (diffusers' EMAModel) are
  what is exported. A checkpoint (weights, EMA, optimiser) is written every few minutes to the run folder
  and the run continues from it when restarted; without one it starts from the exported fp16 weights in
  `--init` (fresh optimiser) if they exist, else from scratch.
- Stage 2 (`export`): the EMA encoder's codes of the training pictures; the StyleGAN mapping MLP
  (learning-rate multiplier 0.01) is trained as a GAN in W against those codes (`train_mapping`, no
  labels), `w_avg` is the mean of its samples, and the generator and the encoder go to assets/ as fp16
  safetensors with training.json.

Labels enter only afterwards, to fit directions (`python -m edits.fit wspace`) and to measure.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import torch

from nets.encoder import ENCODER_FILE, Encoder, load_encoder_weights, save_encoder_weights
from nets.stylegan import Generator, StyleGANConfig, save_generator
from toyworld.settings import LABEL_FREE_GAN

from .common import reconstruction_loss
from .stylegan_labelled import edge_loss, train_mapping

OUT = LABEL_FREE_GAN
N_TRAIN, TRAIN_SEED = 40_000, 3  # the same pictures the label-built model was trained on
CKPT_NAME = "label_free.ckpt"


class ImagesOnly:
    """The toy-world training pictures, and nothing else: the labels make_dataset caches beside them are
    dropped here, so no code downstream can reach a factor, a caption or a scene's geometry."""

    def __init__(self, n: int = N_TRAIN, seed: int = TRAIN_SEED):
        from toyworld.data import make_dataset

        self._images = make_dataset(n, seed)["images"]  # (N, 64, 64, 3) uint8; the dict is not kept

    def __len__(self) -> int:
        return len(self._images)

    def batch(self, idx: np.ndarray) -> torch.Tensor:
        """Pictures idx as a float tensor (B, 3, 64, 64) in [-1, 1]."""
        return torch.from_numpy(self._images[idx]).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def make_models(cfg: StyleGANConfig | None = None) -> tuple[Generator, Encoder]:
    cfg = cfg or StyleGANConfig()
    return Generator(cfg), Encoder(cfg)


def _trainable(G: Generator, E: Encoder) -> list[torch.nn.Parameter]:
    """Synthesis and encoder parameters (the mapping MLP is trained in stage 2)."""
    return [p for n, p in G.named_parameters() if not n.startswith("style.")] + list(E.parameters())


def _load_init(G: Generator, E: Encoder, init: Path, log) -> tuple[int, float] | None:
    """Start from exported fp16 weights (a fresh optimiser), when there are any; returns the stage-1 steps and
    wall seconds those weights had already trained (from their training.json), so the count goes on."""
    from safetensors.torch import load_file

    if not ((init / "generator.safetensors").is_file() and (init / ENCODER_FILE).is_file()):
        return None
    state = load_file(str(init / "generator.safetensors"))  # the mapping is retrained in stage 2: not loaded
    G.load_state_dict({k: v.float() for k, v in state.items() if not k.startswith("style.")}, strict=False)
    load_encoder_weights(E, init, ENCODER_FILE)
    done = json.loads((init / "training.json").read_text()) if (init / "training.json").is_file() else {}
    steps, wall = int(done.get("stage1_steps", 0)), float(done.get("stage1_wall_s", 0.0))
    log(f"label-free: no checkpoint; starting from the exported weights in {init} after {steps} steps "
        f"(fresh optimiser)")
    return steps, wall


def deadline_from(until: str | None, minutes: float | None) -> float:
    """Epoch seconds to stop at: `minutes` from now, or the next `until` (HH:MM UTC), or never."""
    if minutes is not None:
        return time.time() + 60 * minutes
    if until is None:
        return float("inf")
    h, m = (int(v) for v in until.split(":"))
    now = dt.datetime.now(dt.timezone.utc)
    t = now.replace(hour=h, minute=m, second=0, microsecond=0)
    return (t if t > now else t + dt.timedelta(days=1)).timestamp()


def train_step(G, E, real, opt, gen, code_noise, edge_weight, bf16) -> float:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        w = E(real)  # (B, w_dim)
        w_in = w + code_noise * w.detach().std(0).mean() * torch.randn(w.shape, generator=gen)
        fake = G.synthesis(G.broadcast(w_in), randomize_noise=True).float()
    loss = reconstruction_loss(fake, real) + edge_weight * edge_loss(fake, real)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def train(run_dir: Path, deadline: float = float("inf"), max_steps: int | None = None, batch: int = 32,
          lr: float = 0.002, code_noise: float = 0.05, edge_weight: float = 2.0, bf16: bool = True,
          ckpt_every_s: float = 300.0, init: Path = OUT, data: ImagesOnly | None = None, seed: int = 0,
          log=print) -> dict:
    """Stage 1 until `deadline` (epoch s) or `max_steps` (total); resumes from run_dir/label_free.ckpt."""
    from diffusers.training_utils import EMAModel

    run_dir.mkdir(parents=True, exist_ok=True)
    data = data or ImagesOnly()
    G, E = make_models()
    ck = run_dir / CKPT_NAME
    state = torch.load(ck, weights_only=True) if ck.exists() else None
    resumed = None
    if state is not None:
        G.load_state_dict(state["G"])
        E.load_state_dict(state["E"])
    else:
        resumed = _load_init(G, E, Path(init), log)
    params = _trainable(G, E)
    opt = torch.optim.Adam(params, lr, betas=(0.0, 0.99))
    ema = EMAModel(params, decay=0.5 ** (batch / 10_000))
    step, wall, hist = 0, 0.0, []
    if state is None and resumed:
        step, wall = resumed
    if state is not None:
        opt.load_state_dict(state["opt"])
        ema.load_state_dict(state["ema"])
        step, wall, hist = int(state["step"]), float(state["wall"]), state["hist"].tolist()
        log(f"label-free: resumed at step {step} ({wall / 60:.1f} min trained)")
    gen = torch.Generator().manual_seed(seed + step)
    start, t0 = step, time.time()
    t_ck = t0

    def save():
        tmp = ck.with_suffix(".tmp")
        torch.save({"G": G.state_dict(), "E": E.state_dict(), "opt": opt.state_dict(), "ema": ema.state_dict(),
                    "step": step, "wall": wall + time.time() - t0, "hist": torch.tensor(hist[-1000:]),
                    "batch": batch, "lr": lr, "code_noise": code_noise, "edge_weight": edge_weight}, tmp)
        tmp.replace(ck)

    while time.time() < deadline and (max_steps is None or step < max_steps):
        idx = torch.randint(0, len(data), (batch,), generator=gen).numpy()
        hist.append(train_step(G, E, data.batch(idx), opt, gen, code_noise, edge_weight, bf16))
        ema.step(params)
        step += 1
        if step % 100 == 0:
            log(f"label-free step {step} loss {np.mean(hist[-100:]):.4f} "
                f"({(time.time() - t0) / max(1, step - start):.2f} s/step)")
        if time.time() - t_ck > ckpt_every_s:
            save()
            t_ck = time.time()
    save()
    log(f"label-free: stopped at step {step}, checkpoint {ck}")
    return {"steps": step, "wall_s": round(wall + time.time() - t0, 1)}


def ema_models(run_dir: Path) -> tuple[Generator, Encoder, dict]:
    """The EMA generator and encoder of the last checkpoint, and its bookkeeping."""
    from diffusers.training_utils import EMAModel

    state = torch.load(run_dir / CKPT_NAME, weights_only=True)
    G, E = make_models()
    G.load_state_dict(state["G"])
    E.load_state_dict(state["E"])
    params = _trainable(G, E)
    ema = EMAModel(params)
    ema.load_state_dict(state["ema"])
    ema.copy_to(params)
    info = {k: state[k] for k in ("step", "wall", "batch", "lr", "code_noise", "edge_weight")}
    info["final_loss"] = float(np.mean(state["hist"].tolist()[-200:]))
    return G.eval(), E.eval(), info


@torch.no_grad()
def encode(E: Encoder, data: ImagesOnly, n: int | None = None, batch: int = 500) -> torch.Tensor:
    n = min(len(data), n or len(data))
    return torch.cat([E(data.batch(np.arange(i, min(n, i + batch)))) for i in range(0, n, batch)])  # (n, w_dim)


def export(run_dir: Path, out: Path = OUT, mapping_steps: int = 6000, n_mlp: int = 8, n_codes: int = 20_000,
           data: ImagesOnly | None = None, log=print) -> dict:
    """Stage 2 on the last checkpoint's EMA networks (a GAN in W against the codes of the first `n_codes`
    training pictures), then the files in `out`."""
    G_syn, E, info = ema_models(run_dir)
    t0 = time.time()
    data = data or ImagesOnly()
    codes = encode(E, data, n_codes)
    cfg = StyleGANConfig(n_mlp=n_mlp)
    G = Generator(cfg)
    G.load_state_dict({k: v for k, v in G_syn.state_dict().items() if not k.startswith("style.")}, strict=False)
    G.requires_grad_(False)
    stage2 = train_mapping(codes, G, mapping_steps, log=log)  # GAN in W against the codes: no labels
    out.mkdir(parents=True, exist_ok=True)
    save_generator(G.eval(), out, extra={"label_free": True, "encoder": ENCODER_FILE})
    save_encoder_weights(E, out)
    record = {"recipe": "label-free: reconstruction autoencoder (encoder + StyleGAN2 synthesis) with code noise, "
                        "then the mapping MLP as a GAN in W against the encoder's codes",
              "labels_used_in_training": False, "train_pictures": len(data), "mapping_codes": len(codes), "stage1_steps": info["step"],
              "batch": info["batch"], "lr": info["lr"], "code_noise": info["code_noise"],
              "edge_weight": info["edge_weight"], "stage1_wall_s": round(info["wall"], 1),
              "stage1_final_loss": round(info["final_loss"], 5), "n_mlp": n_mlp, **stage2,
              "export_wall_s": round(time.time() - t0, 1),
              "g_params_M": round(sum(p.numel() for p in G.parameters()) / 1e6, 3),
              "e_params_M": round(sum(p.numel() for p in E.parameters()) / 1e6, 3)}
    (out / "training.json").write_text(json.dumps(record, indent=1))
    log(f"exported {out}")
    return record


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m training.stylegan_label_free")
    p.add_argument("stage", choices=["train", "export"])
    p.add_argument("--run-dir", type=Path, default=Path("runs/label_free"))
    p.add_argument("--until", help="stop training at this UTC time, HH:MM")
    p.add_argument("--minutes", type=float, help="stop training after this many minutes")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--no-bf16", action="store_true")
    p.add_argument("--init", type=Path, default=OUT, help="exported weights to start from without a checkpoint")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--mapping-steps", type=int, default=6000)
    p.add_argument("--n-codes", type=int, default=20_000, help="export: training pictures encoded for the mapping")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads; on a shared 2-core machine 1 was 8x faster per step than 2 (measured)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)

    def log(msg):
        print(time.strftime("%H:%M:%S"), msg, flush=True)

    if a.stage == "train":
        res = train(a.run_dir, deadline_from(a.until, a.minutes), a.max_steps, bf16=not a.no_bf16, init=a.init, log=log)
    else:
        res = export(a.run_dir, a.out, a.mapping_steps, n_codes=a.n_codes, log=log)
    print(json.dumps(res))


if __name__ == "__main__":
    main()

"""An encoder trained after its generator, from pictures alone (pSp / e4e's way): `python -m training.stylegan_encoder`.

    # an encoder for a generator folder (G stays frozen); written into that folder as encoder.safetensors
    python -m training.stylegan_encoder --gan runs/toy-stylegan-gan --steps 1500 --out runs/toy-stylegan-gan
    # how well it inverts: the judge's reading of pictures against their redrawings (no labels in training)
    python -m training.stylegan_encoder --gan FOLDER --evaluate

Each step half the batch is the generator's own samples (z drawn, w = mapping(z) known) and half the toy world's
training pictures (`ImagesOnly`: every label column dropped). The encoder E (nets/encoder.py) learns
- on the samples: E(G(w)) close to w, in units of W's spread per dimension (pSp's latent loss on synthetic data),
  and G(E(x)) close to x;
- on the pictures: G(E(x)) close to x (pixel L1 + L2 + outlines, as edits.wspace.invert's optimisation uses);
- on both, a W-closeness term (e4e's point: inversions far from where the mapping puts its codes redraw well but
  edit badly): the mean squared whitened distance of E(x) from W's mean beyond what W's own samples show.
The generator is frozen; gradients pass through it to E. No factor, caption or label is read here: the code that
reads the judge's verdicts (`evaluate`) runs after training, on pictures the encoder never saw.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from nets.encoder import ENCODER_FILE, Encoder, load_encoder_weights, save_encoder_weights
from nets.stylegan import load_generator


@dataclass
class EncoderTrainConfig:
    steps: int = 1500
    batch: int = 32  # half generator samples, half training pictures
    lr: float = 0.002
    w_weight: float = 1.0  # latent loss on the samples (whitened squared error)
    closeness_weight: float = 0.1  # W-closeness of every code
    seed: int = 0
    n_pictures: int = 40_000  # the training pictures drawn from (ImagesOnly)


def w_stats(G, n: int = 20_000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """W's mean and per-dimension spread from n mapped z."""
    with torch.no_grad():
        z = torch.randn(n, G.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
        w = torch.cat([G.mapping(z[i:i + 4096]) for i in range(0, n, 4096)])
    return w.mean(0), w.std(0).clamp_min(1e-6)


def closeness(w: torch.Tensor, mu: torch.Tensor, sd: torch.Tensor) -> torch.Tensor:
    """Mean squared whitened distance from W's mean beyond 1 per dimension (W's own samples sit at about 1)."""
    return torch.relu(((w - mu) / sd).pow(2).mean(1) - 1.0).mean()


def train_encoder(G, pictures, cfg: EncoderTrainConfig | None = None, E: Encoder | None = None, log=print) -> tuple[Encoder, dict]:
    """E trained against the frozen G. `pictures` needs len() and .batch(idx) -> (B, 3, R, R) in [-1, 1]."""
    from edits.wspace import pixel_loss

    cfg = cfg or EncoderTrainConfig()
    G = G.eval().requires_grad_(False)
    torch.manual_seed(cfg.seed)
    E = E or Encoder(G.cfg)
    E.train()
    mu, sd = w_stats(G, seed=cfg.seed)
    opt = torch.optim.Adam(E.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    gen = torch.Generator().manual_seed(cfg.seed)
    half = cfg.batch // 2
    t0, curve = time.time(), []
    for step in range(1, cfg.steps + 1):
        z = torch.randn(half, G.cfg.z_dim, generator=gen)
        with torch.no_grad():
            w = G.mapping(z)
            fake = G.synthesis(G.broadcast(w))
        real = pictures.batch(torch.randint(len(pictures), (half,), generator=gen).numpy())
        x = torch.cat([fake, real])
        w_hat = E(x)
        y = G.synthesis(G.broadcast(w_hat))
        l_pix = pixel_loss(y, x) / len(x)
        l_w = ((w_hat[:half] - w) / sd).pow(2).mean()
        l_close = closeness(w_hat, mu, sd)
        loss = l_pix + cfg.w_weight * l_w + cfg.closeness_weight * l_close
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == cfg.steps:
            rec = {"step": step, "pixel": round(l_pix.item(), 5), "latent": round(l_w.item(), 5),
                   "closeness": round(l_close.item(), 5), "wall_s": round(time.time() - t0, 1)}
            curve.append(rec)
            log(json.dumps(rec))
    return E.eval().requires_grad_(False), {"config": asdict(cfg), "curve": curve, "wall_s": round(time.time() - t0, 1)}


def save_encoder(E: Encoder, folder: Path, record: dict) -> Path:
    """encoder.safetensors (fp16) in the generator folder, named in its config.json, with the training record."""
    folder = Path(folder)
    save_encoder_weights(E, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "encoder": ENCODER_FILE}, indent=1))
    (folder / "encoder_training.json").write_text(json.dumps(record, indent=1))
    return folder / ENCODER_FILE


def evaluate(gan_folder: Path, n: int = 300, seed: int = 20_261_204) -> dict:
    """The judge's reading of toy-world pictures the encoder never saw (a held-out seed) against their redrawings
    through E and G: the fraction of valid pictures whose redrawing is read with the same colour, shape, size and
    background; and the same for the generator's own samples (w known). By shape too: the fraction of each
    shape's valid pictures redrawn with every factor kept (a generator that draws only circles keeps none of the
    others), and how many of the generator's samples the judge reads as valid scenes of each shape."""
    from edits.judge import read
    from edits.pipeline import to_uint8
    from edits.wspace import invert, load_gan
    from toyworld.data import make_dataset
    from toyworld.world import FACTORS

    gan = load_gan(gan_folder)
    if gan.encoder is None:
        raise SystemExit(f"{gan_folder} has no encoder")
    pictures = make_dataset(n, seed)["images"]

    def same(a, b, shapes=None) -> list[bool | None]:
        out = []
        for ra, rb in zip(read(a), read(b)):
            if shapes is not None:
                shapes.append(ra.shape if ra.valid else None)
            if not ra.valid:
                out.append(None)
            else:
                out.append(rb.valid and all(getattr(ra, f) == getattr(rb, f) for f in ("colour", "shape", "size", "background")))
        return out

    def redraw(images: np.ndarray) -> np.ndarray:
        w = invert(gan, images, steps=0)
        with torch.no_grad():
            y = gan.generator.synthesis(gan.generator.broadcast(w))
        return to_uint8((y.clamp(-1, 1).permute(0, 2, 3, 1).numpy() + 1) / 2)

    shapes: list[str | None] = []
    kept = same(pictures, redraw(pictures), shapes)
    with torch.no_grad():
        z = torch.randn(n, gan.generator.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
        samples = to_uint8((gan.generator(z).clamp(-1, 1).permute(0, 2, 3, 1).numpy() + 1) / 2)
    sample_shapes: list[str | None] = []
    kept_s = same(samples, redraw(samples), sample_shapes)

    def rate(v) -> float | None:  # None: no valid picture to keep
        n_valid = sum(k is not None for k in v)
        return round(sum(bool(k) for k in v if k is not None) / n_valid, 4) if n_valid else None

    return {"gan": str(gan_folder), "pictures": n, "valid_pictures": sum(k is not None for k in kept),
            "picture_fidelity": rate(kept), "valid_samples": sum(k is not None for k in kept_s),
            "sample_fidelity": rate(kept_s),
            "valid_pictures_by_shape": {sh: shapes.count(sh) for sh in FACTORS["shape"]},
            "picture_fidelity_by_shape": {sh: rate([k for k, t in zip(kept, shapes) if t == sh])
                                          for sh in FACTORS["shape"]},
            "valid_samples_by_shape": {sh: sample_shapes.count(sh) for sh in FACTORS["shape"]}}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gan", type=Path, required=True, help="generator folder (config.json + generator.safetensors)")
    p.add_argument("--out", type=Path, help="folder to write the encoder into (default: --gan itself)")
    p.add_argument("--steps", type=int, default=EncoderTrainConfig.steps)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--resume", action="store_true", help="start from the encoder already in the --out (or --gan) folder "
                                                         "(one of its runs, or the one an adversarial run trained beside G)")
    p.add_argument("--evaluate", action="store_true", help="only measure the folder's encoder")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.evaluate:
        print(json.dumps(evaluate(a.gan)))
        return
    from .stylegan_label_free import ImagesOnly

    G, _ = load_generator(a.gan)
    cfg = EncoderTrainConfig(steps=a.steps)
    out = a.out or a.gan
    E, before = None, []
    if a.resume:
        E = Encoder(G.cfg)
        if not load_encoder_weights(E, out, ENCODER_FILE):
            raise FileNotFoundError(f"--resume: no {ENCODER_FILE} in {out}")
        record_path = Path(out) / "encoder_training.json"  # absent: an encoder trained elsewhere (beside G)
        earlier = json.loads(record_path.read_text()) if record_path.exists() else {"runs": []}
        before = earlier.get("runs", [earlier])  # (a record of one run, or of every run so far)
        cfg.seed = sum(r["config"]["steps"] for r in before)  # other batches than the runs before drew
    E, record = train_encoder(G.float(), ImagesOnly(cfg.n_pictures), cfg, E=E)
    if out != a.gan:
        import shutil

        shutil.copytree(a.gan, out, dirs_exist_ok=True)
    runs = [*before, {**record, "generator": str(a.gan)}]  # a resumed encoder keeps the record of every run
    print(save_encoder(E, out, {"runs": runs, "steps": sum(r["config"]["steps"] for r in runs),
                                "wall_s": round(sum(r["wall_s"] for r in runs), 1), "labels_used_in_training": False}))


if __name__ == "__main__":
    main()

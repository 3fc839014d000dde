"""Train the toy-world classifier (the benchmarks' measuring tool): `python -m training classifier`."""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from nets.classifier import ToyClassifier
from toyworld.data import make_dataset
from toyworld.world import FACTORS

from .common import ASSETS, _fp16_state, log, lr_at, to_tensor


def degrade(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Augment clean renders towards what generators produce: blur, noise, slight tint."""
    n = x.shape[0]
    blur = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="bilinear", align_corners=False)
    k = torch.rand(n, 1, 1, 1, generator=g)
    x = k * blur + (1 - k) * x
    x = x + torch.randn(x.shape, generator=g) * torch.rand(n, 1, 1, 1, generator=g) * 0.08
    x = x + (torch.rand(n, 3, 1, 1, generator=g) - 0.5) * 0.06
    return x.clamp(-1, 1)


def train_classifier(steps: int = 6000, batch: int = 128, out_dir: Path | None = None, mix: float = 0.5) -> dict:
    """The toy-world attribute classifier (the benchmarks' measuring tool).

    A fraction `mix` of each batch are pixel blends of two scenes (mixup, blend weight uniform in 0-1)
    labelled with the same blend of their labels, so that a hybrid (half square, half triangle) is read
    as uncertain rather than confidently as one of them.
    """
    data = make_dataset(40_000, seed=1, include_heldout=True)  # the measuring tool sees every combination
    test = make_dataset(4_000, seed=2, include_heldout=True)
    model = ToyClassifier()
    opt = torch.optim.AdamW(model.parameters(), 2e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(0)
    x_all = data["images"]
    t0 = time.time()
    for step in range(steps):
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, steps, 2e-3, 100)
        idx = torch.randint(0, len(x_all), (batch,), generator=g).numpy()
        x = to_tensor(x_all[idx])
        target = {k: F.one_hot(torch.from_numpy(data[k][idx]).long(), len(FACTORS[k])).float() for k in FACTORS}
        m = int(round(batch * mix))
        if m:
            other = torch.randint(0, batch, (m,), generator=g)
            lam = torch.rand(m, generator=g)
            x = torch.cat([lam[:, None, None, None] * x[:m] + (1 - lam[:, None, None, None]) * x[other], x[m:]])
            target = {k: torch.cat([lam[:, None] * t[:m] + (1 - lam[:, None]) * t[other], t[m:]])
                      for k, t in target.items()}
        out = model(degrade(x, g))
        loss = sum(F.cross_entropy(out[k], target[k]) for k in FACTORS)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0:
            log(f"classifier step {step} loss {loss.item():.4f}")
    model.eval()
    acc = {}
    with torch.no_grad():
        for k in FACTORS:
            acc[k] = 0.0
        for name, tx in (("clean", to_tensor(test["images"])), ("degraded", degrade(to_tensor(test["images"]), g))):
            preds = {k: [] for k in FACTORS}
            for i in range(0, len(tx), 500):
                o = model(tx[i:i + 500])
                for k in FACTORS:
                    preds[k].append(o[k].argmax(-1))
            for k in FACTORS:
                a = float((torch.cat(preds[k]).numpy() == test[k]).mean())
                acc[f"{k}_{name}"] = a
        acc = {k: v for k, v in acc.items() if "_" in k}
    out_dir = Path(out_dir or ASSETS / "classifier")
    out_dir.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file

    save_file(_fp16_state(model), out_dir / "model.safetensors")
    (out_dir / "config.json").write_text(json.dumps({"factors": FACTORS, "width": 32}, indent=1))
    metrics = {"steps": steps, "batch": batch, "mix": mix, "train_images": len(x_all), "test_images": len(tx),
               "wall_s": round(time.time() - t0, 1), "held_out_accuracy": acc}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    log(f"classifier done {metrics}")
    return metrics

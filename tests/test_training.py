"""Smoke tests of what the training runs share (the runs themselves take hours, and are not run here)."""
from __future__ import annotations

import copy

import pytest
import torch

from training.common import ema_of, weights


@pytest.mark.parametrize("constant", [False, True])
def test_ema_follows_the_hand_written_average_and_resumes(constant):
    """The EMA of weights, as the training loops wrote it by hand before diffusers' EMAModel replaced it:
    decay min(cap, n / (9 + n)) at update n >= 2 (the first update copies), or a constant decay."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    reference, copy_ = copy.deepcopy(model), copy.deepcopy(model)
    ema = ema_of([copy_], 0.9, constant=constant)
    opt = torch.optim.SGD(model.parameters(), 0.1)
    gen = torch.Generator().manual_seed(1)
    for n in range(1, 13):
        loss = model(torch.randn(8, 4, generator=gen)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema.step(weights(model))
        decay = 0.9 if constant else (0.0 if n == 1 else min(0.9, n / (9 + n)))
        with torch.no_grad():
            for pe, pm in zip(reference.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
    ema.copy_to(weights(copy_))
    for a, b in zip(copy_.parameters(), reference.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    # resumed after 12 updates from the saved copy: the schedule goes on where it stopped
    again = ema_of([copy_], 0.9, updates_done=12, constant=constant)
    assert again.get_decay(13) == pytest.approx(0.9 if constant else min(0.9, 13 / 22))


def test_a_tiny_diffusion_run_trains_resumes_and_exports(tmp_path, monkeypatch):
    """Two steps of `train_diffusion` on 16 scenes with a tiny UNet (the shipped VAE), then two more resumed
    from its checkpoint: the EMA weights are written to the checkpoint and exported as a pipeline folder."""
    import dataclasses

    from nets.diffusion import DiffusionConfig
    from toyworld import data as toy_data
    from training import diffusion

    monkeypatch.setattr(toy_data, "DATA_CACHE", tmp_path / "data")
    monkeypatch.setattr(diffusion, "RUNS", tmp_path / "runs")
    small = toy_data.make_dataset(16, seed=3)
    monkeypatch.setattr(diffusion, "make_dataset", lambda n, seed: small)
    cfg = dataclasses.replace(DiffusionConfig(), unet_channels=(8, 16, 16, 16), text_hidden=8)
    out, ckpt = tmp_path / "pipe", tmp_path / "runs" / "d.ckpt"
    (tmp_path / "runs").mkdir()
    diffusion.train_diffusion(cfg, steps=2, batch=2, out=out, ckpt=ckpt, warmup=1)
    first = torch.load(ckpt, weights_only=True)
    assert first["step"] == 2 and (out / "model_index.json").exists()
    assert any(not torch.equal(first["ema_unet"][k], first["unet"][k]) for k in first["unet"])  # averaged
    diffusion.train_diffusion(cfg, steps=4, batch=2, out=out, ckpt=ckpt, warmup=1)
    again = torch.load(ckpt, weights_only=True)
    assert again["step"] == 4
    assert any(not torch.equal(again["ema_unet"][k], first["ema_unet"][k]) for k in first["ema_unet"])

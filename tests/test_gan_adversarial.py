"""The adversarial StyleGAN (training/stylegan_gan.py) on a tiny config: it sees pictures only, its regularisers are
finite, a stopped and resumed run ends bit-for-bit where an uninterrupted one does, and its files stay small."""
from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from nets.discriminator import Discriminator, DiscriminatorConfig, minibatch_stddev
from training import stylegan_gan as sg
from training.stylegan_label_free import ImagesOnly

from .conftest import names_in_code


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a busy 2-core machine two OpenMP threads made these tiny steps ten times slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class PicturesOnly:
    """A stand-in data set with pictures and nothing else: any other attribute access fails the test."""

    def __init__(self, n: int = 16, r: int = 16, on_batch=None):
        self._x = torch.rand(n, 3, r, r, generator=torch.Generator().manual_seed(0)) * 2 - 1
        self._on_batch, self._calls = on_batch, 0

    def __len__(self):
        return len(self._x)

    def batch(self, idx):
        self._calls += 1
        if self._on_batch:
            self._on_batch(self._calls)
        return self._x[torch.as_tensor(idx)]

    def __getattr__(self, name):
        raise AssertionError(f"the GAN training asked its data for {name!r}")


def tiny_cfg(**kw) -> sg.GANTrainConfig:
    """Resolution 16, 8 channels; R1 and path length every 2 steps so that both run on either side of a resume."""
    return sg.GANTrainConfig(
        batch=4, r1_every=2, pl_every=2, ema_kimg=0.01,
        generator=dict(z_dim=8, w_dim=8, n_mlp=2, resolution=16, channels={4: 8, 8: 8, 16: 8}),
        discriminator=dict(resolution=16, channels={4: 8, 8: 8, 16: 8}, mbstd_group=2), **kw)


def run(path, steps, cfg=None, **kw):
    kw.setdefault("data", PicturesOnly())
    kw.setdefault("quality", None)
    kw.setdefault("log", lambda m: None)
    return sg.train(path, cfg or tiny_cfg(), max_steps=steps, log_every=1, **kw)


def ckpt_tensors(folder):
    return load_file(str(folder / sg.CKPT)), sg.read_meta(folder / sg.CKPT)


def test_resume_gives_bit_for_bit_the_uninterrupted_run(tmp_path):
    run(tmp_path / "straight", 4)
    run(tmp_path / "split", 1)  # steps 0 and 2 (0-based) take R1 and path length: one before, one after
    assert sg.read_meta(tmp_path / "split" / sg.CKPT)["step"] == 1
    run(tmp_path / "split", 4)  # a new call: networks, optimisers and path-length mean come from the checkpoint
    (a, ma), (b, mb) = ckpt_tensors(tmp_path / "straight"), ckpt_tensors(tmp_path / "split")
    assert a.keys() == b.keys() and any(k.startswith("G_ema.") for k in a) and any(k.startswith("opt_d.") for k in a)
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, different[:5]
    assert ma["step"] == mb["step"] == 4 and ma["pl_mean"] == mb["pl_mean"] != 0
    # and training moved the weights (a resume that silently restarted would not match, nor would a frozen run)
    first = load_file(str(tmp_path / "split" / sg.CKPT))
    fresh = sg.build(tiny_cfg())
    assert not torch.equal(first["G.convs.0.conv.weight"], fresh.G.state_dict()["convs.0.conv.weight"])
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "split" / sg.LOG).read_text().splitlines()]
    assert steps == list(range(1, 5))  # the log continues across the resume
    assert mb["wall"] >= sg.read_meta(tmp_path / "split" / sg.CKPT)["wall"] > 0


def test_snapshot_then_resume_from_on_a_fresh_folder_then_export(tmp_path):
    from nets.stylegan import load_generator

    run(tmp_path / "run", 2)
    info = sg.snapshot(tmp_path / "run", tmp_path / "snap")
    assert info["step"] == 2 and (tmp_path / "snap" / sg.LOG).is_file()
    r = run(tmp_path / "fresh", 3, resume_from=tmp_path / "snap")
    assert r["steps"] == 3
    run(tmp_path / "run", 3)
    (a, _), (b, _) = ckpt_tensors(tmp_path / "run"), ckpt_tensors(tmp_path / "fresh")
    assert all(torch.equal(a[k], b[k]) for k in a)
    out = sg.export(tmp_path / "fresh", tmp_path / "gen")
    g, extra = load_generator(tmp_path / "gen")
    assert extra["label_free"] is True and extra["adversarial"] is True
    assert g(torch.randn(2, 8)).shape == (2, 3, 16, 16)
    assert json.loads((tmp_path / "gen" / "training.json").read_text())["labels_used_in_training"] is False
    assert out["steps"] == 3


def test_sigterm_stops_cleanly_with_a_checkpoint(tmp_path):
    data = PicturesOnly(on_batch=lambda n: n == 3 and os.kill(os.getpid(), signal.SIGTERM))
    before = signal.getsignal(signal.SIGTERM)
    r = run(tmp_path / "run", 20, data=data)
    assert r["reason"] == "SIGTERM" and r["steps"] == 3
    assert sg.read_meta(tmp_path / "run" / sg.CKPT)["step"] == 3
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back
    r = sg.train(tmp_path / "run", deadline=0.0, data=PicturesOnly(), quality=None, log=lambda m: None)
    assert r["reason"] == "deadline" and r["steps"] == 3


def test_regularisers_are_finite_and_the_quality_hook_is_swappable(tmp_path):
    seen = []

    def hook(images):
        seen.append(tuple(images.shape))
        return {"mean": float(images.mean())}

    run(tmp_path / "run", 4, quality=hook, quality_every=2)
    recs = [json.loads(ln) for ln in (tmp_path / "run" / sg.LOG).read_text().splitlines()]
    for key in ("loss_d", "loss_g", "r1", "pl", "pl_mean"):
        vals = [r[key] for r in recs if key in r]
        assert vals and np.all(np.isfinite(vals)), key
    assert [r["step"] for r in recs if "quality" in r] == [0, 2, 4] and "quality_real" in recs[0]
    assert seen and all(s[1:] == (3, 16, 16) for s in seen)


def test_default_checkpoint_fits_the_size_bound(tmp_path):
    """The default (64 x 64) networks with both Adam states, in fp32: under 40 MB with room for the log."""
    s = sg.build(sg.GANTrainConfig(batch=4))
    real = torch.rand(4, 3, 64, 64) * 2 - 1
    out = sg.train_step(s, real, sg.step_generator(0, 0, 0), sg.Reducer(None), "cpu")  # step 0: R1 and path length
    assert all(np.isfinite(out[k]) for k in ("loss_d", "loss_g", "r1", "pl"))
    path = sg.save_checkpoint(s, tmp_path / sg.CKPT)
    mb = path.stat().st_size / 2 ** 20
    assert mb < sg.MAX_CKPT_MB - 5, mb
    assert sg.load_checkpoint(path).step == 1


def test_training_data_is_pictures_only():
    data = ImagesOnly(n=8, seed=123)
    assert set(vars(data)) == {"_images"}  # the labels make_dataset caches are dropped on load
    x = data.batch(np.arange(4))
    assert isinstance(x, torch.Tensor) and x.shape == (4, 3, 64, 64) and -1 <= x.min() and x.max() <= 1


def test_training_code_never_names_a_label():
    """No name, attribute, keyword or subscript key in the module's code (docstrings aside) reaches a label."""
    used = names_in_code(sg)
    labels = {"make_pairs", "make_dataset", "z_to_scene", "SceneToW", "FACTORS", "PAIR_FACTORS", "caption",
              "prompt_for", "geom", "labels", "colour", "background", "radius", "HELDOUT"}  # (shape, size: tensors')
    assert not used & labels, used & labels


def test_minibatch_stddev_and_discriminator_shapes():
    x = torch.randn(8, 6, 4, 4)
    y = minibatch_stddev(x, group=4)
    assert y.shape == (8, 7, 4, 4)
    assert torch.equal(y[:, :6], x)
    # sample i is grouped with i + 2, i + 4, i + 6: identical samples in a group give zero spread
    same = x.clone()
    same[2::2] = same[0]
    assert minibatch_stddev(same, group=4)[0, 6].abs().max() < 1e-3
    with pytest.raises(ValueError):
        minibatch_stddev(torch.randn(6, 6, 4, 4), group=4)
    d = Discriminator(DiscriminatorConfig(resolution=16, channels={4: 8, 8: 8, 16: 8}))
    assert d(torch.randn(4, 3, 16, 16)).shape == (4, 1)


def test_a_packed_discriminator_judges_stacks_of_pictures(tmp_path):
    """PacGAN: D with pack 2 gives one logit per two pictures, and that logit depends on both of them."""
    # a group of 1: no minibatch-stddev feature links the packs, so each logit sees its own pack only
    d = Discriminator(DiscriminatorConfig(resolution=16, channels={4: 8, 8: 8, 16: 8}, mbstd_group=1, pack=2))
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    y = d(x)
    assert y.shape == (4, 1)
    x2 = x.clone()
    x2[1] = 3 * x2[1] + 1  # the second picture of the first pack only
    y2 = d(x2)
    assert (y[0] - y2[0]).abs().item() > 1e-4 and torch.equal(y[1:], y2[1:])
    with pytest.raises(ValueError, match="pack"):
        d(torch.randn(5, 3, 16, 16))
    cfg = tiny_cfg()
    cfg.discriminator = {**cfg.discriminator, "pack": 2}
    run(tmp_path / "run", 3, cfg)  # batch 4 = 2 packs of 2, one minibatch-stddev group of 2
    tensors, meta = ckpt_tensors(tmp_path / "run")
    assert meta["step"] == 3 and tensors["D.from_rgb.weight"].shape[1] == 6
    cfg.batch = 6  # 3 packs: the group of 2 cannot split them; refused before any picture
    with pytest.raises(ValueError, match="group 2 .x pack 2"):
        run(tmp_path / "other", 1, cfg)
    assert not (tmp_path / "other" / sg.CKPT).exists()


def test_non_finite_losses_reload_the_last_checkpoint_without_bf16(tmp_path, monkeypatch):
    real_step, calls = sg.train_step, []

    def flaky(s, *a):
        out = real_step(s, *a)
        calls.append(s.step)
        return {**out, "loss_g": float("nan")} if len(calls) == 3 else out

    monkeypatch.setattr(sg, "train_step", flaky)
    logs = []
    r = sg.train(tmp_path / "run", tiny_cfg(bf16=True), max_steps=4, data=PicturesOnly(), quality=None,
                 ckpt_every_s=0.0, log_every=1, log=logs.append)
    assert r["steps"] == 4 and any("non-finite" in m for m in logs)
    meta = sg.read_meta(tmp_path / "run" / sg.CKPT)
    assert meta["cfg"]["bf16"] is False and meta["step"] == 4
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "run" / sg.LOG).read_text().splitlines()]
    assert steps == [1, 2, 2, 3, 4]  # step 3's bad line is dropped; the reload is logged at step 2


def test_augmentation_is_identity_at_zero_differentiable_twice_and_moves_pictures():
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    ops = sg.parse_augment("xflip,translation,cutout")
    assert torch.equal(sg.augment_pictures(x, 0.0, ops, torch.Generator().manual_seed(0)), x)
    y = sg.augment_pictures(x, 1.0, ops, torch.Generator().manual_seed(1))
    assert not torch.equal(y, x) and y.shape == x.shape
    grad, = torch.autograd.grad(y.square().sum(), x, create_graph=True)  # R1 differentiates through it twice
    grad.sum().backward()
    assert x.grad is not None
    with pytest.raises(ValueError):
        sg.parse_augment("xflip,rotate")


def test_a_resumed_run_takes_augmentation_and_a_fresh_bigger_discriminator(tmp_path):
    run(tmp_path / "a", 2, cfg=tiny_cfg(ada_target=-1.0))  # p can only go up
    bigger = {**tiny_cfg().discriminator, "channels": {4: 8, 8: 8, 16: 16}}
    run(tmp_path / "a", 6, augment="xflip,translation,cutout", discriminator=bigger)
    tensors, meta = ckpt_tensors(tmp_path / "a")
    assert meta["step"] == 6 and meta["cfg"]["augment"] == "xflip,translation,cutout"
    assert meta["aug_p"] == pytest.approx(4 * 4 / 100_000)  # 4 steps of 4 pictures, 0 -> 1 in 100 kimg
    assert tensors["D.from_rgb.weight"].shape[0] == 16
    said = []
    run(tmp_path / "a", 7, augment="xflip,translation,cutout", discriminator=bigger, log=said.append)
    assert not any("fresh D" in m for m in said), said  # the same size again: D and its optimiser kept


def _events(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("change, key, value, event, nimg", [
    ("r1_gamma", "r1_gamma", 7.5, "R1 gamma 0.0256 -> 7.5", 3 * 4),
    ("batch", "batch", 8, "batch 4 -> 8", 2 * 4 + 8),  # the pictures seen, not step x the batch of now
])
def test_a_resumed_run_takes_a_new_setting_and_logs_what_it_changed(tmp_path, change, key, value, event, nimg):
    run(tmp_path / "a", 2)
    run(tmp_path / "a", 3, **{change: value})
    _, meta = ckpt_tensors(tmp_path / "a")
    assert meta["step"] == 3 and meta["cfg"][key] == value and meta["nimg"] == nimg
    assert {"step": 2, "event": event} in _events(tmp_path / "a")
    assert [e["kimg"] for e in _events(tmp_path / "a") if "kimg" in e] == [0.004, 0.008, nimg / 1000]
    run(tmp_path / "a", 4, **{change: value})  # the same setting again: nothing changes, nothing logged
    assert sum("event" in e for e in _events(tmp_path / "a")) == 1


def test_a_fresh_run_warm_started_from_a_generator_folder_starts_from_its_weights_and_says_so(tmp_path):
    from nets.stylegan import Generator, load_generator, save_generator

    cfg = tiny_cfg()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)  # other weights than the fresh run's own
        source = Generator(cfg.g_cfg())
    save_generator(source, tmp_path / "g")
    state = sg.build(cfg)
    sg.warm_start(state, tmp_path / "g")
    saved = load_generator(tmp_path / "g")[0].state_dict()  # as stored (fp16)
    assert all(torch.equal(v, saved[k]) for k, v in state.G_ema.state_dict().items())
    fresh = sg.build(cfg).G.state_dict()
    assert any(not torch.equal(v, fresh[k]) for k, v in state.G.state_dict().items())  # not the fresh weights
    run(tmp_path / "a", 1, init_from=tmp_path / "g")
    assert {"step": 0, "event": f"G and G_ema warm-started from {tmp_path / 'g'}"} in _events(tmp_path / "a")


def test_a_batch_the_minibatch_stddev_group_cannot_split_is_refused_before_any_picture(tmp_path):
    cfg = tiny_cfg()
    cfg.batch, cfg.discriminator = 6, {**cfg.discriminator, "mbstd_group": 5}
    with pytest.raises(ValueError, match="minibatch-stddev group 5"):
        run(tmp_path / "run", 1, cfg)  # the run's own check, not the first D pass's error (another message)
    assert not (tmp_path / "run" / sg.CKPT).exists()


def test_the_command_line_sets_the_discriminators_shape_and_gs_learning_rate():
    """--d-channels and --mbstd-group reach a fresh run's D config; --g-lr-scale scales G's optimiser only."""
    from training.stylegan_gan import DiscriminatorConfig, config_from_args, parser

    cfg, d = config_from_args(parser().parse_args(["train", "--mbstd-group", "8"]))
    assert d["mbstd_group"] == 8 and cfg.d_cfg().mbstd_group == 8
    assert d["channels"] == DiscriminatorConfig().channels
    cfg, d = config_from_args(parser().parse_args(["train", "--d-channels", "64:32,32:64,16:128,8:128,4:128"]))
    assert d["channels"] == {64: 32, 32: 64, 16: 128, 8: 128, 4: 128} and d["mbstd_group"] == DiscriminatorConfig.mbstd_group
    assert config_from_args(parser().parse_args(["train"]))[1] is None
    cfg, _ = config_from_args(parser().parse_args(["train", "--g-lr-scale", "0.25"]))
    s = sg.build(tiny_cfg(g_lr_scale=cfg.g_lr_scale))
    assert s.opt_g.param_groups[0]["lr"] == pytest.approx(s.cfg.lr * 0.25 * s.cfg.pl_every / (s.cfg.pl_every + 1))
    assert s.opt_d.param_groups[0]["lr"] == pytest.approx(s.cfg.lr * s.cfg.r1_every / (s.cfg.r1_every + 1))
    cfg, _ = config_from_args(parser().parse_args(["train", "--mbstd-group", "5"]))
    assert cfg.d_cfg().mbstd_group == 5
    cfg, d = config_from_args(parser().parse_args(["train", "--d-pack", "2"]))
    assert d["pack"] == 2 and cfg.d_cfg().pack == 2 and DiscriminatorConfig().pack == 1


def test_the_reconstruction_anchor_trains_an_encoder_resumes_bit_for_bit_and_exports_it(tmp_path):
    """--recon-weight: E (picture -> w) is trained beside G on the real pictures only, its weights and optimiser
    travel in the checkpoint (a split run ends where a straight one does), a warm start copies a folder's encoder,
    and the export ships it where edits.gan.load_gan finds it."""
    from edits.gan import load_gan
    from nets.encoder import ENCODER_FILE, Encoder, save_encoder_weights
    from nets.stylegan import Generator, save_generator

    cfg = tiny_cfg(recon_weight=1.0, latent_weight=1.0, recon_adv=1.0)  # (D judging the redrawings too)
    assert sg.build(tiny_cfg()).E is None  # off by default: the plain GAN
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        source, enc = Generator(cfg.g_cfg()), Encoder(cfg.g_cfg())
    save_generator(source, tmp_path / "g", extra={"encoder": ENCODER_FILE})
    save_encoder_weights(enc, tmp_path / "g")
    run(tmp_path / "straight", 3, cfg, init_from=tmp_path / "g")
    run(tmp_path / "split", 1, cfg, init_from=tmp_path / "g")
    run(tmp_path / "split", 3, cfg)
    (a, ma), (b, _) = ckpt_tensors(tmp_path / "straight"), ckpt_tensors(tmp_path / "split")
    assert any(k.startswith("E.") for k in a) and any(k.startswith("opt_e.") for k in a) and "opt_e" in ma
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    stored = {k: v.float() for k, v in enc.half().state_dict().items()}
    assert any(not torch.equal(a[f"E.{k}"], v) for k, v in stored.items())  # warm-started, then trained
    assert {"step": 0, "event": f"G and G_ema and E warm-started from {tmp_path / 'g'}"} in _events(tmp_path / "split")
    assert all(all(np.isfinite(json.loads(ln)[k]) for k in ("rec", "lat", "logit_rec", "loss_g_rec"))
               for ln in (tmp_path / "split" / sg.LOG).read_text().splitlines() if "event" not in ln)
    sg.export(tmp_path / "split", tmp_path / "gen")
    gan = load_gan(tmp_path / "gen")
    assert gan.encoder is not None and gan.encoder(torch.zeros(1, 3, 16, 16)).shape == (1, 8)
    assert torch.equal(gan.encoder.state_dict()["fc2.weight"], a["E.fc2.weight"].half().float())


def test_a_resumed_run_given_an_anchor_weight_gets_an_encoder_and_can_drop_it(tmp_path):
    """A resumed run takes --recon-weight (an encoder added, or dropped at 0) and --recon-adv."""
    from nets.encoder import ENCODER_FILE, Encoder, save_encoder_weights
    from nets.stylegan import Generator, save_generator

    cfg = tiny_cfg()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        enc = Encoder(cfg.g_cfg())
    save_generator(Generator(cfg.g_cfg()), tmp_path / "g", extra={"encoder": ENCODER_FILE})
    save_encoder_weights(enc, tmp_path / "g")
    run(tmp_path / "a", 1, cfg)
    assert not any(k.startswith("E.") for k in ckpt_tensors(tmp_path / "a")[0])
    run(tmp_path / "a", 2, recon_weight=2.0, init_from=tmp_path / "g")
    t, meta = ckpt_tensors(tmp_path / "a")
    assert meta["cfg"]["recon_weight"] == 2.0 and any(k.startswith("opt_e.") for k in t)
    events = [e["event"] for e in _events(tmp_path / "a") if "event" in e]
    assert events == [f"reconstruction anchor weight 0 -> 2, a new encoder from {tmp_path / 'g'}"], events
    last = json.loads((tmp_path / "a" / sg.LOG).read_text().splitlines()[-1])
    assert last["step"] == 2 and np.isfinite(last["rec"])
    run(tmp_path / "a", 3, recon_adv=0.5)  # D judges the redrawn pictures from here on
    assert [e for e in _events(tmp_path / "a") if "event" in e][-1] == {"step": 2, "event": "D judges the redrawn pictures: weight 0 -> 0.5"}
    last = json.loads((tmp_path / "a" / sg.LOG).read_text().splitlines()[-1])
    assert last["step"] == 3 and np.isfinite(last["loss_g_rec"]) and np.isfinite(last["logit_rec"])
    run(tmp_path / "a", 4, recon_weight=0.0)
    t, meta = ckpt_tensors(tmp_path / "a")
    assert meta["cfg"]["recon_weight"] == 0.0 and not any(k.startswith("E.") for k in t)
    assert "reconstruction anchor weight 2 -> 0 (encoder dropped)" in [e.get("event") for e in _events(tmp_path / "a")]


def test_the_curve_is_drawn_from_the_log_and_the_judges_readings(tmp_path):
    """`python -m training.stylegan_gan curve`: every quality reading of the log, one mark per step with events
    (events of the same step together), and only the judge's readings of this log."""
    from PIL import Image

    q = {"sure": 0.2, "conf": 0.7, "spread_colour": 0.9, "spread_shape": 0.5, "spread_size": 0.9,
         "spread_background": 0.99, "mean": 0.1, "std": 0.6, "tv": 0.01}
    lines = [{"step": s, "kimg": s * 0.032, "loss_d": 1.0, "quality": q} for s in (250, 500, 750)]
    lines[1:1] = [{"step": 300, "kimg": 9.6, "loss_d": 1.0}, {"step": 300, "event": "R1 gamma 1 -> 10"},
                  {"step": 300, "event": "batch 32 -> 64"}]
    (tmp_path / sg.LOG).write_text("".join(json.dumps(x) + "\n" for x in lines))
    readings = tmp_path / "judge-readings.jsonl"
    readings.write_text(json.dumps({"run": f"{sg.LOG} (this run)", "kimg": 24.0, "valid_scene_fraction": 0.3}) + "\n"
                        + json.dumps({"run": "another-log.jsonl", "kimg": 20.0, "valid_scene_fraction": 0.1}) + "\n")
    res = sg.plot_curve(tmp_path, tmp_path / "curve.png", readings)
    assert res["readings"] == 3 and res["judge_readings"] == 1 and res["judge_lines"] == 0
    lines[-1]["quality"] = {**q, "judge_valid": 0.4}  # a log written since the periodic reading has the judge
    (tmp_path / sg.LOG).write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert sg.plot_curve(tmp_path, tmp_path / "curve.png", readings)["judge_lines"] == 1
    assert res["events"] == ["1: step 300, R1 gamma 1 -> 10; batch 32 -> 64"]
    assert Image.open(tmp_path / "curve.png").size[0] > 500


def test_the_periodic_reading_has_the_judges_valid_scenes_by_kind():
    """default_quality adds the judge's share of valid scenes, in all and of each kind of object, to the classifier's
    reading: the toy world's own pictures are all valid (each of one kind), noise none."""
    from toyworld.world import render, sample_scene

    rng = np.random.default_rng(0)
    pictures = np.stack([render(sample_scene(rng), seed=i) for i in range(24)])  # (24, 64, 64, 3) uint8
    x = torch.from_numpy(pictures).permute(0, 3, 1, 2).float() / 127.5 - 1  # (24, 3, 64, 64) in [-1, 1]
    q = sg.default_quality(x)
    kinds = {k: v for k, v in q.items() if k.startswith("judge_") and k != "judge_valid"}
    assert q["judge_valid"] == 1.0 and len(kinds) == 4 and sum(kinds.values()) == pytest.approx(1.0)
    assert "sure" in q and "spread_shape" in q
    noise = sg.default_quality(torch.rand(8, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    assert noise["judge_valid"] == 0.0

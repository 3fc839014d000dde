"""The StyleGAN converter reads NVlabs pickles as data: a pickle built here with the structure of an official
stylegan2-ada-pytorch snapshot (torch_utils.persistence records carrying module source, dnnlib EasyDicts,
numpy scalars, tensors pickled through torch.storage._load_from_bytes) whose source would create a file if
it were run. No download: the official structure is rebuilt from NVlabs' training/networks.py and
torch_utils/persistence.py as read, never imported."""
from __future__ import annotations

import math
import pickle
import re
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from edits.convert import ALLOWED, ConvertError, convert_stylegan, safe_load
from nets.stylegan import StyleGANConfig, official_channels, official_names

# A tiny official-style config: z = w = 8, 2 mapping layers, 16 px, channel_base 64, channel_max 16.
TINY = dict(z_dim=8, w_dim=8, num_layers=2, resolution=16, channel_base=64, channel_max=16, conv_clamp=256)


# ------------------------------------------------------------------ an official-looking pickle, built here
class _FakeModules:
    """torch_utils.persistence and dnnlib.util, as importable names while pickling (so that the file names
    them exactly as an official one does); `executing` makes the persistence stand-in exec the module source,
    as NVlabs' does, to show that the file is a live trap for plain pickle.load."""

    def __init__(self):
        self.saved = {}

    def __enter__(self):
        pers = types.ModuleType("torch_utils.persistence")

        def _reconstruct_persistent_obj(meta):
            ns = {}
            exec(meta["module_src"], ns)  # what NVlabs' loader does (the trap)
            return {"class_name": meta["class_name"]}

        _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
        _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
        pers._reconstruct_persistent_obj = _reconstruct_persistent_obj
        util = types.ModuleType("dnnlib.util")

        class EasyDict(dict):
            pass

        EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
        util.EasyDict = EasyDict
        pkg_t, pkg_d = types.ModuleType("torch_utils"), types.ModuleType("dnnlib")
        pkg_t.persistence, pkg_d.util = pers, util
        for name, mod in {"torch_utils": pkg_t, "torch_utils.persistence": pers, "dnnlib": pkg_d,
                          "dnnlib.util": util}.items():
            self.saved[name] = sys.modules.get(name)
            sys.modules[name] = mod
        self.reconstruct, self.EasyDict = _reconstruct_persistent_obj, EasyDict
        return self

    def __exit__(self, *exc):
        for name, mod in self.saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod


def _persistent(fake, source: str):
    """A torch.nn.Module subclass that pickles as torch_utils.persistence's Decorator does."""

    class Persistent(torch.nn.Module):
        def __reduce__(self):
            fields = list(super().__reduce__())
            fields += [None] * max(3 - len(fields), 0)
            meta = dict(type="class", version=6, module_src=source, class_name=type(self).__name__, state=fields[2])
            return (fake.reconstruct, (meta,), None)

    return Persistent


def build_official_like(fake, source: str, stylegan3: bool = False, poison=None):
    """G, D, G_ema as an official snapshot holds them (names and shapes of training/networks.py)."""
    P = _persistent(fake, source)
    ED = fake.EasyDict

    def setup_filter():
        f = torch.tensor([1.0, 3, 3, 1])
        f = f[:, None] * f[None, :]
        return f / f.sum()

    class FullyConnectedLayer(P):
        def __init__(self, i, o, activation="linear", lr_multiplier=1, bias_init=0):
            super().__init__()
            self.activation = activation
            self.weight = torch.nn.Parameter(torch.randn(o, i) / lr_multiplier)
            self.bias = torch.nn.Parameter(torch.full([o], np.float32(bias_init)) + 0.1 * torch.randn(o))
            self.weight_gain = lr_multiplier / np.sqrt(i)  # a numpy float64, as in the official file
            self.bias_gain = lr_multiplier

    class MappingNetwork(P):
        def __init__(self, z_dim, c_dim, w_dim, num_ws, num_layers=8, lr_multiplier=0.01):
            super().__init__()
            self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, c_dim, w_dim, num_ws, num_layers
            self.w_avg_beta = 0.995
            feats = [z_dim] + [w_dim] * num_layers
            for i in range(num_layers):
                setattr(self, f"fc{i}", FullyConnectedLayer(feats[i], feats[i + 1], "lrelu", lr_multiplier))
            self.register_buffer("w_avg", 0.1 * torch.randn(w_dim))
            self._init_args, self._init_kwargs = (), dict(num_layers=num_layers)

    class SynthesisLayer(P):
        def __init__(self, i, o, w_dim, resolution, up=1, conv_clamp=None):
            super().__init__()
            self.resolution, self.up, self.use_noise, self.activation, self.conv_clamp = resolution, up, True, "lrelu", conv_clamp
            self.register_buffer("resample_filter", setup_filter())
            self.padding, self.act_gain = 1, np.sqrt(2)
            self.affine = FullyConnectedLayer(w_dim, i, bias_init=1)
            self.weight = torch.nn.Parameter(torch.randn(o, i, 3, 3))
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = torch.nn.Parameter(torch.tensor(0.3))
            self.bias = torch.nn.Parameter(0.1 * torch.randn(o))

    class ToRGBLayer(P):
        def __init__(self, i, o, w_dim, conv_clamp=None):
            super().__init__()
            self.conv_clamp = conv_clamp
            self.affine = FullyConnectedLayer(w_dim, i, bias_init=1)
            self.weight = torch.nn.Parameter(torch.randn(o, i, 1, 1))
            self.bias = torch.nn.Parameter(0.1 * torch.randn(o))
            self.weight_gain = 1 / np.sqrt(i)

    class SynthesisBlock(P):
        def __init__(self, i, o, w_dim, resolution, img_channels, is_last, conv_clamp=None):
            super().__init__()
            self.in_channels, self.w_dim, self.resolution, self.img_channels = i, w_dim, resolution, img_channels
            self.is_last, self.architecture, self.use_fp16 = is_last, "skip", False
            self.register_buffer("resample_filter", setup_filter())
            if i == 0:
                self.const = torch.nn.Parameter(torch.randn(o, resolution, resolution))
            else:
                self.conv0 = SynthesisLayer(i, o, w_dim, resolution, up=2, conv_clamp=conv_clamp)
            self.conv1 = SynthesisLayer(o, o, w_dim, resolution, conv_clamp=conv_clamp)
            self.torgb = ToRGBLayer(o, img_channels, w_dim, conv_clamp=conv_clamp)

    class SynthesisNetwork(P):
        def __init__(self, w_dim, img_resolution, img_channels, channel_base, channel_max, conv_clamp):
            super().__init__()
            self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
            res = [2 ** i for i in range(2, int(math.log2(img_resolution)) + 1)]
            ch = {r: min(channel_base // r, channel_max) for r in res}
            for r in res:
                setattr(self, f"b{r}", SynthesisBlock(ch[r // 2] if r > 4 else 0, ch[r], w_dim, r, img_channels,
                                                      r == img_resolution, conv_clamp))
            self.num_ws = 2 * len(res)

    class SynthesisInput(P):  # StyleGAN3's Fourier-feature input
        def __init__(self):
            super().__init__()
            self.register_buffer("freqs", torch.randn(4, 2))
            self.register_buffer("phases", torch.randn(4))

    class SynthesisNetwork3(P):  # StyleGAN3: input, then layers L0_36_512, ...
        def __init__(self, w_dim):
            super().__init__()
            self.input = SynthesisInput()
            self.add_module("L0_36_16", SynthesisLayer(16, 16, w_dim, 4))

    SynthesisNetwork3.__name__ = "SynthesisNetwork"

    class Generator(P):
        def __init__(self, c):
            super().__init__()
            self.z_dim, self.c_dim, self.w_dim, self.img_resolution, self.img_channels = c["z_dim"], 0, c["w_dim"], c["resolution"], 3
            self.synthesis = SynthesisNetwork(c["w_dim"], c["resolution"], 3, c["channel_base"], c["channel_max"],
                                              c["conv_clamp"])
            if stylegan3:
                self.synthesis = SynthesisNetwork3(c["w_dim"])
            self.mapping = MappingNetwork(c["z_dim"], 0, c["w_dim"], 6, c["num_layers"])
            self._init_args = ()
            self._init_kwargs = dict(z_dim=c["z_dim"], w_dim=c["w_dim"], c_dim=0, img_resolution=c["resolution"],
                                     img_channels=3, mapping_kwargs=ED(num_layers=c["num_layers"]),
                                     synthesis_kwargs=ED(channel_base=c["channel_base"], channel_max=c["channel_max"],
                                                         num_fp16_res=4, conv_clamp=c["conv_clamp"]))
            if poison is not None:
                self._init_kwargs["poison"] = poison

    class Discriminator(P):
        def __init__(self):
            super().__init__()
            self.b16 = FullyConnectedLayer(4, 4, "lrelu")

    torch.manual_seed(0)
    g = Generator(TINY).eval().requires_grad_(False)
    return dict(G=g, D=Discriminator(), G_ema=g, augment_pipe=None,
                training_set_kwargs=dict(class_name="training.dataset.ImageFolderDataset", resolution=16))


def write_pickle(path, marker, **kw):
    source = f"open({str(marker)!r}, 'w').write('the embedded module source ran')\nclass Generator: pass\n"
    with _FakeModules() as fake:
        data = build_official_like(fake, source, **kw)
        path.write_bytes(pickle.dumps(data, protocol=4))
        state = {k: v.detach().clone() for k, v in data["G_ema"].state_dict().items()}
    return state


@pytest.fixture()
def official_pkl(tmp_path):
    marker = tmp_path / "PWNED"
    pkl = tmp_path / "network-snapshot-000000.pkl"
    state = write_pickle(pkl, marker)
    return pkl, marker, state


# ------------------------------------------------------------------ a reference forward, official semantics
def _upfirdn(x, f, up, pad, gain):
    """upfirdn2d with down = 1: zero insertion, padding [x0, x1, y0, y1], filter * gain (flipped)."""
    b, c, h, w = x.shape
    if up > 1:
        x = F.pad(x.reshape(b, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(b, c, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[2], pad[3]])
    k = (f * gain).flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, k, groups=c)


def reference_generator(t: dict, z: torch.Tensor, lr_mul=0.01, clamp=256.0) -> torch.Tensor:
    """What NVlabs' G(z, c=None, noise_mode='const') computes with fused modulated convolutions, written
    from a reading of training/networks.py and torch_utils/ops (not from nets/stylegan.py)."""
    f = t["synthesis.b4.resample_filter"]
    x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
    i = 0
    while f"mapping.fc{i}.weight" in t:
        wgt, b = t[f"mapping.fc{i}.weight"], t[f"mapping.fc{i}.bias"]
        x = F.leaky_relu(x @ (wgt * lr_mul / math.sqrt(wgt.shape[1])).t() + b * lr_mul, 0.2) * math.sqrt(2)
        i += 1
    w = x

    def affine(name):
        a = t[f"{name}.affine.weight"]
        return w @ (a / math.sqrt(a.shape[1])).t() + t[f"{name}.affine.bias"]

    def layer(name, xin, up):
        styles, weight = affine(name), t[f"{name}.weight"]
        outs = []
        for n in range(xin.shape[0]):  # fused: one modulated, demodulated weight per sample
            wn = weight * styles[n].view(1, -1, 1, 1)
            wn = wn * (wn.square().sum([1, 2, 3]) + 1e-8).rsqrt().view(-1, 1, 1, 1)
            if up == 1:
                outs.append(F.conv2d(xin[n:n + 1], wn, padding=1))
            else:
                y = F.conv_transpose2d(xin[n:n + 1], wn.transpose(0, 1), stride=2)
                outs.append(_upfirdn(y, f, 1, [1, 1, 1, 1], 4))
        y = torch.cat(outs) + t[f"{name}.noise_const"] * t[f"{name}.noise_strength"]
        y = F.leaky_relu(y + t[f"{name}.bias"].view(1, -1, 1, 1), 0.2) * math.sqrt(2)
        return y.clamp(-clamp, clamp)

    def torgb(name, xin):
        styles = affine(name) / math.sqrt(t[f"{name}.weight"].shape[1])
        y = torch.cat([F.conv2d(xin[n:n + 1], t[f"{name}.weight"] * styles[n].view(1, -1, 1, 1))
                       for n in range(xin.shape[0])])
        return (y + t[f"{name}.bias"].view(1, -1, 1, 1)).clamp(-clamp, clamp)

    h = t["synthesis.b4.const"][None].repeat(z.shape[0], 1, 1, 1)
    h = layer("synthesis.b4.conv1", h, 1)
    img = torgb("synthesis.b4.torgb", h)
    r = 8
    while f"synthesis.b{r}.conv0.weight" in t:
        h = layer(f"synthesis.b{r}.conv0", h, 2)
        h = layer(f"synthesis.b{r}.conv1", h, 1)
        img = _upfirdn(img, f, 2, [2, 1, 2, 1], 4) + torgb(f"synthesis.b{r}.torgb", h)
        r *= 2
    return img


# ------------------------------------------------------------------ tests
def test_the_test_pickle_is_a_live_trap(official_pkl):
    """Plain pickle.load (what StyleGAN demos do) runs the embedded source: the marker appears."""
    pkl, marker, _ = official_pkl
    with _FakeModules():
        pickle.loads(pkl.read_bytes())
    assert marker.exists()


def test_conversion_runs_no_embedded_code_and_matches_the_official_forward(official_pkl, tmp_path):
    from edits.wspace import load_gan

    pkl, marker, state = official_pkl
    folder = convert_stylegan(pkl, tmp_path / "converted")
    assert not marker.exists(), "converting ran code from the pickle"
    cfg = StyleGANConfig(**{k: v for k, v in __import__("json").loads((folder / "config.json").read_text()).items()
                            if k in StyleGANConfig.__dataclass_fields__})
    assert (cfg.z_dim, cfg.w_dim, cfg.n_mlp, cfg.resolution, cfg.img_channels) == (8, 8, 2, 16, 3)
    assert cfg.channels == official_channels(16, 64, 16) == {4: 16, 8: 8, 16: 4}
    assert cfg.conv_clamp == 256 and cfg.lr_mlp == pytest.approx(0.01)
    gan = load_gan(folder)  # the same path as the embedded model
    assert gan.n_latent == 6 and gan.name == "converted"
    z = gan.z_from_seeds([0, 1, 2])
    with torch.no_grad():
        ours = gan.generator(z)
        ref = reference_generator(state, z)
    assert ours.shape == ref.shape == (3, 3, 16, 16)
    assert torch.allclose(ours, ref, atol=1e-4, rtol=1e-4), (ours - ref).abs().max()
    images = gan.render(gan.w_from_seeds([0, 1]))
    assert images.shape == (2, 16, 16, 3) and images.dtype == np.uint8
    meta = __import__("json").loads((folder / "config.json").read_text())["converted_from"]
    assert meta["network"] == "G_ema" and len(meta["module_source_sha256"]) == 64
    assert meta["channel_base"] == 64 and meta["channel_max"] == 16


def test_cli_writes_a_folder_the_app_flag_accepts(official_pkl, tmp_path, capsys):
    import app
    from edits.convert import main

    pkl, marker, _ = official_pkl
    main(["stylegan", str(pkl), str(tmp_path / "cli")])
    assert "--gan-model" in capsys.readouterr().out and not marker.exists()
    assert app.parse_args(["--gan-model", str(tmp_path / "cli")]).gan == str(tmp_path / "cli")


class _Evil:
    def __init__(self, target, args):
        self.target, self.args = target, args

    def __reduce__(self):
        return self.target, self.args


def _forbidden_corpus(marker):
    import builtins
    import importlib
    import os
    import subprocess

    cmd = f"touch {marker}"
    return [(os.system, (cmd,)), (builtins.eval, (f"open({str(marker)!r}, 'w')",)),
            (builtins.exec, (f"open({str(marker)!r}, 'w')",)), (builtins.getattr, ("text", "upper")),
            (builtins.open, (str(marker), "w")), (builtins.__import__, ("os",)),
            (importlib.import_module, ("os",)), (subprocess.Popen, (["touch", str(marker)],)),
            (subprocess.check_output, (["touch", str(marker)],)), (torch.load, (str(marker),)),
            (np.load, (str(marker),)),
            (torch.nn.Module, ()), (pickle.loads, (b"",)), (builtins.compile, ("0", "x", "eval"))]


@pytest.mark.parametrize("nested", [False, True])
def test_every_global_outside_the_allowed_set_is_refused(tmp_path, nested):
    marker = tmp_path / "PWNED"
    for target, args in _forbidden_corpus(marker):
        pkl = tmp_path / "evil.pkl"
        if nested:  # hidden in the generator's init kwargs of an otherwise valid official file
            write_pickle(pkl, tmp_path / "SRC", poison=_Evil(target, args))
        else:
            pkl.write_bytes(pickle.dumps({"G_ema": _Evil(target, args)}, protocol=2))
        with pytest.raises(ConvertError) as e:
            safe_load(pkl)
        name = f"{target.__module__}.{target.__qualname__}"
        # the message names the global as the file wrote it (pickle may record a re-exporting module)
        assert re.search(rf"Refused to load '[\w.]+\.{re.escape(target.__qualname__)}'", str(e.value)), (name, str(e.value))
        assert (target.__module__, target.__qualname__) not in ALLOWED
        assert not marker.exists() and not (tmp_path / "SRC").exists(), name


def test_refusal_names_the_global(tmp_path):
    import os

    pkl = tmp_path / "evil.pkl"
    pkl.write_bytes(pickle.dumps(_Evil(os.system, ("true",)), protocol=2))
    with pytest.raises(ConvertError, match=r"Refused to load '(posix|nt|os)\.system'"):
        convert_stylegan(pkl, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_state_cannot_be_set_on_allowed_classes_or_functions(tmp_path):
    """BUILD on an allowed class (OrderedDict) or stand-in function would rewire it for the whole process."""
    import collections

    for module, name in (("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2")):
        # GLOBAL module.name; (None, {"__doc__": "rewired"}); BUILD; STOP  (protocol 0 opcodes)
        data = f"c{module}\n{name}\n(N}}V__doc__\nVrewired\nst".encode() + pickle.BUILD + pickle.STOP
        pkl = tmp_path / "build.pkl"
        pkl.write_bytes(data)
        with pytest.raises(ConvertError, match="sets the state"):
            safe_load(pkl)
    assert collections.OrderedDict.__doc__ != "rewired"


def test_stylegan3_is_refused_with_a_clear_message(tmp_path):
    pkl, marker = tmp_path / "sg3.pkl", tmp_path / "PWNED"
    write_pickle(pkl, marker, stylegan3=True)
    with pytest.raises(ConvertError, match="StyleGAN3"):
        convert_stylegan(pkl, tmp_path / "out")
    assert not marker.exists()


def test_names_and_shapes_follow_the_official_config_tables():
    """StyleGAN2-ADA's SynthesisNetwork: channels min(channel_base // res, channel_max); num_ws = 2 log2(R) - 2;
    'stylegan2' / 'paper512' / 'paper1024' use channel_base 32768 (fmaps=1), 'paper256' 16384 (fmaps=0.5),
    channel_max 512, 8 mapping layers, conv_clamp 256."""
    ffhq = StyleGANConfig.official(1024)
    assert ffhq.channels == {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64, 1024: 32}
    assert ffhq.n_latent == 18 and ffhq.n_mlp == 8 and ffhq.conv_clamp == 256
    p256 = StyleGANConfig.official(256, channel_base=16384)
    assert p256.channels == {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64} and p256.n_latent == 14
    # every official tensor name of a 1024 px generator (resample_filter buffers aside), built from the tables
    expected = {"mapping.w_avg"} | {f"mapping.fc{i}.{p}" for i in range(8) for p in ("weight", "bias")}
    expected |= {"synthesis.b4.const"}
    for r in ffhq.channels:
        for conv in (["conv1"] if r == 4 else ["conv0", "conv1"]):
            expected |= {f"synthesis.b{r}.{conv}.{p}" for p in ("weight", "bias", "affine.weight", "affine.bias",
                                                                 "noise_const", "noise_strength")}
        expected |= {f"synthesis.b{r}.torgb.{p}" for p in ("weight", "bias", "affine.weight", "affine.bias")}
    names = official_names(ffhq)
    assert {theirs for _, theirs, _ in names} == expected and len(names) == len(expected)
    from nets.stylegan import _official_shape, _state_shapes

    shapes = _state_shapes(ffhq)
    kinds = {theirs: (mine, kind) for mine, theirs, kind in names}
    official_shape = {"synthesis.b4.const": (512, 4, 4), "synthesis.b1024.conv0.weight": (32, 64, 3, 3),
                      "synthesis.b1024.conv1.weight": (32, 32, 3, 3), "synthesis.b1024.torgb.weight": (3, 32, 1, 1),
                      "synthesis.b1024.conv0.affine.weight": (64, 512), "synthesis.b8.conv0.noise_const": (8, 8),
                      "synthesis.b1024.torgb.bias": (3,), "mapping.fc0.weight": (512, 512),
                      "synthesis.b4.conv1.noise_strength": ()}
    for theirs, want in official_shape.items():
        mine, kind = kinds[theirs]
        got = shapes[mine]
        assert _official_shape(got, kind) == want, (theirs, mine, got)


def test_embedded_config_is_unchanged_by_the_new_fields():
    import json

    from toyworld.settings import EMBEDDED_GAN

    raw = json.loads((EMBEDDED_GAN / "config.json").read_text())
    cfg = StyleGANConfig(**{k: v for k, v in raw.items() if k in StyleGANConfig.__dataclass_fields__})
    assert cfg.conv_clamp is None
    assert json.loads(cfg.to_json()) == {k: v for k, v in raw.items() if k in StyleGANConfig.__dataclass_fields__}

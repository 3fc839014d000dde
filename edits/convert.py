"""Convert official NVlabs StyleGAN weights into a generator folder, without running any code from the file.

    python -m edits.convert stylegan network-snapshot.pkl my-stylegan/
    python app.py --gan-model my-stylegan/

An NVlabs `.pkl` (stylegan2-ada-pytorch, stylegan3) is a pickle of `torch_utils.persistence` objects:
each network carries the *source code of its module* and `pickle.load` runs it (exec) to rebuild the
class. Here the file is read by a restricted unpickler instead:

- only the constructors listed in ALLOWED can be named by the file: tensors and their storages (the
  storage bytes are read by `torch.load(weights_only=True)`), OrderedDict, set, numpy scalars / arrays /
  dtypes, dnnlib's EasyDict (read as a plain dict). Every other global is refused, with its name;
- a persisted network (`torch_utils.persistence._reconstruct_persistent_obj`) becomes a `Persisted`
  record: its class name, its state (parameters, buffers, sub-networks, init arguments) and the SHA-256
  of its embedded source, which is never compiled, imported or executed.

The generator (`G_ema`, else `G`) is then mapped onto nets/stylegan.py (`StyleGANConfig.official`,
`from_official_state`) and written as config.json + generator.safetensors, the folder `load_gan` reads.
config.json says `"seed_convention": "nvlabs"`: seed N draws z as `np.random.RandomState(N).randn(1, z_dim)`, as
NVlabs' `generate.py --seeds N` does, so that a seed gives the same picture here and there.
StyleGAN3 generators (alias-free: Fourier-feature input, filtered non-linearities) have no counterpart
in nets/stylegan.py and are refused with a message that says so; StyleGAN2 networks saved by the
stylegan3 repository use the same names and convert.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nets.stylegan import Generator, StyleGANConfig, from_official_state, save_generator

# The reader lives in edits/safe_pickle.py; its names stay importable from here.
from .safe_pickle import ALLOWED, MAX_PICKLE_BYTES, RefusedGlobal, SafeUnpickler  # noqa: F401
from .safe_pickle import ConvertError, Persisted, safe_load


# ------------------------------------------------------------------ StyleGAN2 generator -> config + state
def _number(v, default=None):
    if v is None:
        return default
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


@dataclass
class Converted:
    cfg: StyleGANConfig
    state: dict[str, torch.Tensor]
    info: dict = field(default_factory=dict)


def find_generator(data) -> tuple[str, Persisted]:
    if isinstance(data, Persisted):
        return "(top level)", data
    if isinstance(data, dict):
        for key in ("G_ema", "G"):
            if isinstance(data.get(key), Persisted):
                return key, data[key]
    keys = ", ".join(map(str, data)) if isinstance(data, dict) else type(data).__name__
    raise ConvertError(f"No generator (G_ema or G) was found in the file (it holds {keys}).")


def stylegan2_from_persisted(g: Persisted) -> Converted:
    """The project's config and state dict for an official StyleGAN2(-ADA) generator record."""
    mapping, blocks = _generator_parts(g)
    t = g.tensors()
    dims, acts = _mapping_dims(mapping, t)
    layout, convs = _synthesis_layout(blocks, t, acts)
    cfg = StyleGANConfig(**dims, **layout)
    _constant_noise(convs)
    if "mapping.w_avg" not in t:
        raise ConvertError("The mapping network has no w_avg (it was trained without tracking it).")
    try:
        state = from_official_state(cfg, g.tensors())
    except ValueError as e:
        raise ConvertError(str(e)) from None
    kw = g.init_kwargs
    syn = kw.get("synthesis_kwargs") if isinstance(kw.get("synthesis_kwargs"), dict) else kw  # stylegan3 repo: flat
    base = _channel_base(layout["channels"], layout["resolution"], syn.get("channel_base"), syn.get("channel_max"))
    info = {"class": g.class_name, "module_source_sha256": g.source_sha256, "module_source_chars": g.source_chars,
            "persistence_version": g.version, "channel_base": base[0], "channel_max": base[1],
            "init_kwargs": _jsonable(g.init_kwargs)}
    return Converted(cfg, state, info)


def _generator_parts(g: Persisted) -> tuple[Persisted, dict[str, Persisted]]:
    """(the mapping network, the synthesis blocks by name) of an unconditional StyleGAN2 generator; StyleGAN3
    and class-conditional generators are refused."""
    mapping, synthesis = g.child("mapping"), g.child("synthesis")
    if g.class_name != "Generator" or mapping is None or synthesis is None:
        raise ConvertError(f"The network is a {g.class_name!r}, not a StyleGAN generator with mapping and "
                           "synthesis networks.")
    blocks = {n: c for n, c in synthesis.children.items() if n.startswith("b") and n[1:].isdigit()}
    if "b4" not in blocks:
        if synthesis.child("input") is not None or any(n.startswith("L") for n in synthesis.children):
            raise ConvertError("This is a StyleGAN3 (alias-free) generator: its synthesis network (Fourier-"
                               "feature input, filtered non-linearities, per-layer transforms) has no counterpart "
                               "in nets/stylegan.py, so it is not converted. StyleGAN2 and StyleGAN2-ADA "
                               "generators are.")
        raise ConvertError("The synthesis network has no b4 block: not a StyleGAN2 generator.")
    c_dim = int(_number(mapping.state.get("c_dim"), 0))
    if c_dim > 0 or "embed" in mapping.children:
        raise ConvertError(f"This generator is class-conditional (c_dim={c_dim}); only unconditional "
                           "generators are converted.")
    return mapping, blocks


def _mapping_dims(mapping: Persisted, t: dict[str, torch.Tensor]) -> tuple[dict, set[str]]:
    """The mapping network's part of the config (z_dim, w_dim, n_mlp, lr_mlp) and its layers' activations."""
    fcs = sorted(int(n[2:]) for n in mapping.children if n.startswith("fc") and n[2:].isdigit())
    if not fcs or fcs != list(range(len(fcs))):
        raise ConvertError("The mapping network's layers are not fc0..fcN.")
    w0 = t["mapping.fc0.weight"]
    z_dim, w_dim = int(w0.shape[1]), int(t[f"mapping.fc{fcs[-1]}.weight"].shape[0])
    for i in fcs:
        want = (w_dim, z_dim if i == 0 else w_dim)
        if tuple(t[f"mapping.fc{i}.weight"].shape) != want:
            raise ConvertError(f"mapping.fc{i} is {tuple(t[f'mapping.fc{i}.weight'].shape)}, expected {want} "
                               "(mapping layers narrower or wider than w_dim are not supported).")
    fc0 = mapping.child("fc0")
    acts = {str(mapping.child(f"fc{i}").state.get("activation", "lrelu")) for i in fcs}
    lr_mlp = _number(fc0.state.get("bias_gain"), None) or _number(
        (mapping.init_kwargs or {}).get("lr_multiplier"), 0.01)
    return {"z_dim": z_dim, "w_dim": w_dim, "n_mlp": len(fcs), "lr_mlp": float(lr_mlp)}, acts


def _synthesis_layout(blocks: dict[str, Persisted], t: dict[str, torch.Tensor],
                      acts: set[str]) -> tuple[dict, list[Persisted]]:
    """The synthesis network's part of the config (resolution, img_channels, channels, conv_clamp) and its
    conv layers (b4.conv1, then conv0 and conv1 of each larger block); `acts` are the mapping's activations,
    checked with the synthesis layers'. Anything nets/stylegan.py does not draw is refused."""
    res = sorted(int(n[1:]) for n in blocks)
    resolution = res[-1]
    if res != [2 ** i for i in range(2, resolution.bit_length())]:
        raise ConvertError(f"The synthesis blocks {res} are not 4, 8, ..., {resolution}.")
    convs = [blocks["b4"].child("conv1")] + [blocks[f"b{r}"].child(n) for r in res[1:] for n in ("conv0", "conv1")]
    if any(c is None for c in convs):
        raise ConvertError("A synthesis block lacks its conv0 / conv1 layer.")
    acts = acts | {str(c.state.get("activation", "lrelu")) for c in convs}
    if acts != {"lrelu"}:
        raise ConvertError(f"Only leaky-ReLU networks are converted (this one uses {sorted(acts)}).")
    archs = {str(b.state.get("architecture", "skip")) for b in blocks.values()}
    if archs != {"skip"}:
        raise ConvertError(f"Only the 'skip' synthesis architecture (the official default) is converted, not {sorted(archs)}.")
    for name, b in blocks.items():
        rgb = b.child("torgb")
        if rgb is None:
            raise ConvertError(f"Synthesis block {name} has no torgb layer.")
        f = t.get(f"synthesis.{name}.resample_filter")
        if f is not None and not torch.allclose(f.float(), _setup_filter((1, 3, 3, 1)), atol=1e-6):
            raise ConvertError("Only the default [1, 3, 3, 1] resampling filter is converted.")
    if any(tuple(t[f"synthesis.b{r}.conv1.weight"].shape[2:]) != (3, 3) for r in res):
        raise ConvertError("Only 3x3 synthesis convolutions are converted.")
    clamps = {_number(c.state.get("conv_clamp")) for c in convs}
    if len(clamps) != 1:
        raise ConvertError(f"The layers use different conv_clamp values {sorted(map(str, clamps))}.")
    channels = {r: int(t[f"synthesis.b{r}.conv1.weight"].shape[0]) for r in res}
    img_channels = int(t["synthesis.b4.torgb.weight"].shape[0])
    return {"resolution": resolution, "img_channels": img_channels, "channels": channels,
            "conv_clamp": clamps.pop()}, convs


def _constant_noise(convs: list[Persisted]) -> None:
    """use_noise=False layers have neither noise_const nor noise_strength: zeros stand for them (no noise)."""
    for c in convs:
        if not c.state.get("use_noise", True):
            r = int(_number(c.state.get("resolution"), 4))
            c.state.setdefault("_buffers", {})["noise_const"] = torch.zeros(r, r)
            c.state.setdefault("_parameters", {})["noise_strength"] = torch.zeros(())


def _setup_filter(k) -> torch.Tensor:
    f = torch.tensor(k, dtype=torch.float32)
    f = f[:, None] * f[None, :]
    return f / f.sum()


def _channel_base(channels: dict[int, int], resolution: int, base=None, cmax=None) -> tuple[int | None, int | None]:
    """The (channel_base, channel_max) that give these channels: the file's own if they do, else an official
    pair that does, else (None, None). Informative only: the channels are read from the tensors."""
    from nets.stylegan import official_channels

    pairs = [(base, cmax)] if isinstance(base, (int, np.integer)) and isinstance(cmax, (int, np.integer)) else []
    for base, cmax in pairs + [(b, m) for b in (16384, 32768, 65536) for m in (256, 512, 1024)]:
        if official_channels(resolution, int(base), int(cmax)) == channels:
            return int(base), int(cmax)
    return None, None


def _jsonable(x, depth: int = 0):
    if depth > 6:
        return None
    if isinstance(x, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in x]
    if isinstance(x, (np.generic,)):
        return x.item()
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(type(x).__name__)


def convert_stylegan(pkl: str | Path, out: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    """Read an NVlabs pickle safely and write config.json + generator.safetensors into `out`."""
    pkl = Path(pkl)
    key, g = find_generator(safe_load(pkl))
    conv = stylegan2_from_persisted(g)
    gen = Generator(conv.cfg)
    gen.load_state_dict(conv.state)
    digest = hashlib.sha256(pkl.read_bytes()).hexdigest()
    # seed N draws z as NVlabs' generate.py does, so that it gives their picture of seed N (edits.gan.z_from_seeds)
    return save_generator(gen, out, dtype=dtype, extra={"seed_convention": "nvlabs", "converted_from": {
        "file": pkl.name, "sha256": digest, "network": key, "format": "NVlabs StyleGAN2(-ADA) PyTorch pickle",
        **conv.info}})


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m edits.convert", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="kind", required=True)
    s = sub.add_parser("stylegan", help="an NVlabs StyleGAN2-ADA-PyTorch .pkl -> a generator folder")
    s.add_argument("pkl", help="the .pkl file (it is read as data; no code in it is run)")
    s.add_argument("out", help="the folder to write (config.json + generator.safetensors)")
    s.add_argument("--fp16", action="store_true", help="store the weights in float16 (half the size)")
    a = p.parse_args(argv)
    try:
        folder = convert_stylegan(a.pkl, a.out, torch.float16 if a.fp16 else torch.float32)
    except (ConvertError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    cfg = json.loads((folder / "config.json").read_text())
    print(f"wrote {folder}: {cfg['resolution']} px, z {cfg['z_dim']}, w {cfg['w_dim']}, "
          f"{cfg['n_mlp']} mapping layers; load it with `python app.py --gan-model {folder}`")


if __name__ == "__main__":
    main()

"""A StyleGAN2-style generator in plain PyTorch (no custom CUDA ops; runs on CPU).

    g = Generator(StyleGANConfig())
    w = g.mapping(z)                                  # (B, w_dim)          z -> W
    w = g.truncate(w, psi=0.7)                        # towards w_avg
    x = g.synthesis(g.broadcast(w))                   # (B, C, R, R)        W+ -> image
    x = g(z, truncation_psi=0.7)                      # the same, in one call

The layout follows StyleGAN2 (and the module names of the widely used rosinality port, so official
weights could be mapped onto it later): a mapping MLP with a low learning-rate multiplier and a
tracked `w_avg`; synthesis from a learned 4x4 constant through modulated / demodulated 3x3
convolutions (upsampling by a transposed convolution followed by a [1,3,3,1] blur), per-layer noise
(fixed buffers at inference, so an image is a function of w alone) and ToRGB skips summed across
resolutions. Weights are stored with equalised learning rate (N(0,1) values scaled at run time).

The embedded model (the default config) draws 64 x 64 RGB pixels; a generator folder whose config names
a `decoder` (a diffusers VAE) writes that VAE's latents instead and is decoded by it (edits/gan.py).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)


def check_pyramid(cfg) -> None:
    """Normalise and check a config's resolution pyramid in place (channels per resolution from 4 up, with JSON's
    string keys made ints; the blur kernel as a tuple): shared by the generator's and discriminator's configs."""
    cfg.channels = {int(k): int(v) for k, v in cfg.channels.items()}
    cfg.blur_kernel = tuple(cfg.blur_kernel)
    log2 = int(math.log2(cfg.resolution))
    if 2 ** log2 != cfg.resolution or log2 < 2:
        raise ValueError(f"resolution must be a power of two >= 4, not {cfg.resolution}")
    missing = [2 ** i for i in range(2, log2 + 1) if 2 ** i not in cfg.channels]
    if missing:
        raise ValueError(f"channels missing for resolutions {missing}")


@dataclass
class StyleGANConfig:
    z_dim: int = 128
    w_dim: int = 128
    n_mlp: int = 4
    resolution: int = 64  # output side (a power of two >= 4)
    img_channels: int = 3  # 3 for pixels (the embedded model); 4 for a VAE's latents, with a decoder
    channels: dict = field(default_factory=lambda: {4: 128, 8: 128, 16: 64, 32: 32, 64: 16})
    lr_mlp: float = 0.01
    blur_kernel: tuple = (1, 3, 3, 1)
    # Official StyleGAN2-ADA clamps every synthesis activation to +-conv_clamp (256 in its configs);
    # None (the embedded model) clamps nothing.
    conv_clamp: float | None = None

    def __post_init__(self):
        check_pyramid(self)

    @property
    def n_latent(self) -> int:
        """Number of style inputs (the W+ layers): conv and ToRGB at 4x4, then two convs per resolution."""
        return int(math.log2(self.resolution)) * 2 - 2

    def to_json(self) -> str:
        d = asdict(self)
        if d["conv_clamp"] is None:  # configs written before the field existed stay as they were
            del d["conv_clamp"]
        return json.dumps(d, indent=1)

    @classmethod
    def official(cls, resolution: int, z_dim: int = 512, w_dim: int = 512, n_mlp: int = 8,
                 channel_base: int = 32768, channel_max: int = 512, img_channels: int = 3,
                 lr_mlp: float = 0.01, conv_clamp: float | None = 256) -> "StyleGANConfig":
        """The config of an NVlabs StyleGAN2-ADA generator (`training/networks.py` defaults; the `paper256`
        config has channel_base 16384, the others 32768; `cifar` and `auto` below 512 px use 2 mapping layers)."""
        return cls(z_dim=z_dim, w_dim=w_dim, n_mlp=n_mlp, resolution=resolution, img_channels=img_channels,
                   channels=official_channels(resolution, channel_base, channel_max), lr_mlp=lr_mlp,
                   conv_clamp=conv_clamp)


def official_channels(resolution: int, channel_base: int = 32768, channel_max: int = 512) -> dict[int, int]:
    """Channels per resolution as StyleGAN2-ADA's SynthesisNetwork sets them: min(base // res, max)."""
    return {2 ** i: min(channel_base // 2 ** i, channel_max) for i in range(2, int(math.log2(resolution)) + 1)}


# ------------------------------------------------------------------ building blocks
def make_kernel(k) -> torch.Tensor:
    k = torch.tensor(k, dtype=torch.float32)
    k = k[None, :] * k[:, None] if k.ndim == 1 else k
    return k / k.sum()


def blur(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
    """Depthwise FIR filter with asymmetric zero padding (upfirdn2d with up = down = 1)."""
    c = x.shape[1]
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    k = torch.flip(kernel, [0, 1]).to(x)[None, None].expand(c, 1, *kernel.shape)
    return F.conv2d(x, k, groups=c)


def upsample2x(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Zero-insertion upsampling by 2 followed by the FIR filter (scaled by 4 to keep the gain)."""
    b, c, h, w = x.shape
    up = x.new_zeros(b, c, h, 2, w, 2)
    up[:, :, :, 0, :, 0] = x
    up = up.reshape(b, c, 2 * h, 2 * w)
    p = kernel.shape[0] - 2
    return blur(up, kernel * 4, ((p + 1) // 2 + 1, p // 2))


def fused_lrelu(x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, 0.2) * SQRT2


def clamp(x: torch.Tensor, limit: float | None) -> torch.Tensor:
    """x clamped to +-limit (official StyleGAN2-ADA's conv_clamp); x itself when limit is None."""
    return x if limit is None else x.clamp(-limit, limit)


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, bias_init=0.0, lr_mul=1.0, activation=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.scale, self.lr_mul, self.activation = lr_mul / math.sqrt(in_dim), lr_mul, activation

    def forward(self, x):
        b = None if self.bias is None else self.bias * self.lr_mul
        if self.activation:
            return fused_lrelu(F.linear(x, self.weight * self.scale), b)
        return F.linear(x, self.weight * self.scale, b)


class EqualConv2d(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1 / math.sqrt(in_ch * kernel_size ** 2)
        self.stride, self.padding = stride, padding

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class ModulatedConv2d(nn.Module):
    """Convolution whose input channels are scaled per sample by a style (and optionally demodulated)."""

    def __init__(self, in_ch, out_ch, kernel_size, style_dim, demodulate=True, upsample=False, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.in_ch, self.out_ch, self.k = in_ch, out_ch, kernel_size
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_ch * kernel_size ** 2)
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)  # the "affine" A of the paper
        self.demodulate, self.upsample = demodulate, upsample
        if upsample:
            self.register_buffer("blur_kernel", make_kernel(blur_kernel) * 4, persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # Modulating the activations instead of the weights is the same operation (StyleGAN2's
        # "non-fused" form) and lets one shared convolution serve the whole batch: far faster on CPU.
        s = self.modulation(w)  # (B, in)
        weight = self.scale * self.weight[0]  # (out, in, k, k)
        x = x * s[:, :, None, None]
        if self.upsample:
            out = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)  # (B, out, 2H+1, 2W+1)
            p = self.blur_kernel.shape[0] - 2 - (self.k - 1)
            out = blur(out, self.blur_kernel, ((p + 1) // 2 + 1, p // 2 + 1))  # (B, out, 2H, 2W)
        else:
            out = F.conv2d(x, weight, padding=self.k // 2)  # (B, out, H, W)
        if self.demodulate:
            d = torch.rsqrt(s.pow(2) @ weight.pow(2).sum([2, 3]).t() + 1e-8)  # (B, out)
            out = out * d[:, :, None, None]
        return out


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, noise):
        return x + self.weight * noise


class StyledConv(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, style_dim, upsample=False, blur_kernel=(1, 3, 3, 1),
                 conv_clamp=None):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, kernel_size, style_dim, upsample=upsample, blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate_bias = nn.Parameter(torch.zeros(out_ch))
        self.conv_clamp = conv_clamp

    def forward(self, x, w, noise):
        return clamp(fused_lrelu(self.noise(self.conv(x, w), noise), self.activate_bias), self.conv_clamp)


class ToRGB(nn.Module):
    def __init__(self, in_ch, out_ch, style_dim, upsample=True, blur_kernel=(1, 3, 3, 1), conv_clamp=None):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))
        if upsample:
            self.register_buffer("kernel", make_kernel(blur_kernel), persistent=False)
        self.upsample = upsample
        self.conv_clamp = conv_clamp

    def forward(self, x, w, skip=None):
        out = clamp(self.conv(x, w) + self.bias, self.conv_clamp)
        if skip is not None:
            out = out + upsample2x(skip, self.kernel)
        return out


class ConstantInput(nn.Module):
    def __init__(self, channels, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int):
        return self.input.expand(batch, -1, -1, -1)


# ------------------------------------------------------------------ the generator
class Generator(nn.Module):
    def __init__(self, cfg: StyleGANConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or StyleGANConfig()
        k, cc = cfg.blur_kernel, cfg.conv_clamp
        self.style = nn.Sequential(PixelNorm(), *[
            EqualLinear(cfg.z_dim if i == 0 else cfg.w_dim, cfg.w_dim, lr_mul=cfg.lr_mlp, activation=True)
            for i in range(cfg.n_mlp)])
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))
        ch = cfg.channels
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], 3, cfg.w_dim, blur_kernel=k, conv_clamp=cc)
        self.to_rgb1 = ToRGB(ch[4], cfg.img_channels, cfg.w_dim, upsample=False, conv_clamp=cc)
        self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        self.noises = nn.Module()
        self.noises.register_buffer("noise_0", torch.randn(1, 1, 4, 4))
        in_ch, layer = ch[4], 1
        for log2 in range(3, int(math.log2(cfg.resolution)) + 1):
            res = 2 ** log2
            self.convs.append(StyledConv(in_ch, ch[res], 3, cfg.w_dim, upsample=True, blur_kernel=k, conv_clamp=cc))
            self.convs.append(StyledConv(ch[res], ch[res], 3, cfg.w_dim, blur_kernel=k, conv_clamp=cc))
            self.to_rgbs.append(ToRGB(ch[res], cfg.img_channels, cfg.w_dim, blur_kernel=k, conv_clamp=cc))
            for _ in range(2):
                self.noises.register_buffer(f"noise_{layer}", torch.randn(1, 1, res, res))
                layer += 1
            in_ch = ch[res]

    @property
    def n_latent(self) -> int:
        return self.cfg.n_latent

    # ---------------------------------------------------------------- latent API
    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        return self.style(z)  # (B, z_dim) -> (B, w_dim)

    def truncate(self, w: torch.Tensor, psi: float = 1.0, cutoff: int | None = None) -> torch.Tensor:
        """w_avg + psi (w - w_avg), on W (B, w_dim) or on the first `cutoff` layers of W+ (B, L, w_dim)."""
        if psi == 1.0:
            return w
        t = self.w_avg + psi * (w - self.w_avg)
        if w.ndim == 3 and cutoff is not None:
            keep = torch.arange(w.shape[1], device=w.device)[None, :, None] < cutoff
            return torch.where(keep, t, w)
        return t

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """W -> W+: the same w for every style layer."""
        return w[:, None, :].expand(-1, self.n_latent, -1) if w.ndim == 2 else w  # (B, L, w_dim)

    def modulation_weights(self) -> list[torch.Tensor]:
        """The affine (style) weights of every modulated conv, each (in_ch, w_dim), as SeFa factorises them."""
        mods = [m for m in self.modules() if isinstance(m, ModulatedConv2d)]
        return [m.modulation.weight * m.modulation.scale for m in mods]

    def synthesis(self, w_plus: torch.Tensor, noise: list[torch.Tensor] | None = None,
                  randomize_noise: bool = False) -> torch.Tensor:
        """W+ (B, n_latent, w_dim) -> image (B, img_channels, R, R). Fixed noise unless asked."""
        if w_plus.ndim != 3 or w_plus.shape[1] != self.n_latent:
            raise ValueError(f"expected W+ codes of shape (B, {self.n_latent}, {self.cfg.w_dim}), got {tuple(w_plus.shape)}")
        b = w_plus.shape[0]
        if noise is None:
            bufs = [getattr(self.noises, f"noise_{i}") for i in range(2 * len(self.to_rgbs) + 1)]
            noise = [torch.randn(b, 1, *n.shape[2:], device=n.device) for n in bufs] if randomize_noise else bufs
        x = self.conv1(self.input(b), w_plus[:, 0], noise[0])  # (B, C4, 4, 4)
        skip = self.to_rgb1(x, w_plus[:, 1])
        i = 1
        for up, conv, rgb, n1, n2 in zip(self.convs[::2], self.convs[1::2], self.to_rgbs, noise[1::2], noise[2::2]):
            x = up(x, w_plus[:, i], n1)  # (B, C, 2H, 2W)
            x = conv(x, w_plus[:, i + 1], n2)
            skip = rgb(x, w_plus[:, i + 2], skip)
            i += 2
        return skip

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                input_is_latent: bool = False, randomize_noise: bool = False) -> torch.Tensor:
        w = z if input_is_latent else self.mapping(z)
        w_plus = self.truncate(self.broadcast(w), truncation_psi, truncation_cutoff or self.n_latent)
        return self.synthesis(w_plus, randomize_noise=randomize_noise)

    @torch.no_grad()
    def mean_latent(self, n: int = 4096, seed: int = 0) -> torch.Tensor:
        z = torch.randn(n, self.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
        return self.mapping(z.to(self.w_avg.device)).mean(0)


# ------------------------------------------------------------------ files
def save_generator(g: Generator, folder: str | Path, dtype=torch.float16, extra: dict | None = None) -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(dtype).contiguous() for k, v in g.state_dict().items()}
    save_file(state, folder / "generator.safetensors", metadata={"format": "imagination-potentiality/stylegan@1"})
    cfg = json.loads(g.cfg.to_json())
    (folder / "config.json").write_text(json.dumps({**cfg, **(extra or {})}, indent=1))
    return folder


# ------------------------------------------------------------------ official StyleGAN2-ADA names
# How each tensor of Generator(cfg) is named and shaped in an NVlabs StyleGAN2-ADA-PyTorch generator
# (training/networks.py: G.mapping.fc{i}, G.synthesis.b{res}.{const,conv0,conv1,torgb}); the same names
# serve StyleGAN3's repository for its StyleGAN2 networks (training/networks_stylegan2.py).
# Kinds: "same" shape; "lead1": the project adds a leading 1 (modulated weights, the constant);
# "noise": (r, r) -> (1, 1, r, r); "scalar": () -> (1,); "rgb_bias": (C,) -> (1, C, 1, 1).
def official_names(cfg: StyleGANConfig) -> list[tuple[str, str, str]]:
    """(project name, official name, kind) for every tensor of a Generator(cfg) state dict."""
    out = [("w_avg", "mapping.w_avg", "same")]
    for i in range(cfg.n_mlp):
        out += [(f"style.{i + 1}.{p}", f"mapping.fc{i}.{p}", "same") for p in ("weight", "bias")]

    def layer(mine: str, theirs: str, noise: int) -> list[tuple[str, str, str]]:
        return [(f"{mine}.conv.weight", f"{theirs}.weight", "lead1"),
                (f"{mine}.conv.modulation.weight", f"{theirs}.affine.weight", "same"),
                (f"{mine}.conv.modulation.bias", f"{theirs}.affine.bias", "same"),
                (f"{mine}.noise.weight", f"{theirs}.noise_strength", "scalar"),
                (f"{mine}.activate_bias", f"{theirs}.bias", "same"),
                (f"noises.noise_{noise}", f"{theirs}.noise_const", "noise")]

    def torgb(mine: str, theirs: str) -> list[tuple[str, str, str]]:
        return [(f"{mine}.conv.weight", f"{theirs}.weight", "lead1"),
                (f"{mine}.conv.modulation.weight", f"{theirs}.affine.weight", "same"),
                (f"{mine}.conv.modulation.bias", f"{theirs}.affine.bias", "same"),
                (f"{mine}.bias", f"{theirs}.bias", "rgb_bias")]

    out += [("input.input", "synthesis.b4.const", "lead1")]
    out += layer("conv1", "synthesis.b4.conv1", 0) + torgb("to_rgb1", "synthesis.b4.torgb")
    for k, log2 in enumerate(range(3, int(math.log2(cfg.resolution)) + 1)):
        b = f"synthesis.b{2 ** log2}"
        out += layer(f"convs.{2 * k}", f"{b}.conv0", 2 * k + 1) + layer(f"convs.{2 * k + 1}", f"{b}.conv1", 2 * k + 2)
        out += torgb(f"to_rgbs.{k}", f"{b}.torgb")
    return out


def from_official_state(cfg: StyleGANConfig, official: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict for Generator(cfg) from an official generator's tensors (named as `G.state_dict()`).

    The arithmetic is the same: equalised-learning-rate storage (weights N(0,1), scaled at run time by
    lr_mul / sqrt(fan_in)) in the mapping and the affines; ToRGB's style gain equals the project's
    weight scale; demodulated convolutions are scale-invariant, so their unscaled official weights
    give the same output (up to where the 1e-8 of the demodulation sits)."""
    shapes = _state_shapes(cfg)
    out, missing, wrong = {}, [], []
    for mine, theirs, kind in official_names(cfg):
        if theirs not in official:
            missing.append(theirs)
            continue
        t, want = official[theirs], shapes[mine]
        expected = _official_shape(want, kind)
        if tuple(t.shape) != tuple(expected):
            wrong.append(f"{theirs} is {tuple(t.shape)}, expected {tuple(expected)}")
            continue
        out[mine] = t.reshape(want).float().clone()
    if missing or wrong:
        raise ValueError("The official generator does not match its config: "
                         + "; ".join(([f"missing {', '.join(missing[:6])}"] if missing else []) + wrong[:6]))
    return out


def _official_shape(mine: tuple[int, ...], kind: str) -> tuple[int, ...]:
    """The official shape of a tensor the project holds with shape `mine` (see official_names' kinds)."""
    return {"same": lambda: mine, "lead1": lambda: mine[1:], "noise": lambda: mine[2:], "scalar": lambda: (),
            "rgb_bias": lambda: (mine[1],)}[kind]()


def _state_shapes(cfg: StyleGANConfig) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        g = Generator(cfg)
    return {k: tuple(v.shape) for k, v in g.state_dict().items()}


def load_generator(folder: str | Path, device: str | torch.device = "cpu") -> tuple[Generator, dict]:
    """Load a generator folder (config.json + generator.safetensors); returns (generator, extra config)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    raw = json.loads((folder / "config.json").read_text())
    fields = StyleGANConfig.__dataclass_fields__
    cfg = StyleGANConfig(**{k: v for k, v in raw.items() if k in fields})
    extra = {k: v for k, v in raw.items() if k not in fields}
    g = Generator(cfg)
    state = load_file(str(folder / "generator.safetensors"))
    g.load_state_dict({k: v.float() for k, v in state.items()})
    return g.eval().requires_grad_(False).to(device), extra

"""The StyleGAN generator as the edits use it: a generator folder loaded (with its decoder and encoder when it
names them), codes drawn from seeds, W or W+ rendered to pixels, and the unsupervised directions computed when it
is loaded (GANSpace, SeFa). The edits themselves are in edits/wspace.py, which re-exports these names.

    gan = load_gan()                                           # settings.EMBEDDED_GAN
    w = gan.w_from_seed(7)                                     # (1, w_dim), truncation DEFAULT_PSI
    image = gan.render(w)                                      # (1, H, W, 3) uint8
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .pipeline import ModelLoadError, make_generator, to_uint8
from nets.stylegan import Generator, load_generator
from toyworld.settings import EMBEDDED_GAN

SHAPE_FIELDS = ("z_dim", "w_dim", "n_mlp", "resolution", "channels")  # what config.json must say (nets/stylegan.py)
SEED_CONVENTIONS = ("torch", "nvlabs")  # GANModel.seed_convention
DEFAULT_PSI = 1.0  # no truncation: in the toy world the average code is a blob between the classes


@dataclass
class GANModel:
    """A generator, the decoder from its output to pixels (the toy VAE), and its unsupervised directions."""

    generator: Generator
    decoder: object | None  # diffusers AutoencoderKL, or None when the generator outputs pixels
    latent_scale: float = 1.0
    name: str = "toy-stylegan"
    pca: "Components | None" = None
    sefa: "Components | None" = None
    encoder: torch.nn.Module | None = None  # image -> w (training/stylegan_label_free.py), when shipped
    label_free: bool = False  # True when no factor label reached its training
    adversarial: bool = False  # True when a discriminator judged its pictures in training (a GAN, not an autoencoder)
    folder: Path | None = None  # where it was loaded from; its W directions are in folder/directions
    converted_from: dict | None = None  # what `python -m edits.convert` read (config.json), for a converted one
    # how a seed becomes z: "torch" (the embedded models: a CPU torch.Generator), or "nvlabs" (a converted generator:
    # np.random.RandomState(seed).randn(1, z_dim), as NVlabs' generate.py --seeds draws it)
    seed_convention: str = "torch"

    @property
    def w_dim(self) -> int:
        return self.generator.cfg.w_dim

    @property
    def n_latent(self) -> int:
        return self.generator.n_latent

    @property
    def w_avg(self) -> torch.Tensor:
        return self.generator.w_avg

    @torch.no_grad()
    def z_from_seeds(self, seeds: list[int]) -> torch.Tensor:
        """(B, z_dim): each seed's z, by the generator's own convention (`seed_convention`)."""
        z_dim = self.generator.cfg.z_dim
        if self.seed_convention == "nvlabs":  # seed N is the picture of NVlabs' `generate.py --seeds N`
            return torch.cat([torch.from_numpy(np.random.RandomState(int(s)).randn(1, z_dim)).float() for s in seeds])
        return torch.cat([torch.randn(1, z_dim, generator=make_generator(s)) for s in seeds])

    @torch.no_grad()
    def w_from_seeds(self, seeds: list[int], truncation_psi: float = DEFAULT_PSI) -> torch.Tensor:
        w = self.generator.mapping(self.z_from_seeds(seeds))  # (B, w_dim)
        return self.generator.truncate(w, truncation_psi)

    def w_from_seed(self, seed: int, truncation_psi: float = DEFAULT_PSI) -> torch.Tensor:
        return self.w_from_seeds([seed], truncation_psi)

    @torch.no_grad()
    def render(self, w_plus: torch.Tensor, batch_size: int = 256) -> np.ndarray:
        """W (B, w_dim) or W+ (B, L, w_dim) -> uint8 images (B, H, W, 3)."""
        out = []
        for i in range(0, len(w_plus), batch_size):
            x = self.generator.synthesis(self.generator.broadcast(w_plus[i:i + batch_size]))  # (b, C, r, r)
            if self.decoder is not None:
                x = self.decoder.decode(x / self.latent_scale).sample  # (b, 3, H, W) in [-1, 1]
            out.append(to_uint8((x.clamp(-1, 1).permute(0, 2, 3, 1).numpy() + 1) / 2))
        return np.concatenate(out)


def load_gan(folder: str | Path | None = None) -> GANModel:
    """Load a generator folder (config.json + generator.safetensors, and its decoder if it names one)."""
    folder = Path(folder or EMBEDDED_GAN)
    check_gan_folder(folder)
    try:
        g, extra = load_generator(folder)
        decoder = None
        if extra.get("decoder"):
            from diffusers import AutoencoderKL

            decoder = AutoencoderKL.from_pretrained((folder / extra["decoder"]).resolve(), dtype=torch.float32).eval()
        encoder = _load_encoder(folder, g.cfg, extra)
    except Exception as e:
        raise ModelLoadError(f"The StyleGAN generator in {folder} could not be read ({type(e).__name__}: "
                             f"{str(e).strip().splitlines()[0][:200] if str(e).strip() else 'no detail'}); "
                             "generator.safetensors may be incomplete, corrupt or of another shape than config.json "
                             "says.") from None
    converted = extra.get("converted_from") if isinstance(extra.get("converted_from"), dict) else None
    gan = GANModel(g, decoder, float(extra.get("latent_scale", 1.0)), name=folder.name, encoder=encoder,
                   label_free=bool(extra.get("label_free", False)),
                   adversarial=bool(extra.get("adversarial", False)), folder=folder, converted_from=converted,
                   seed_convention=extra.get("seed_convention") or ("nvlabs" if converted else "torch"))
    gan.pca = ganspace(gan)
    gan.sefa = sefa(gan)
    return gan


def check_gan_folder(folder: Path) -> None:
    """One sentence naming what is missing or wrong in a generator folder, before its weights are read."""
    if not folder.is_dir():
        raise ModelLoadError(f"There is no StyleGAN folder {folder} (convert an NVlabs .pkl into one with "
                             "`python -m edits.convert stylegan FILE.pkl FOLDER`).")
    config, weights = folder / "config.json", folder / "generator.safetensors"
    missing = [f.name for f in (config, weights) if not f.is_file()]
    if missing:
        raise ModelLoadError(f"The StyleGAN folder {folder} has no {' and no '.join(missing)} (a generator folder "
                             "holds config.json and generator.safetensors, as `python -m edits.convert stylegan` "
                             "writes them).")
    try:
        cfg = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise ModelLoadError(f"{config} is not valid JSON, so the StyleGAN's shape cannot be read.") from None
    if not isinstance(cfg, dict):
        raise ModelLoadError(f"{config} holds no JSON object, so the StyleGAN's shape cannot be read.")
    needed = [k for k in SHAPE_FIELDS if k not in cfg]
    if needed:
        raise ModelLoadError(f"{config} lacks {', '.join(needed)}, so the StyleGAN's shape cannot be read.")
    if cfg.get("seed_convention", "torch") not in SEED_CONVENTIONS:
        raise ModelLoadError(f"{config} has seed_convention {str(cfg['seed_convention'])[:40]!r}; it must be one of "
                             f"{', '.join(SEED_CONVENTIONS)}.")
    if cfg.get("decoder") and not (folder / str(cfg["decoder"])).is_dir():  # (an encoder is optional)
        raise ModelLoadError(f"{config} names a decoder folder {cfg['decoder']!r} that is not in {folder}.")


def directions_folder(folder: str | Path | None = None) -> Path:
    """Where a generator folder keeps its fitted W directions: <folder>/directions."""
    return Path(folder or EMBEDDED_GAN) / "directions"


def _load_encoder(folder: Path, cfg, extra: dict) -> torch.nn.Module | None:
    from nets.encoder import Encoder, load_encoder_weights

    e = Encoder(cfg)
    if not extra.get("encoder") or not load_encoder_weights(e, folder, extra["encoder"]):
        return None
    return e.eval().requires_grad_(False)


# ------------------------------------------------------------------ unsupervised directions
@dataclass
class Components:
    """Unit directions in W (k, w_dim) with the samples' standard deviation along each (k,)."""

    method: str
    vectors: torch.Tensor
    stds: torch.Tensor
    explained: list[float] = field(default_factory=list)


@torch.no_grad()
def ganspace(gan: GANModel, n: int = 10_000, k: int = 8, seed: int = 0) -> Components:
    """GANSpace: principal components of sampled w; one slider unit is one standard deviation."""
    from sklearn.decomposition import PCA

    z = torch.randn(n, gan.generator.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    w = gan.generator.mapping(z).numpy()  # (n, w_dim)
    pca = PCA(n_components=k, random_state=seed).fit(w)
    return Components("GANSpace (PCA on w)", torch.from_numpy(pca.components_).float(),
                      torch.from_numpy(np.sqrt(pca.explained_variance_)).float(),
                      [round(float(v), 4) for v in pca.explained_variance_ratio_])


@torch.no_grad()
def sefa(gan: GANModel, k: int = 8, seed: int = 0) -> Components:
    """SeFa: the top right-singular vectors of the stacked style-modulation weights (closed form, no
    sampling); the slider unit is the spread of sampled w along each, as for GANSpace."""
    a = torch.cat(gan.generator.modulation_weights())  # (sum of in_ch, w_dim)
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-8)
    _, s, vh = torch.linalg.svd(a, full_matrices=False)
    vecs = vh[:k]  # (k, w_dim)
    z = torch.randn(4096, gan.generator.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    w = gan.generator.mapping(z)
    stds = (w @ vecs.t()).std(0)
    energy = (s ** 2 / (s ** 2).sum())[:k]
    return Components("SeFa (modulation weights)", vecs.float(), stds.float(), [round(float(e), 4) for e in energy])

"""Training the label-built StyleGAN (`python -m training stylegan` -> assets/toy-stylegan-labelled).

Labels are used in training (scene pairs, one-hot regression, a hand-decoded z): this model is the upper
bound shown beside the label-free one (training/stylegan_label_free.py), never the default. The generator
draws 64 x 64 RGB scenes directly (no decoder). It is an autoencoder with label-built priors (the shipped
recipe has no adversarial loss), trained in two stages that resume from runs/ checkpoints:

1. an encoder E (StyleGAN2's discriminator layout) and the synthesis network learn to redraw the
   training scenes from E's codes w (object-weighted L1 + L2), with noise on the codes; pairs of scenes
   that differ in one factor make W additive in the factors (`make_pairs`, the `add` loss);
2. the mapping network z -> w learns to draw E's code of the scene that z names (`z_to_scene`: the
   first seven coordinates of z pick the factors and the geometry; `train_mapping_from_scenes`), and
   `w_avg` is the mean of its samples. The earlier recipe, a GAN in W (`train_mapping`), drew codes
   between the classes (FINDINGS.md); it stays as the mapping stage of a StyleGAN trained without labels.

Why not the plain GAN or the VAE's latents: assets/toy-stylegan-labelled/README.md and FINDINGS.md.
"""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.encoder import Encoder
from nets.stylegan import EqualLinear, Generator, StyleGANConfig, save_generator
from toyworld.settings import ASSETS, DATA_CACHE, RUNS



# ====================================================================== pixel-space autoencoder, label-built priors
PAIR_FACTORS = ("colour", "shape", "size", "background")


def make_pairs(n: int = 40_000, seed: int = 3, pair_seed: int = 11) -> dict[str, np.ndarray]:
    """Each of the training scenes (make_dataset(n, seed)) with one factor changed: the same position,
    shade jitter and relative size, a different colour, shape, size or background (held-out colour/shape
    pairs avoided). Cached under runs/data; used to make W additive in the factors (see train_stylegan)."""
    from toyworld.data import arrays_to_scene, make_dataset
    from toyworld.world import EXTENT, FACTORS, HELDOUT, SIZE_RADIUS, placement_margin, render

    path = DATA_CACHE / f"pairs_{n}_{seed}_{pair_seed}.npz"
    if path.exists():
        with np.load(path) as f:
            return dict(f)
    base = make_dataset(n, seed)
    rng = np.random.default_rng(pair_seed)
    factor, new_class, images = np.zeros(n, np.int64), np.zeros(n, np.int64), []
    for i in range(n):
        s = arrays_to_scene(base, i)
        while True:
            f = int(rng.integers(len(PAIR_FACTORS)))
            name = PAIR_FACTORS[f]
            old = FACTORS[name].index(getattr(s, name))
            new = int(rng.choice([c for c in range(len(FACTORS[name])) if c != old]))
            changed = {**s.to_dict(), name: FACTORS[name][new]}
            if (changed["colour"], changed["shape"]) not in HELDOUT:
                break
        if name == "size":  # the same relative place in the new size's radius range
            (lo, hi), (lo2, hi2) = SIZE_RADIUS[s.size], SIZE_RADIUS[changed["size"]]
            changed["radius"] = lo2 + (s.radius - lo) / (hi - lo) * (hi2 - lo2)
        margin = placement_margin(changed["radius"], EXTENT[changed["shape"]])
        changed["x"], changed["y"] = (float(np.clip(changed[k], margin, 1 - margin)) for k in ("x", "y"))
        images.append(render(type(s)(**changed), seed * 1_000_003 + i))
        factor[i], new_class[i] = f, new
    out = {"images": np.stack(images), "factor": factor, "new_class": new_class}
    np.savez(path, **out)
    return out


def edge_loss(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """L1 between the horizontal and vertical pixel differences of two images: the outline of the object
    (its shape) is a small part of a per-pixel loss, and blobs minimise that loss long before stars do."""
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    return (dy(y) - dy(x)).abs().mean() + (dx(y) - dx(x)).abs().mean()


def train_stylegan(steps: int = 36_000, batch: int = 32, lr: float = 0.002, add_weight: float = 0.5,
                   code_noise: float = 0.05, edge_weight: float = 2.0, mapping_steps: int = 40_000,
                   out: Path = ASSETS / "toy-stylegan-labelled", log=print) -> dict:
    """Stage 1 (`steps`, resumable): the synthesis network learns the scenes by redrawing them from an
    encoder's codes (E: image -> w; object-weighted L1 + L2, plus L1 on pixel differences, `edge_weight`,
    for the outlines), with Gaussian noise (`code_noise` of the codes' spread) on the codes so that it draws
    a clean scene from every point near a real code. W is made additive in the factors: for a scene and the
    same scene with one factor changed, the codes must differ by a learned per-(factor, class) vector,
    E(x') - E(x) = u[f, b] - u[f, a]; the error is measured relative to the sizes of both differences, so
    that ignoring a factor (both differences zero) cannot satisfy it. EMA copies of E and G are kept.
    Stage 2 (`mapping_steps`), on the EMA encoder's codes of the 40 000 training scenes: a fresh 8-layer
    mapping network learns to draw the code of the scene its z names (`train_mapping_from_scenes`). The
    result is exported (`_stage2_and_export`). The loop is here; resuming, the losses of a batch and the
    checkpoint stand apart (`_resume_stylegan`, `_pair_losses`, `_save_stylegan`)."""
    from toyworld.data import make_dataset
    from toyworld.world import FACTORS

    from .common import ema_of, to_tensor, weights

    cfg = StyleGANConfig()  # 64 x 64 RGB
    base = make_dataset(40_000, seed=3)
    pairs = make_pairs(40_000, seed=3)
    imgs_a, imgs_b = base["images"], pairs["images"]
    cls_a = torch.from_numpy(np.stack([base[k] for k in PAIR_FACTORS], 1))  # (N, 4)
    f_idx, cls_b = torch.from_numpy(pairs["factor"]), torch.from_numpy(pairs["new_class"])
    offsets = torch.tensor(np.cumsum([0] + [len(FACTORS[k]) for k in PAIR_FACTORS])[:-1])
    G, E = Generator(cfg), Encoder(cfg)
    U = nn.Parameter(torch.zeros(sum(len(FACTORS[k]) for k in PAIR_FACTORS), cfg.w_dim))  # per (factor, class)
    G_ema, E_ema = (copy.deepcopy(m).eval().requires_grad_(False) for m in (G, E))
    opt = torch.optim.Adam([p for n, p in G.named_parameters() if not n.startswith("style.")]
                           + list(E.parameters()) + [U], lr, betas=(0.0, 0.99))
    ck = RUNS / "stylegan_px.ckpt"
    start, t_prev, hist = _resume_stylegan(ck, G, E, G_ema, E_ema, U, opt, log)
    gen = torch.Generator().manual_seed(30_000 + start)
    ema = ema_of([G_ema, E_ema], 0.5 ** (batch / 10_000), updates_done=start, constant=True)
    t0 = time.time()
    for step in range(start, steps):
        i = torch.randint(0, len(imgs_a), (batch,), generator=gen)
        real = torch.cat([to_tensor(imgs_a[i.numpy()]), to_tensor(imgs_b[i.numpy()])])  # (2B, 3, 64, 64)
        fi = f_idx[i]
        ua, ub = U[cls_a[i, fi] + offsets[fi]], U[cls_b[i] + offsets[fi]]
        rec, add = _pair_losses(G, E, real, ua, ub, code_noise, edge_weight, gen)
        opt.zero_grad(set_to_none=True)
        (rec + add_weight * add).backward()
        opt.step()
        ema.step(weights(G, E))
        hist.append((rec.item(), add.item()))
        if step % 50 == 0:
            m = np.mean(hist[-50:], axis=0)
            log(f"stylegan step {step} rec {m[0]:.4f} add {m[1]:.4f} "
                f"({(time.time() - t0) / max(1, step - start + 1):.2f} s/step)")
        if (step + 1) % 250 == 0 or step == steps - 1:
            wall = t_prev + time.time() - t0
            ema.copy_to(weights(G_ema, E_ema))
            _save_stylegan(ck, G, E, G_ema, E_ema, U, opt, step + 1, wall, hist)
    wall = t_prev + (time.time() - t0 if start < steps else 0.0)
    settings = {"steps": steps, "batch": batch, "lr": lr, "add_weight": add_weight, "code_noise": code_noise,
                "edge_weight": edge_weight}
    return _stage2_and_export(out, settings, E, E_ema, G_ema, base, cls_a, len(imgs_b), hist, wall, mapping_steps,
                              log)


def _resume_stylegan(ck: Path, G, E, G_ema, E_ema, U: nn.Parameter, opt, log) -> tuple[int, float, list]:
    """Stage 1's checkpoint loaded into the modules when there is one: (the step to start at, the wall time so
    far, the loss history)."""
    if not ck.exists():
        return 0, 0.0, []
    s = torch.load(ck, weights_only=True)
    for m, k in ((G, "G"), (E, "E"), (G_ema, "G_ema"), (E_ema, "E_ema"), (opt, "g_opt")):
        m.load_state_dict(s[k])
    with torch.no_grad():
        U.copy_(s["U"])
    start, t_prev, hist = s["step"], s["wall"], [tuple(h) for h in s["hist"].tolist()]
    log(f"stylegan resumed at step {start}")
    return start, t_prev, hist


def _pair_losses(G, E, real: torch.Tensor, ua: torch.Tensor, ub: torch.Tensor, code_noise: float,
                 edge_weight: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(reconstruction, additivity) for B scenes and their one-factor twins (`real`: (2B, 3, 64, 64), the scenes
    first); `ua`, `ub`: the learned vectors of the changed factor's old and new class."""
    from .common import reconstruction_loss

    batch = len(real) // 2
    w = E(real)  # (2B, w_dim)
    w_in = w + code_noise * w.detach().std(0).mean() * torch.randn(w.shape, generator=gen)
    fake = G.synthesis(G.broadcast(w_in), randomize_noise=True)
    rec = reconstruction_loss(fake, real) + edge_weight * edge_loss(fake, real)
    dw, du = w[batch:] - w[:batch], ub - ua
    add = ((dw - du).pow(2).sum(1) / (dw.pow(2).sum(1) + du.pow(2).sum(1) + 1e-8)).mean()
    return rec, add


def _save_stylegan(ck: Path, G, E, G_ema, E_ema, U: nn.Parameter, opt, step: int, wall: float, hist: list) -> None:
    torch.save({"G": G.state_dict(), "E": E.state_dict(), "G_ema": G_ema.state_dict(),
                "E_ema": E_ema.state_dict(), "U": U.detach(), "g_opt": opt.state_dict(),
                "step": step, "wall": wall, "hist": torch.tensor(hist[-200:])}, ck.with_suffix(".tmp"))
    ck.with_suffix(".tmp").replace(ck)


def _stage2_and_export(out: Path, settings: dict, E, E_ema, G_ema, base: dict, cls_a: torch.Tensor, n_pairs: int,
                       hist: list, wall: float, mapping_steps: int, log) -> dict:
    """Stage 2 on the EMA encoder's codes of the training scenes, then the generator and its training.json."""
    imgs_a = base["images"]
    log("stylegan: encoding the training scenes for the mapping stage")
    codes = encode_scenes(E_ema, imgs_a)
    G_out, stage2 = train_mapping_from_scenes(codes, cls_a.long(), torch.from_numpy(base["geom"]).float(), G_ema,
                                               mapping_steps, log=log)
    save_generator(G_out, out)
    m = np.mean(hist[-200:], axis=0) if hist else [float("nan")] * 2
    (out / "training.json").write_text(json.dumps({
        "recipe": "autoencoder with label-built priors (scene pairs, mapping from scenes), pixel space", **settings,
        "train_scenes": len(imgs_a), "pairs": n_pairs,
        "wall_s": round(wall + stage2["mapping_wall_s"], 1),
        "g_params_M": round(sum(p.numel() for p in G_out.parameters()) / 1e6, 3),
        "e_params_M": round(sum(p.numel() for p in E.parameters()) / 1e6, 3),
        "final_200": {"rec": round(float(m[0]), 5), "additivity": round(float(m[1]), 4)}, **stage2}, indent=1))
    log(f"exported {out}")
    return {"steps": settings["steps"], **stage2}


@torch.no_grad()
def encode_scenes(E: nn.Module, images: np.ndarray, batch: int = 500) -> torch.Tensor:
    from .common import to_tensor

    return torch.cat([E(to_tensor(images[i:i + batch])) for i in range(0, len(images), batch)])


# ====================================================================== stage 2, without labels: a GAN in W
class CodeCritic(nn.Module):
    """The mapping network's adversary: an MLP that tells sampled w from the encoder's codes of real scenes."""

    def __init__(self, w_dim: int, hidden: int = 512):
        super().__init__()
        self.net = nn.Sequential(EqualLinear(w_dim, hidden, activation=True), EqualLinear(hidden, hidden, activation=True),
                                 EqualLinear(hidden, hidden, activation=True), EqualLinear(hidden, 1))

    def forward(self, w):
        return self.net(w)


def train_mapping(codes: torch.Tensor, G: Generator, steps: int = 6000, batch: int = 256, lr: float = 0.002,
                  mapping_lr: float = 0.1, r1_gamma: float = 1.0, r1_every: int = 4, log=print,
                  seed: int = 0) -> dict:
    """The GAN in W: the mapping network (z -> w) learns to draw codes the critic cannot tell from the
    encoder's codes of real scenes (non-saturating loss, lazy R1 on the real codes). No labels: the shipped
    generator's mapping draws the codes of named scenes instead (`train_mapping_from_scenes`); this is the
    mapping of a StyleGAN trained without labels. Updates G.style and G.w_avg in place; returns the losses
    of the last 200 steps."""
    gen = torch.Generator().manual_seed(seed)
    C = CodeCritic(G.cfg.w_dim)
    m_opt = torch.optim.Adam(G.style.parameters(), mapping_lr, betas=(0.0, 0.99))
    c_opt = torch.optim.Adam(C.parameters(), lr, betas=(0.0, 0.99))
    G.style.requires_grad_(True)
    hist, t0 = [], time.time()
    for step in range(steps):
        real = codes[torch.randint(0, len(codes), (batch,), generator=gen)]
        fake = G.mapping(torch.randn(batch, G.cfg.z_dim, generator=gen))
        c_loss = F.softplus(C(fake.detach())).mean() + F.softplus(-C(real)).mean()
        c_opt.zero_grad(set_to_none=True)
        c_loss.backward()
        c_opt.step()
        if step % r1_every == 0:
            r = real.detach().requires_grad_(True)
            g, = torch.autograd.grad(C(r).sum(), r, create_graph=True)
            c_opt.zero_grad(set_to_none=True)
            (r1_gamma / 2 * g.pow(2).sum(1).mean() * r1_every).backward()
            c_opt.step()
        m_loss = F.softplus(-C(fake)).mean()
        m_opt.zero_grad(set_to_none=True)
        m_loss.backward()
        m_opt.step()
        hist.append((c_loss.item(), m_loss.item()))
        if step % 500 == 0:
            m = np.mean(hist[-500:], axis=0)
            log(f"mapping step {step} critic {m[0]:.3f} mapping {m[1]:.3f} ({time.time() - t0:.0f} s)")
    with torch.no_grad():
        G.w_avg.copy_(G.mean_latent(20_000))
    G.style.requires_grad_(False)
    m = np.mean(hist[-200:], axis=0)
    return {"mapping_steps": steps, "critic_loss": round(float(m[0]), 4), "mapping_loss": round(float(m[1]), 4),
            "mapping_wall_s": round(time.time() - t0, 1)}


# ====================================================================== stage 2: the mapping from scenes
class SceneToW(nn.Module):
    """A scene's factors (one-hot classes) and geometry (x, y in 0..1, radius in pixels) -> its code w."""

    def __init__(self, w_dim: int, n_classes: list[int], width: int = 256):
        super().__init__()
        self.n_classes = n_classes
        self.net = nn.Sequential(nn.Linear(sum(n_classes) + 3, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                                 nn.Linear(width, width), nn.SiLU(), nn.Linear(width, w_dim))

    def features(self, classes: torch.Tensor, geom: torch.Tensor) -> torch.Tensor:
        onehots = [F.one_hot(classes[:, i], n).float() for i, n in enumerate(self.n_classes)]
        return torch.cat([*onehots, geom[:, :2] * 2 - 1, geom[:, 2:] / 9 - 1.4], 1)

    def forward(self, classes: torch.Tensor, geom: torch.Tensor) -> torch.Tensor:
        return self.net(self.features(classes, geom))


def z_to_scene(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The scene a latent z stands for under the embedded GAN's prior: after the mapping's PixelNorm, the
    first seven coordinates, through the normal CDF, pick colour, shape, size and background (equal-mass
    bins; a colour's held-out shape is never drawn, as in the training scenes) and x, y and radius (uniform
    within the ranges `sample_scene` draws from). Returns class indices (B, 4) in PAIR_FACTORS order and
    geometry (B, 3)."""
    from toyworld.world import EXTENT, FACTORS, HELDOUT, SIZE_RADIUS, placement_margin

    u = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
    q = torch.special.ndtr(u[:, :7]).clamp(0.0, 1.0 - 1e-6)  # (B, 7) uniform in [0, 1)
    n = [len(FACTORS[k]) for k in PAIR_FACTORS]
    colour = (q[:, 0] * n[0]).long()
    shapes = FACTORS["shape"]
    # per colour, the shapes its training scenes show, in order; the shape bins share q[:, 1] among them
    allowed = [[i for i, s in enumerate(shapes) if (c, s) not in HELDOUT] for c in FACTORS["colour"]]
    table = torch.full((n[0], n[1]), -1, dtype=torch.long)
    for c, a in enumerate(allowed):
        table[c, :len(a)] = torch.tensor(a)
    n_allowed = torch.tensor([len(a) for a in allowed])[colour]
    shape = table[colour, (q[:, 1] * n_allowed).long()]
    size, background = (q[:, 2] * n[2]).long(), (q[:, 3] * n[3]).long()
    lo = torch.tensor([SIZE_RADIUS[s][0] for s in FACTORS["size"]])[size]
    hi = torch.tensor([SIZE_RADIUS[s][1] for s in FACTORS["size"]])[size]
    radius = lo + q[:, 6] * (hi - lo)
    margin = placement_margin(radius, torch.tensor([EXTENT[s] for s in shapes])[shape])
    xy = margin[:, None] + q[:, 4:6] * (1 - 2 * margin[:, None])
    return torch.stack([colour, shape, size, background], 1), torch.cat([xy, radius[:, None]], 1)


def train_mapping_from_scenes(codes: torch.Tensor, classes: torch.Tensor, geom: torch.Tensor, G: Generator,
                              steps: int = 40_000, scene_steps: int = 4000, n_mlp: int = 8, batch: int = 1024,
                              seed: int = 0, log=print) -> tuple[Generator, dict]:
    """Stage 2 without a critic. A small network (`SceneToW`) learns the encoder's code of each training
    scene from its factors and geometry (MSE, `scene_steps`); then a fresh `n_mlp`-layer StyleGAN mapping
    network learns to output, for every z, the code of the scene `z_to_scene(z)` names (MSE, `steps`, fresh
    z each step). Every sample is then the code of a definite scene rather than a point between classes,
    which is what the GAN in W drew (FINDINGS.md). Returns a new generator (G's synthesis network, the new
    mapping, its w_avg) and the losses."""
    gen = torch.Generator().manual_seed(seed)
    t0 = time.time()
    n_classes = [int(classes[:, j].max()) + 1 for j in range(classes.shape[1])]
    scene = SceneToW(G.cfg.w_dim, n_classes)
    opt = torch.optim.Adam(scene.parameters(), 1e-3)
    n_fit = int(len(codes) * 0.9)  # the last tenth is held out to report the fit
    for step in range(scene_steps):
        i = torch.randint(0, n_fit, (512,), generator=gen)
        loss = F.mse_loss(scene(classes[i], geom[i]), codes[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step == scene_steps // 2:
            opt.param_groups[0]["lr"] = 3e-4
    scene.requires_grad_(False)
    with torch.no_grad():
        held = F.mse_loss(scene(classes[n_fit:], geom[n_fit:]), codes[n_fit:]).item()
    explained = 1 - held / codes.var(0).mean().item()
    log(f"scene -> w: held-out MSE {held:.4f} (explains {explained:.4f} of the codes' variance)")
    cfg = StyleGANConfig(**{**json.loads(G.cfg.to_json()), "n_mlp": n_mlp})
    out = Generator(cfg)
    out.load_state_dict({k: v for k, v in G.state_dict().items() if not k.startswith("style.")}, strict=False)
    out.requires_grad_(False)
    out.style.requires_grad_(True)
    # lr 1 on equalised-lr weights (lr_mul 0.01) steps like Adam at about 1e-3 on plain weights
    opt = torch.optim.Adam(out.style.parameters(), 1.0, betas=(0.9, 0.99))
    hist = []
    for step in range(steps):
        z = torch.randn(batch, cfg.z_dim, generator=gen)
        with torch.no_grad():
            target = scene(*z_to_scene(z))
        loss = F.mse_loss(out.mapping(z), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist.append(loss.item())
        if step == int(steps * 0.7):
            opt.param_groups[0]["lr"] *= 0.2
        if step % 2000 == 0:
            log(f"mapping step {step} mse {np.mean(hist[-2000:]):.4f} ({time.time() - t0:.0f} s)")
    out.style.requires_grad_(False)
    with torch.no_grad():
        out.w_avg.copy_(out.mean_latent(20_000))
    return out.eval(), {"mapping": "from scenes", "mapping_steps": steps, "scene_steps": scene_steps, "n_mlp": n_mlp,
                        "scene_to_w_explained": round(explained, 4), "mapping_mse": round(float(np.mean(hist[-200:])), 4),
                        "mapping_wall_s": round(time.time() - t0, 1)}

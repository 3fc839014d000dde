"""The latent space as an archive (the essay's code view): what a generator draws, counted; its codes,
catalogued by the independent judge; searched by description; and laid out on a map.

    from edits.archive import census, open_gan_archive
    table = census(read(images))                          # colour x shape counts with Wilson intervals
    archive = open_gan_archive(gan, w_directions)         # the GAN's shipped catalogue (assets/archive)
    found = archive.search({"colour": "red", "shape": "circle"})
    found.results[0].seed, found.results[0].image, found.results[0].reading

- **Census** (`census`): every picture read by `edits.judge`; the valid ones counted per colour x shape cell,
  each cell's share of the valid pictures with a 95 % Wilson interval; the invalid ones counted apart, with
  the judge's reasons. The cells `toyworld.world.HELDOUT` never appear in training: a census shows what the
  archive remembers (seen cells drawn), forgets (seen cells never drawn) and invents (held-out cells drawn
  without being asked). `training_scenes` draws the training set's scenes exactly as `toyworld.data.make_dataset`
  does for the embedded models, so their census is the training frequencies.
- **Catalogue** (`Catalogue`, `build_gan_catalogue`, `build_diffusion_catalogue`): seeds and the judge's
  reading of the picture each draws; saved as safetensors + JSON under assets/archive/, with a fingerprint of
  the generator's weights, so a catalogue is only used with the generator it was drawn from. A diffusion
  catalogue keeps its pictures (a PNG sheet: each costs a full sampling to redraw) and, for the map, the
  first two principal components of h at a few denoising steps.
- **Search** (`Archive.search`): the catalogue's seeds whose pictures the judge reads as the description
  (any subset of colour, shape, size, background), cleanest silhouettes first; for the GAN, when the
  catalogue has too few, the nearest valid codes are moved along the generator's fitted W directions
  (`edits.wspace.make_edit` / `apply_edits`) until the judge reads the description. Codes, never prompts.
- **Map** (`Archive.map_points`): the catalogue's codes on their first two principal components (scikit-learn
  PCA) of w, or of h at one denoising step for diffusion.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .judge import Reading, read
from .pipeline import InputError, check_seed, to_uint8
from .zerogpu import BATCH, gpu
from toyworld.settings import ASSETS
from toyworld.world import FACTORS, HELDOUT, SHAPES, render, sample_scene

ARCHIVES = ASSETS / "archive"  # the shipped catalogues
FACTOR_NAMES = tuple(FACTORS)  # colour, shape, size, background
COLOUR_NAMES = tuple(FACTORS["colour"])
Z95 = 1.959963984540054  # the normal quantile of a two-sided 95 % interval
# The training set of the embedded models: make_dataset(40_000, seed=3) in training/diffusion.py and
# training/stylegan_label_free.py (N_TRAIN, TRAIN_SEED); tests/test_archive.py checks they still agree.
TRAINING_N, TRAINING_SEED = 40_000, 3
RESULTS = 8  # results of one search
REFINE_CANDIDATES = 12  # GAN codes moved per round of refinement
REFINE_STRENGTHS = (1.0, 1.5)  # class-swap strengths tried (1: a full swap; 1.5 overshoots)
REFINE_ROUNDS = 3
SEARCH_BUDGET_S = 1.5  # refinement starts no round that the last one's time says would end past this
MAP_POINTS = 3000  # codes drawn on a map
MAP_THUMBNAILS = 24  # pictures placed on a map


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion k/n (95 % by default), or None when n is 0."""
    if n <= 0:
        return None
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _ci(k: int, n: int) -> list[float] | None:
    ci = wilson(k, n)
    return None if ci is None else [round(ci[0], 5), round(ci[1], 5)]


# ------------------------------------------------------------------ census
def heldout_cells() -> list[tuple[int, int]]:
    """(colour index, shape index) of the held-out pairs."""
    return [(COLOUR_NAMES.index(c), SHAPES.index(s)) for c, s in HELDOUT]


def census(readings, top_reasons: int = 8) -> dict:
    """The colour x shape table of pictures' readings (judge `Reading`s, or scenes: anything with colour and
    shape; without a `valid` attribute a reading counts as valid). JSON-ready:

    n, valid, invalid, invalid_reasons; counts (8 x 4, colours x shapes, valid pictures only), shares (of the
    valid pictures) and ci (their 95 % Wilson intervals); heldout_count, heldout_share, heldout_ci (the
    held-out cells together); forgotten (seen cells never drawn), invented (held-out cells drawn);
    marginals (valid pictures per size and per background)."""
    readings = list(readings)
    valid = [r for r in readings if getattr(r, "valid", True)]
    counts = np.zeros((len(COLOUR_NAMES), len(SHAPES)), dtype=np.int64)
    for r in valid:
        counts[COLOUR_NAMES.index(r.colour), SHAPES.index(r.shape)] += 1
    v = len(valid)
    held = heldout_cells()
    k_held = int(sum(counts[c, s] for c, s in held))
    name = lambda c, s: f"{COLOUR_NAMES[c]} {SHAPES[s]}"  # noqa: E731
    reasons = Counter(getattr(r, "reason", "") or "invalid" for r in readings if not getattr(r, "valid", True))
    return {
        "n": len(readings), "valid": v, "invalid": len(readings) - v,
        "invalid_reasons": dict(reasons.most_common(top_reasons)),
        "colours": list(COLOUR_NAMES), "shapes": list(SHAPES),
        "counts": counts.tolist(),
        "shares": [[round(int(k) / v, 5) if v else None for k in row] for row in counts],
        "ci": [[_ci(int(k), v) for k in row] for row in counts],
        "heldout": [name(c, s) for c, s in held],
        "heldout_count": k_held, "heldout_share": round(k_held / v, 5) if v else None, "heldout_ci": _ci(k_held, v),
        "forgotten": [name(c, s) for c in range(len(COLOUR_NAMES)) for s in range(len(SHAPES))
                      if (c, s) not in held and counts[c, s] == 0],
        "invented": [name(c, s) for c, s in held if counts[c, s] > 0],
        "marginals": {f: dict(Counter(getattr(r, f) for r in valid).most_common()) for f in ("size", "background")},
    }


def training_scenes(n: int = TRAINING_N, seed: int = TRAINING_SEED) -> list:
    """The first n scenes of the training set, drawn as `toyworld.data.make_dataset(N, seed)` draws them (one
    generator, one `sample_scene` call per scene, held-out pairs excluded)."""
    rng = np.random.default_rng(seed)
    return [sample_scene(rng) for _ in range(n)]


def training_pictures(n: int, seed: int = TRAINING_SEED) -> tuple[list, np.ndarray]:
    """The first n training scenes and their pictures, rendered as make_dataset renders them."""
    scenes = training_scenes(n, seed)
    return scenes, np.stack([render(s, seed * 1_000_003 + i) for i, s in enumerate(scenes)])


# ------------------------------------------------------------------ descriptions
def check_description(description: dict | None) -> dict[str, str]:
    """{factor: value} for the factors described (None, "" and "any" leave a factor free); an InputError names
    anything the world does not have. At least one factor must be given."""
    out = {}
    for k, v in (description or {}).items():
        if v is None or (isinstance(v, str) and v.strip().lower() in ("", "any")):
            continue
        if k not in FACTORS:
            raise InputError(f"'{str(k)[:40]}' is not a factor of this world: choose among {', '.join(FACTORS)}.")
        if not isinstance(v, str) or v.strip().lower() not in FACTORS[k]:
            raise InputError(f"There is no {k} '{str(v)[:40]}' in this world: choose among {', '.join(FACTORS[k])}.")
        out[k] = v.strip().lower()
    if not out:
        raise InputError("Describe the picture by at least one of colour, shape, size or background.")
    return out


def describe(description: dict[str, str]) -> str:
    """'a small red star on a gray background' for the factors given (others left out)."""
    d = description
    words = " ".join(x for x in (d.get("size"), d.get("colour"), d.get("shape") or "object") if x)
    text = ("an " if words[0] in "aeiou" else "a ") + words
    return text + (f" on a {d['background']} background" if d.get("background") else "")


def reads_as(reading, description: dict[str, str]) -> bool:
    """Whether the judge reads a picture as the description: a valid scene, every described factor as said."""
    return bool(reading.valid) and all(getattr(reading, k) == v for k, v in description.items())


# ------------------------------------------------------------------ the catalogue
@dataclass
class Catalogue:
    """Seeds and the judge's reading of the picture each draws."""

    seeds: np.ndarray  # (N,) int64
    labels: np.ndarray  # (N, 4) int8: index into FACTORS[f] for f in FACTOR_NAMES; -1 where nothing was read
    valid: np.ndarray  # (N,) bool
    match: np.ndarray  # (N,) float32: soft IoU of the judge's best silhouette (how clean the shape is)
    reasons: np.ndarray | None = None  # (N,) int16: index into meta["reasons"] of why a picture is invalid
    meta: dict = field(default_factory=dict)  # kind, model, fingerprint, prompt, psi, build_s, ...
    thumbnails: np.ndarray | Sheet | None = None  # (N, H, W, 3) uint8: the pictures (diffusion; a Sheet when loaded)
    h_maps: dict = field(default_factory=dict)  # step -> (coords (N, 2), mean (D,), components (2, D)), float32

    def __len__(self) -> int:
        return len(self.seeds)

    @classmethod
    def from_readings(cls, seeds, readings: list[Reading], meta: dict, thumbnails=None) -> "Catalogue":
        labels = np.array([[FACTORS[f].index(getattr(r, f)) if getattr(r, f) is not None else -1
                            for f in FACTOR_NAMES] for r in readings], dtype=np.int8).reshape(-1, len(FACTOR_NAMES))
        names = sorted({r.reason for r in readings})
        reasons = np.array([names.index(r.reason) for r in readings], dtype=np.int16)
        return cls(np.asarray(seeds, dtype=np.int64), labels, np.array([r.valid for r in readings], dtype=bool),
                   np.array([r.match for r in readings], dtype=np.float32), reasons, {**meta, "reasons": names},
                   thumbnails)

    def reading(self, i: int) -> dict[str, str | None]:
        return {f: FACTORS[f][int(j)] if j >= 0 else None for f, j in zip(FACTOR_NAMES, self.labels[i])}

    def matched(self, description: dict[str, str]) -> np.ndarray:
        """(N,) how many described factors each picture was read with."""
        out = np.zeros(len(self), dtype=np.int64)
        for f, v in description.items():
            out += self.labels[:, FACTOR_NAMES.index(f)] == FACTORS[f].index(v)
        return out

    def census(self) -> dict:
        """`census` of the catalogue's readings."""
        from types import SimpleNamespace

        names = self.meta.get("reasons") or [""]
        why = (lambda i: names[int(self.reasons[i])]) if self.reasons is not None else (lambda i: "")
        return census(SimpleNamespace(**self.reading(i), valid=bool(self.valid[i]), reason=why(i))
                      for i in range(len(self)))

    # ---------------------------------------------------------------- files
    def save(self, path: str | Path) -> Path:
        """path.safetensors (+ path.json: the metadata, readable; + path.png: the pictures, when kept)."""
        from safetensors.torch import save_file

        path = Path(path).with_suffix(".safetensors")
        path.parent.mkdir(parents=True, exist_ok=True)
        t = {"seeds": torch.from_numpy(self.seeds), "labels": torch.from_numpy(self.labels),
             "valid": torch.from_numpy(self.valid.astype(np.uint8)), "match": torch.from_numpy(self.match)}
        if self.reasons is not None:
            t["reasons"] = torch.from_numpy(self.reasons)
        for step, (coords, mean, comps) in self.h_maps.items():
            t.update({f"h{step}_coords": torch.from_numpy(coords), f"h{step}_mean": torch.from_numpy(mean),
                      f"h{step}_components": torch.from_numpy(comps)})
        meta = {**self.meta, "n": len(self), "h_steps": sorted(int(s) for s in self.h_maps)}
        save_file({k: v.contiguous() for k, v in t.items()}, str(path), metadata={"archive": json.dumps(meta)})
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
        if self.thumbnails is not None:
            write_sheet(np.asarray(self.thumbnails), path.with_suffix(".png"))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Catalogue":
        from safetensors import safe_open

        path = Path(path).with_suffix(".safetensors")
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})["archive"])
            t = {k: f.get_tensor(k).numpy() for k in f.keys()}
        h_maps = {int(s): (t[f"h{s}_coords"], t[f"h{s}_mean"], t[f"h{s}_components"]) for s in meta.get("h_steps", [])}
        sheet = path.with_suffix(".png")
        thumbs = Sheet(sheet, len(t["seeds"])) if sheet.is_file() else None
        return cls(t["seeds"].astype(np.int64), t["labels"].astype(np.int8), t["valid"].astype(bool),
                   t["match"].astype(np.float32), t.get("reasons"), meta, thumbs, h_maps)


SHEET_COLUMNS = 64


class Sheet:
    """A catalogue's pictures (N, H, W, 3) uint8, read from its PNG sheet the first time one is asked for: opening
    the app does not pay for decoding them (about half a second for 2000 pictures here)."""

    def __init__(self, path: Path, n: int):
        self.path, self.n, self._pictures, self._lock = path, n, None, threading.Lock()

    def _read(self) -> np.ndarray:
        with self._lock:
            if self._pictures is None:
                self._pictures = read_sheet(self.path, self.n)
            return self._pictures

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, rows):
        return self._read()[rows]

    def __array__(self, dtype=None, copy=None):
        a = self._read()
        return a if dtype is None else a.astype(dtype)


def write_sheet(images: np.ndarray, path: Path) -> None:
    """Pictures (N, H, W, 3) as one PNG, SHEET_COLUMNS to a row (flat pictures compress well)."""
    from PIL import Image

    n, h, w, _ = images.shape
    rows = -(-n // SHEET_COLUMNS)
    sheet = np.zeros((rows * h, SHEET_COLUMNS * w, 3), dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, SHEET_COLUMNS)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = im
    Image.fromarray(sheet).save(path, optimize=True)


def read_sheet(path: Path, n: int, side: int = 64) -> np.ndarray:
    from PIL import Image

    sheet = np.asarray(Image.open(path).convert("RGB"))
    out = np.empty((n, side, side, 3), dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, SHEET_COLUMNS)
        out[i] = sheet[r * side:(r + 1) * side, c * side:(c + 1) * side]
    return out


def fingerprint(files: list[Path]) -> str | None:
    """sha256 (first 16 hex digits) of the weight files a generator draws with; None when there are none."""
    files = sorted(Path(f) for f in files if Path(f).is_file())
    if not files:
        return None
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def gan_fingerprint(gan) -> str | None:
    return fingerprint([Path(gan.folder) / "generator.safetensors"]) if getattr(gan, "folder", None) else None


def diffusion_fingerprint(model) -> str | None:
    folder = Path(str(model.name))
    if not folder.is_dir():
        return None
    return fingerprint([p for sub in ("unet", "vae", "text_encoder") for p in (folder / sub).glob("*.safetensors")])


# ------------------------------------------------------------------ drawing and reading many pictures
def draw_gan(gan, seeds, truncation_psi: float = 1.0, batch: int = 500, progress=None) -> np.ndarray:
    """uint8 pictures (N, H, W, 3) of seeds' codes w at truncation psi."""
    out = []
    for i in range(0, len(seeds), batch):
        out.append(gan.render(gan.w_from_seeds(list(seeds[i:i + batch]), truncation_psi)))
        if progress:
            progress(min(len(seeds), i + batch), len(seeds))
    return np.concatenate(out) if out else np.zeros((0, 64, 64, 3), np.uint8)


@gpu(BATCH)
def draw_diffusion(model, prompts, seeds, guidance_scale: float | None = None, batch: int = 16,
                   h_steps=(), progress=None) -> tuple[np.ndarray, dict]:
    """uint8 pictures (N, H, W, 3) of prompts[i] with seeds[i] (the pipeline's own pixels, through
    edits.hspace.sample) and, for each step in h_steps, h at that step (N, D) float32."""
    from .hspace import sample

    prompts = [prompts] * len(seeds) if isinstance(prompts, str) else list(prompts)
    images, hs = [], {s: [] for s in h_steps}
    for i in range(0, len(seeds), batch):
        out = sample(model, prompts[i:i + batch], list(seeds[i:i + batch]), guidance_scale=guidance_scale,
                     capture=bool(h_steps), pool=False)
        images.append(to_uint8(out.images))
        for s in h_steps:
            hs[s].append(out.h[s].reshape(len(out.images), -1).float().numpy())
        if progress:
            progress(min(len(seeds), i + batch), len(seeds))
    return np.concatenate(images), {s: np.concatenate(v) for s, v in hs.items()}


def build_gan_catalogue(gan, n: int, first_seed: int = 0, truncation_psi: float = 1.0, progress=None) -> Catalogue:
    seeds = np.arange(first_seed, first_seed + n, dtype=np.int64)
    t0 = time.perf_counter()
    readings = []
    for i in range(0, n, 2000):
        readings += read(draw_gan(gan, seeds[i:i + 2000], truncation_psi))
        if progress:
            progress(min(n, i + 2000), n)
    meta = {"kind": "gan", "model": gan.name, "fingerprint": gan_fingerprint(gan), "truncation_psi": truncation_psi,
            "build_s": round(time.perf_counter() - t0, 1)}
    return Catalogue.from_readings(seeds, readings, meta)


def build_diffusion_catalogue(model, n: int, first_seed: int = 0, prompt: str = "", guidance_scale: float = 1.0,
                              h_steps=None, progress=None) -> Catalogue:
    """Seeds first_seed.. under one prompt (the empty prompt: nothing said, the seed decides everything; with
    it, guidance changes nothing, so 1 draws the same pictures as the app's default at half the cost). h is
    kept at `h_steps` (step indices; default five, evenly spread over the model's default steps)."""
    from sklearn.decomposition import PCA

    if h_steps is None:
        h_steps = tuple(sorted({int(round(i)) for i in np.linspace(0, model.default_steps - 1, 5)}))
    seeds = np.arange(first_seed, first_seed + n, dtype=np.int64)
    t0 = time.perf_counter()
    images, hs = draw_diffusion(model, prompt, seeds, guidance_scale, h_steps=h_steps, progress=progress)
    draw_s = time.perf_counter() - t0
    readings = read(images)
    h_maps = {}
    for s, h in hs.items():
        pca = PCA(n_components=2, random_state=0).fit(h)
        h_maps[int(s)] = (pca.transform(h).astype(np.float32), pca.mean_.astype(np.float32),
                          pca.components_.astype(np.float32))
    meta = {"kind": "diffusion", "model": Path(str(model.name)).name, "fingerprint": diffusion_fingerprint(model),
            "prompt": prompt, "guidance_scale": guidance_scale, "num_inference_steps": model.default_steps,
            "build_s": round(time.perf_counter() - t0, 1), "draw_s_per_picture": round(draw_s / max(n, 1), 3)}
    cat = Catalogue.from_readings(seeds, readings, meta, thumbnails=images)
    cat.h_maps = h_maps
    return cat


# ------------------------------------------------------------------ search
@dataclass
class Found:
    """One result: a seed, the picture shown for it and the judge's reading of that picture."""

    seed: int
    image: np.ndarray  # (H, W, 3) uint8
    reading: Reading | dict
    moves: tuple = ()  # ((attribute, target, strength), ...) applied in W; () = the seed's own picture
    matches: bool = True  # whether the judge reads the picture as the description

    def caption(self) -> str:
        r = self.reading if isinstance(self.reading, dict) else self.reading.labels()
        said = " ".join(str(r.get(f)) for f in ("size", "colour", "shape")) + f", {r.get('background')}"
        moved = "".join(f", {a}→{t}" for a, t, _ in self.moves)
        return f"seed {self.seed}{' (moved in W' + moved + ')' if self.moves else ''}: {said}" + \
               ("" if self.matches else " (closest)")


@dataclass
class SearchResult:
    description: dict
    results: list[Found]
    from_catalogue: int  # results that are seeds' own pictures
    moved: int  # results found by moving a code along W directions
    candidates: int  # pictures the catalogue has for the description (valid, every factor read as said)
    seconds: float

    @property
    def hit(self) -> bool:
        return bool(self.results) and self.results[0].matches


class Archive:
    """A generator's archive: its catalogue, and how to draw, search and map it. Subclasses: GANArchive,
    DiffusionArchive."""

    kind = "?"

    def __init__(self, catalogue: Catalogue, label: str):
        self.catalogue, self.label = catalogue, label
        self._lock = threading.Lock()
        self._map_cache: dict = {}

    # what subclasses provide
    def pictures(self, seeds) -> np.ndarray:
        raise NotImplementedError

    def _refine(self, description, exclude, want, deadline) -> list[Found]:
        return []

    def search(self, description: dict, k: int = RESULTS) -> SearchResult:
        """Up to k seeds whose pictures the judge reads as the description: the catalogue's first (cleanest
        silhouettes first), then moved codes (GAN); when none is found, the k closest pictures (flagged)."""
        description = check_description(description)
        k = int(k)
        t0 = time.perf_counter()
        cat = self.catalogue
        hits = np.flatnonzero(cat.valid & (cat.matched(description) == len(description)))
        hits = hits[np.argsort(-cat.match[hits], kind="stable")]
        results = []
        if len(hits):
            chosen = hits[:k]
            images = self.pictures(cat.seeds[chosen])
            for i, im, r in zip(chosen, images, read(images)):  # read again what is shown
                results.append(Found(int(cat.seeds[i]), im, r, (), reads_as(r, description)))
            results = [f for f in results if f.matches]
        n_cat = len(results)
        if len(results) < k:
            results += self._refine(description, set(int(s) for s in cat.seeds[hits]), k - len(results),
                                    t0 + SEARCH_BUDGET_S)
        if not results:
            results = self._closest(description, k)
        return SearchResult(description, results[:k], n_cat, sum(bool(f.moves) for f in results[:k]), int(len(hits)),
                            time.perf_counter() - t0)

    def _closest(self, description, k) -> list[Found]:
        cat = self.catalogue
        score = cat.matched(description) * 2 + cat.valid  # most factors read as said, then valid
        order = np.lexsort((-cat.match, -score))[:k]
        images = self.pictures(cat.seeds[order])
        return [Found(int(cat.seeds[i]), im, r, (), False) for i, im, r in zip(order, images, read(images))]

    # ---------------------------------------------------------------- the map
    def codes(self, seeds, step: int | None = None) -> np.ndarray:
        raise NotImplementedError

    def map_points(self, step: int | None = None) -> dict:
        """The catalogue's first MAP_POINTS codes on their first two principal components: coords (n, 2), the
        readings of their pictures (labels (n, 4), valid), explained variance, and thumbnails: the pictures of
        up to MAP_THUMBNAILS valid codes spread over the map (index into coords, pictures). Computed once."""
        with self._lock:
            if step in self._map_cache:
                return self._map_cache[step]
            out = self._map(step)
            self._map_cache[step] = out
            return out

    def _map(self, step) -> dict:
        raise NotImplementedError

    def locate(self, seed: int, step: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of a seed's code on the map, and its picture."""
        raise NotImplementedError

    def _thumbnails(self, coords: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Indices of up to MAP_THUMBNAILS valid points spread over the map (farthest-point order)."""
        pool = np.flatnonzero(valid)
        if not len(pool):
            pool = np.arange(len(coords))
        span = coords.max(0) - coords.min(0) + 1e-9
        p = (coords[pool] - coords.min(0)) / span
        chosen = [int(np.argmin(((p - p.mean(0)) ** 2).sum(1)))]
        d = ((p - p[chosen[0]]) ** 2).sum(1)
        while len(chosen) < min(MAP_THUMBNAILS, len(pool)):
            j = int(np.argmax(d))
            chosen.append(j)
            d = np.minimum(d, ((p - p[j]) ** 2).sum(1))
        return pool[chosen]


class GANArchive(Archive):
    """A StyleGAN's archive: seeds -> w (truncation psi) -> pictures; search refined along W directions."""

    kind = "gan"

    def __init__(self, gan, directions: dict, catalogue: Catalogue, label: str | None = None):
        super().__init__(catalogue, label or f"StyleGAN W ({gan.name})")
        self.gan, self.directions = gan, directions
        self.psi = float(catalogue.meta.get("truncation_psi", 1.0))

    def pictures(self, seeds) -> np.ndarray:
        return draw_gan(self.gan, [int(s) for s in seeds], self.psi)

    def _refine(self, description, exclude, want, deadline) -> list[Found]:
        """Move the valid codes that read closest to the description along the W directions of the factors
        read otherwise (a class swap each, at REFINE_STRENGTHS), keep those the judge then reads as it."""
        from .wspace import apply_edits, make_edit

        have = {d.meta.get("attribute") for d in self.directions.values()}
        if not all(f in have for f in description):
            return []
        cat = self.catalogue
        m = cat.matched(description)
        pool = np.flatnonzero(cat.valid & (m < len(description)))
        pool = pool[np.lexsort((-cat.match[pool], -m[pool]))]  # most factors right first, then cleanest
        found: list[Found] = []
        last = 0.0  # how long the last round took
        for r in range(REFINE_ROUNDS):
            start = time.perf_counter()
            if len(found) >= want or (r and start + last > deadline):
                break
            batch = pool[r * REFINE_CANDIDATES:(r + 1) * REFINE_CANDIDATES]
            if not len(batch):
                break
            w = self.gan.w_from_seeds([int(s) for s in cat.seeds[batch]], self.psi)  # (b, w_dim)
            groups: dict[tuple, list[int]] = {}
            for j, i in enumerate(batch):
                now = cat.reading(int(i))
                groups.setdefault(tuple(f for f in description if now[f] != description[f]), []).append(j)
            codes, tried = [], []
            for wrong, rows in groups.items():
                for s in REFINE_STRENGTHS:
                    edits = [make_edit(self.directions, f, description[f], s) for f in wrong]
                    codes.append(apply_edits(self.gan, w[rows], edits))  # (len(rows), L, w_dim)
                    tried += [(batch[j], tuple((f, description[f], s) for f in wrong)) for j in rows]
            images = self.gan.render(torch.cat(codes))
            best: dict[int, Found] = {}
            for (i, moves), im, rd in zip(tried, images, read(images)):
                seed = int(cat.seeds[i])
                if reads_as(rd, description) and seed not in best and seed not in exclude:
                    best[seed] = Found(seed, im, rd, moves, True)  # the weakest strength that works
            found += sorted(best.values(), key=lambda f: -f.reading.match)
            last = time.perf_counter() - start
        return found[:want]

    def codes(self, seeds, step=None) -> np.ndarray:
        return self.gan.w_from_seeds([int(s) for s in seeds], self.psi).numpy()

    def _map(self, step) -> dict:
        from sklearn.decomposition import PCA

        n = min(MAP_POINTS, len(self.catalogue))
        w = self.codes(self.catalogue.seeds[:n])
        pca = PCA(n_components=2, random_state=0).fit(w)
        coords = pca.transform(w)
        thumbs = self._thumbnails(coords, self.catalogue.valid[:n])
        return {"coords": coords, "labels": self.catalogue.labels[:n], "valid": self.catalogue.valid[:n],
                "explained": [round(float(v), 4) for v in pca.explained_variance_ratio_], "pca": pca,
                "thumbnails": thumbs, "pictures": self.pictures(self.catalogue.seeds[thumbs]), "space": "W"}

    def locate(self, seed, step=None):
        m = self.map_points(step)
        seed = check_seed(seed)
        return m["pca"].transform(self.codes([seed]))[0], self.pictures([seed])[0]


class DiffusionArchive(Archive):
    """A diffusion model's archive under one prompt: seeds -> starting noise -> pictures (kept in the
    catalogue, since each costs a full sampling); its map is h at one denoising step."""

    kind = "diffusion"

    def __init__(self, model, catalogue: Catalogue, label: str | None = None):
        prompt = catalogue.meta.get("prompt", "")
        super().__init__(catalogue, label or f"Diffusion, {'empty prompt' if not prompt else repr(prompt)} "
                                              f"({catalogue.meta.get('model', 'model')})")
        self.model = model
        self._row = {int(s): i for i, s in enumerate(catalogue.seeds)}

    @property
    def steps(self) -> list[int]:
        return sorted(self.catalogue.h_maps)

    def _draw(self, seeds, h_step=None):
        m = self.catalogue.meta
        images, hs = draw_diffusion(self.model, m.get("prompt", ""), [int(s) for s in seeds],
                                    m.get("guidance_scale"), h_steps=() if h_step is None else (h_step,))
        return images, hs

    def pictures(self, seeds) -> np.ndarray:
        rows = [self._row.get(int(s)) for s in seeds]
        if self.catalogue.thumbnails is not None and all(r is not None for r in rows):
            return self.catalogue.thumbnails[rows]
        return self._draw(seeds)[0]

    def codes(self, seeds, step=None):
        raise InputError("A diffusion archive's map is read from its catalogue.")

    def _map(self, step) -> dict:
        if step not in self.catalogue.h_maps:
            raise InputError(f"This archive has maps of h at steps {', '.join(map(str, self.steps)) or 'none'}.")
        coords, mean, comps = self.catalogue.h_maps[step]
        n = min(MAP_POINTS, len(self.catalogue))
        valid = self.catalogue.valid[:n]
        thumbs = self._thumbnails(coords[:n], valid)
        var = coords[:, 0].var(), coords[:, 1].var()
        return {"coords": coords[:n], "labels": self.catalogue.labels[:n], "valid": valid, "space": f"h, step {step}",
                "explained": None, "thumbnails": thumbs, "pictures": self.pictures(self.catalogue.seeds[thumbs]),
                "spread": [float(v) for v in var]}

    def locate(self, seed, step=None):
        seed = check_seed(seed)
        coords, mean, comps = self.catalogue.h_maps[step]
        row = self._row.get(seed)
        if row is not None:
            return coords[row], self.pictures([seed])[0]
        images, hs = self._draw([seed], step)
        return (hs[step][0] - mean) @ comps.T, images[0]


# ------------------------------------------------------------------ opening the shipped archives
def catalogue_path(name: str) -> Path:
    return ARCHIVES / f"{name}.safetensors"


def _matching(name: str, fp: str | None) -> Catalogue | None:
    path = catalogue_path(name)
    if fp is None or not path.is_file():
        return None
    cat = Catalogue.load(path)
    return cat if cat.meta.get("fingerprint") == fp else None


SMALL_GAN_CATALOGUE = 256  # codes read when a GAN has no shipped catalogue (a few seconds)


def open_gan_archive(gan, directions: dict, build_missing: int = SMALL_GAN_CATALOGUE) -> GANArchive | None:
    """The GAN's archive from its shipped catalogue (assets/archive/NAME.safetensors, drawn from these very
    weights); a generator without one gets a small catalogue of `build_missing` seeds, read now (0: none)."""
    if gan is None:
        return None
    cat = _matching(gan.name, gan_fingerprint(gan))
    if cat is None:
        if not build_missing:
            return None
        cat = build_gan_catalogue(gan, build_missing)
        cat.meta["built_at_start"] = True
    return GANArchive(gan, directions, cat)


def open_diffusion_archive(model) -> DiffusionArchive | None:
    """The diffusion model's archive from its shipped catalogue, or None (a catalogue costs a sampling per
    seed: none is built at start). A catalogue drawn with other steps than the model's default is not used: its
    pictures would not be the ones the model draws for the same seeds."""
    if model is None:
        return None
    cat = _matching(Path(str(model.name)).name, diffusion_fingerprint(model))
    if cat is None or cat.meta.get("num_inference_steps") != model.default_steps:
        return None  # drawn from other weights, or with other steps than the model draws with now
    return DiffusionArchive(model, cat)


def main(argv=None) -> None:
    """python -m edits.archive gan|diffusion [--n N]: draw, read and save a catalogue to assets/archive/."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m edits.archive", description=main.__doc__)
    p.add_argument("kind", choices=["gan", "diffusion"])
    p.add_argument("--n", type=int, default=None, help="seeds (default: 50000 for the GAN, 3000 for diffusion)")
    p.add_argument("--model", default=None, help="the generator's folder (default: the embedded one)")
    p.add_argument("--out", default=None, help="where to write (default: assets/archive/NAME.safetensors)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()

    def progress(done, total):
        print(f"{done}/{total} pictures, {time.perf_counter() - t0:.0f} s", flush=True)

    if a.kind == "gan":
        from .gan import load_gan

        gan = load_gan(a.model)
        cat = build_gan_catalogue(gan, a.n or 50_000, progress=progress)
        name = gan.name
    else:
        from .pipeline import load_diffusion

        model = load_diffusion(a.model, device="cpu")
        cat = build_diffusion_catalogue(model, a.n or 3000, progress=progress)
        name = cat.meta["model"]
    path = cat.save(a.out or catalogue_path(name))
    c = cat.census()
    print(json.dumps({"path": str(path), "n": len(cat), "valid": c["valid"], "build_s": cat.meta["build_s"]}))


if __name__ == "__main__":
    main()

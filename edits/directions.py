"""Linear boundaries fitted from labelled samples (InterFaceGAN), shared by h-space and W-space.

    boundary = fit_boundary(X, y)                  # X: (N, D) codes, y: (N,) bool
    d = Direction.from_boundaries([boundary], shape=(512,), meta={...})
    d.save("assets/directions/w_colour_blue")      # .safetensors (+ a readable .json beside it)
    d = Direction.load("assets/directions/w_colour_blue.safetensors")

A boundary is a logistic regression on standardised features with balanced classes, fitted on a
training split and scored on a held-out split. Its unit normal, taken back to the original
space, is the direction; `scale` is the spread (standard deviation) of the samples along it, so
an edit's strength is counted in standard deviations. In h-space there is one boundary per
timestep (the direction changes as denoising goes on).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .pipeline import InputError

FORMAT = "imagination-potentiality/direction@1"
MIN_PER_CLASS = 4


class DirectionError(InputError):
    """A direction cannot be fitted, loaded or applied; the message says why in plain words."""


_STEM = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def file_stem(*parts: object) -> str:
    """A file name made only of [a-z0-9_-] from its parts (never a path); anything else is refused."""
    stem = "_".join(str(p) for p in parts if str(p))
    if not _STEM.fullmatch(stem):
        raise DirectionError("A direction's file name may use only lower-case letters, digits, '_' and '-'.")
    return stem


def readable_stem(i: int, *parts: object) -> str:
    """`file_stem(*parts)` when the parts are plain words (the shipped 'w_colour_blue'), else by index."""
    try:
        return file_stem(*parts)
    except DirectionError:
        return file_stem(parts[0], f"{i:02d}")


@dataclass
class Boundary:
    normal: np.ndarray  # (D,) unit vector in the original feature space
    bias: float  # signed distance of a point x from the boundary: normal @ x + bias
    accuracy: float  # held-out accuracy
    scale: float  # std of the samples' projections on the normal
    n_train: int
    n_test: int
    offset: float = 0.0  # mean-difference only: how far the class's mean lies from all samples' mean, along normal


METHODS = ("logistic", "logistic-raw", "mean-difference")


def fit_boundary(X: np.ndarray, y: np.ndarray, seed: int = 0, test_fraction: float = 0.25,
                 C: float = 0.1, method: str = "logistic") -> Boundary:
    """Fit one linear boundary separating y=True from y=False.

    method: "logistic" (standardised features: every dimension weighs alike), "logistic-raw" (the codes as
    they are, as InterFaceGAN fits its SVM: low-variance dimensions are not amplified), or
    "mean-difference" (the normal joins the two classes' means; the offset sits half-way between them).
    Held-out accuracy is measured the same way for all three."""
    if method not in METHODS:
        raise DirectionError(f"Unknown fitting method {method!r}: choose among {', '.join(METHODS)}.")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    y = np.asarray(y).astype(bool)
    if not np.isfinite(X).all():
        raise DirectionError("The samples contain NaN or infinite values.")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if min(n_pos, n_neg) < MIN_PER_CLASS:
        raise DirectionError(
            f"Too few samples on one side of the boundary ({n_pos} with the attribute, {n_neg} without); "
            f"each side needs at least {MIN_PER_CLASS}. Draw more samples or choose another class.")
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=test_fraction, random_state=seed, stratify=y)
    if method == "mean-difference":
        m1, m0 = Xtr[ytr].mean(0), Xtr[~ytr].mean(0)
        w = m1 - m0
        b = -float(w @ (m1 + m0) / 2)
    else:
        scaler = StandardScaler(with_std=method == "logistic").fit(Xtr)
        clf = LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(scaler.transform(Xtr), ytr)
        sigma = np.where(scaler.scale_ > 0, scaler.scale_, 1.0) if method == "logistic" else np.ones(X.shape[1])
        w = clf.coef_[0] / sigma  # back to the original space
        b = float(clf.intercept_[0] - (clf.coef_[0] * scaler.mean_ / sigma).sum())
    norm = float(np.linalg.norm(w))
    if norm == 0 or not np.isfinite(norm):
        raise DirectionError("The boundary is degenerate: the samples carry no signal for this attribute.")
    d_te = Xte @ w + b
    # balanced accuracy on the held-out split, the same measure for every method
    acc = float(((d_te > 0) == yte)[yte].mean() / 2 + ((d_te > 0) == yte)[~yte].mean() / 2)
    normal = w / norm
    proj = X @ normal
    # the class mean sits (1 - p) * |m1 - m0| from the mean of all samples (p: the class's share)
    offset = (1.0 - float(ytr.mean())) * norm if method == "mean-difference" else 0.0
    return Boundary(normal=normal.astype(np.float32), bias=b / norm, accuracy=acc,
                    scale=float(proj.std()) or 1.0, n_train=len(ytr), n_test=len(yte), offset=offset)


def fit_one_vs_rest(X: np.ndarray, labels: list[str], classes: list[str] | None = None,
                    seed: int = 0, method: str = "logistic") -> dict[str, Boundary]:
    """One boundary per class (that class against all others); classes with too few samples are skipped."""
    labels = np.asarray(labels)
    present = sorted(set(labels.tolist()))
    if len(present) < 2:
        raise DirectionError(f"The labeller returned a single class ({present[0] if present else 'none'}) "
                             "for every sample, so there is nothing to separate.")
    out = {}
    for c in classes or present:
        y = labels == c
        if min(y.sum(), (~y).sum()) >= MIN_PER_CLASS:
            out[c] = fit_boundary(X, y, seed=seed, method=method)
    if not out:
        raise DirectionError("No class has enough samples on both sides of a boundary; draw more samples.")
    return out


def fit_readout(X: np.ndarray, labels: list[str], classes: list[str], C: float = 1.0) -> dict[str, tuple[np.ndarray, float]]:
    """A multinomial logistic regression (standardised features) reading which of `classes` a code
    belongs to, folded back to the original space: class -> (weights (D,), bias); the class of x is
    the argmax of weights . x + bias. Mean-difference normals say where a class lies, not where its
    borders are: on the embedded GAN, the largest of their signed distances read a sample's colour right
    in 0.67-0.70 of 600 samples, this readout in 0.99-1.0."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    labels = np.asarray(labels)
    keep = np.isin(labels, classes)
    scaler = StandardScaler().fit(X[keep])
    sigma = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    lr = LogisticRegression(C=C, max_iter=3000).fit((X[keep] - scaler.mean_) / sigma, labels[keep])
    if len(lr.classes_) == 2:  # sklearn keeps one row for two classes: the second class's logit
        coef, icpt = np.stack([-lr.coef_[0], lr.coef_[0]]) / 2, np.array([-lr.intercept_[0], lr.intercept_[0]]) / 2
    else:
        coef, icpt = lr.coef_, lr.intercept_
    out = {}
    for c, wc, bc in zip(lr.classes_, coef, icpt):
        w = wc / sigma
        out[str(c)] = (w.astype(np.float32), float(bc - w @ scaler.mean_))
    return out


def orthonormal_basis(vectors: list) -> list[np.ndarray]:
    """Gram-Schmidt: unit vectors spanning `vectors` (ones already in the span are skipped)."""
    basis: list[np.ndarray] = []
    for o in vectors:
        o = np.asarray(o, dtype=np.float64).ravel()
        for q in basis:
            o = o - (o @ q) * q
        n = np.linalg.norm(o)
        if n > 1e-8:
            basis.append(o / n)
    return basis


def project_out(d: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    """InterFaceGAN's conditional direction: remove from d its components along the other
    directions (Gram-Schmidt on the others first), then renormalise."""
    d = np.asarray(d, dtype=np.float64).ravel()
    for q in orthonormal_basis(others):
        d = d - (d @ q) * q
    n = np.linalg.norm(d)
    if n < 1e-8:
        raise DirectionError("The direction lies entirely within the ones it should be independent of.")
    return (d / n).astype(np.float32)


def signed_shift(codes: torch.Tensor, normal: torch.Tensor, bias: float, scale: float,
                 strengths: torch.Tensor) -> torch.Tensor:
    """How far to move each code along `normal` so that it lands `strength` spreads (`scale`) on the
    class's side of the boundary, wherever it started: s * scale - min(|s|, 1) * d(x), where
    d(x) = normal . x + bias is its signed distance. s = 0 leaves it alone; between 0 and 1 it slides
    towards that point; negative s lands on the other side. codes (B, D), strengths (B,) -> (B,)."""
    d = codes @ normal + bias  # (B,)
    return strengths * scale - strengths.abs().clamp(max=1.0) * d


def swap_shift(codes: torch.Tensor, normals: torch.Tensor, offsets: torch.Tensor, readout: torch.Tensor,
               readout_bias: torch.Tensor, strengths: torch.Tensor) -> torch.Tensor:
    """A class swap, for an attribute's K classes, the target first: the readout (K, D) and its bias (K,)
    tell which class each code is in now; a_c = offsets[c] * normals[c] is class c's offset from the mean
    of all samples; the move is s * a_target - min(max(s, 0), 1) * a_current. So s = 0 leaves the code
    alone, 1 trades its class's offset for the target's, above 1 overshoots, below 0 moves away from the
    target only. codes (B, D), strengths (B,) -> (B, D)."""
    current = (codes @ readout.T + readout_bias).argmax(1)  # (B,) 0 is the target
    a = offsets[:, None] * normals  # (K, D)
    return strengths[:, None] * a[0] - strengths.clamp(0.0, 1.0)[:, None] * a[current]


def can_swap(classes: list["Direction"]) -> bool:
    """Whether `classes` (the target first, then the attribute's other classes) carry what a swap needs."""
    return len(classes) >= 2 and all(d.readout_vectors is not None and "class_offset" in d.meta for d in classes)


def siblings_of(directions: dict, direction: "Direction") -> list["Direction"]:
    """The other classes of a direction's attribute in a {label: Direction} dict (what a swap needs)."""
    m = direction.meta
    return [d for _, d in sorted(directions.items()) if d is not direction and d.meta.get("attribute") == m.get("attribute")
            and d.meta.get("space") == m.get("space") and d.meta.get("class") != m.get("class")]


def others_of(directions: dict, direction: "Direction") -> list["Direction"]:
    """Every direction of the other attributes in the same space (their readouts are a guided edit's preserve
    terms: what should stay as it was)."""
    m = direction.meta
    return [d for _, d in sorted(directions.items()) if d.meta.get("space") == m.get("space")
            and d.meta.get("attribute") != m.get("attribute")]


@dataclass
class Direction:
    """Unit vectors (one per timestep in h-space, one in W), their scales and biases, and metadata."""

    vectors: torch.Tensor  # (T, *shape)
    scales: torch.Tensor  # (T,)
    biases: torch.Tensor  # (T,)
    meta: dict = field(default_factory=dict)
    # optional: this class's row of a readout of the attribute (fit_readout), (T, *shape) and (T,)
    readout_vectors: torch.Tensor | None = None
    readout_biases: torch.Tensor | None = None

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_boundaries(cls, boundaries: list[Boundary], shape: tuple[int, ...], meta: dict) -> "Direction":
        vec = torch.from_numpy(np.stack([b.normal.reshape(shape) for b in boundaries]))
        meta = {**meta, "accuracy": [round(b.accuracy, 4) for b in boundaries],
                "samples": meta.get("samples", boundaries[0].n_train + boundaries[0].n_test)}
        if all(b.offset > 0 for b in boundaries):
            meta["class_offset"] = [round(b.offset, 6) for b in boundaries]
        return cls(vec.float(), torch.tensor([b.scale for b in boundaries]), torch.tensor([b.bias for b in boundaries]),
                   meta)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.vectors.shape[1:])

    @property
    def pooled(self) -> bool:
        """Whether this h-space direction reads h pooled to its channels ("pooled" in its metadata, written by the
        fit from `edits.hspace.layout.pools`); for files written before that field, a 1-D h direction without skip
        tensors was pooled."""
        if "pooled" in self.meta:
            return bool(self.meta["pooled"])
        return self.meta.get("space") == "h" and len(self.shape) == 1 and not self.meta.get("skip_levels")

    @property
    def timesteps(self) -> list[int]:
        return list(self.meta.get("timesteps") or [0])

    @property
    def label(self) -> str:
        return f"{self.meta.get('attribute', '?')}: {self.meta.get('class', '?')}"

    def index_for(self, t: int) -> int:
        ts = np.asarray(self.timesteps)
        return int(np.abs(ts - t).argmin())

    def at_timestep(self, t: int) -> tuple[torch.Tensor, float]:
        """The unit vector and the scale for the fitted timestep nearest to t."""
        i = self.index_for(t)
        return self.vectors[i], float(self.scales[i])

    def bias_at(self, t: int) -> float:
        return float(self.biases[self.index_for(t)])

    def check_compatible(self, shape: tuple[int, ...]) -> None:
        s = self.shape
        if s != tuple(shape) and not (len(s) == 1 and len(shape) == 3 and s[0] == shape[0]):
            raise DirectionError(f"This direction was fitted for codes of shape {s}, but this model's are "
                                 f"{tuple(shape)}: it belongs to another model.")

    # ---------------------------------------------------------------- files
    def save(self, path: str | Path) -> Path:
        """Write `path`.safetensors and `path`.json; the file name must pass `file_stem`."""
        from safetensors.torch import save_file

        path = Path(path)
        name = path.stem if path.suffix in (".safetensors", ".json") else path.name
        path = path.with_name(file_stem(name) + ".safetensors")
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, **self.meta}
        tensors = {"vectors": self.vectors.contiguous().float(), "scales": self.scales.float(),
                   "biases": self.biases.float()}
        if self.readout_vectors is not None:
            tensors.update(readout_vectors=self.readout_vectors.contiguous().float(),
                           readout_biases=self.readout_biases.contiguous().float())
        save_file(tensors, path, metadata={"direction": json.dumps(meta)})
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
        return path

    def save_in(self, folder: str | Path, stem: str) -> Path:
        """`save` into `folder` under a whitelisted stem, checking that the file stays inside the folder."""
        folder = Path(folder).resolve()
        path = (folder / file_stem(stem)).resolve()
        if path.parent != folder:
            raise DirectionError("A direction can only be written inside its own folder.")
        return self.save(path)

    @classmethod
    def load(cls, path: str | Path, max_bytes: int = 64 * 2**20) -> "Direction":
        """Load a direction file; anything else (corrupt, foreign, huge) raises DirectionError."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise DirectionError(f"There is no direction file at {path.name}.")
        if path.stat().st_size > max_bytes:
            raise DirectionError(f"{path.name} is too large to be a direction file.")
        try:
            with safe_open(str(path), framework="pt") as f:
                header = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception:
            raise DirectionError(f"{path.name} is not a readable direction file (expected .safetensors).") from None
        try:
            meta = json.loads(header["direction"])
            assert meta.pop("format") == FORMAT
            vec, sc, bi = tensors["vectors"].float(), tensors["scales"].float(), tensors["biases"].float()
        except Exception:
            raise DirectionError(f"{path.name} is a safetensors file but not a direction made by this app.") from None
        if vec.ndim < 2 or sc.shape != (vec.shape[0],) or bi.shape != (vec.shape[0],):
            raise DirectionError(f"{path.name} has tensors of inconsistent shapes.")
        if not (torch.isfinite(vec).all() and torch.isfinite(sc).all() and torch.isfinite(bi).all()):
            raise DirectionError(f"{path.name} contains NaN or infinite values.")
        if len(meta.get("timesteps") or [0]) != vec.shape[0]:
            raise DirectionError(f"{path.name}: its metadata and its tensors disagree on the number of timesteps.")
        rv, rb = tensors.get("readout_vectors"), tensors.get("readout_biases")
        if (rv is None) != (rb is None) or (rv is not None and (
                rv.shape != vec.shape or rb.shape != bi.shape or not (torch.isfinite(rv).all() and torch.isfinite(rb).all()))):
            raise DirectionError(f"{path.name} has a broken readout (its tensors' shapes or values are wrong).")
        return cls(vec, sc, bi, meta, None if rv is None else rv.float(), None if rb is None else rb.float())


def load_directions(folder: str | Path, space: str | None = None) -> dict[str, Direction]:
    """All directions in a folder, keyed 'attribute: class' (optionally only one space)."""
    out = {}
    for p in sorted(Path(folder).glob("*.safetensors")):
        d = Direction.load(p)
        if space is None or d.meta.get("space") == space:
            out[d.label] = d
    return out


# ------------------------------------------------------------------ a model's directions, and when there are none
HOW_TO_FIT = {
    "h": ("Fit one in the h-space tab (“Fit your own direction”), or with `python -m edits.fit hspace --model MODEL "
          "--prompt TEMPLATE --attribute NAME`."),
    "w": ("Fit one in the W-space tab (“Fit your own direction”), or with `python -m edits.fit wspace --gan FOLDER "
          "--attribute NAME`; the unsupervised sliders (SeFa, PCA) there need none."),
}
SPACE_NAMES = {"h": "h-space", "w": "W-space"}


def no_direction(space: str, key: str, known) -> str:
    """The sentence for a direction a model does not have: which ones it has, and how to fit one."""
    known = ", ".join(sorted(known)) or "none"
    return f"There is no {SPACE_NAMES[space]} direction for {key!r}. Known: {known}. {HOW_TO_FIT[space]}"


def merged(shipped: dict, own: dict | None) -> dict:
    """The directions a visitor sees: their own (fitted or loaded in their session) over the shipped ones. An
    attribute they fitted replaces every shipped class of it, since an attribute's classes (their readouts, their
    offsets) are fitted together and a swap or a guided edit reads them side by side."""
    own = own or {}
    mine = {(d.meta.get("space"), d.meta.get("attribute")) for d in own.values()}
    keep = {k: d for k, d in shipped.items() if (d.meta.get("space"), d.meta.get("attribute")) not in mine}
    return {**keep, **own}

"""Readouts refitted where the edit takes h (lead 4 of the h-space issue): `python -m edits.hspace.refit`.

The guided moves climb log p(target | h) under linear per-step readouts of the mid-block, fitted on plain
trajectories. An edit takes h where no plain sample lies, and there a linear readout can read the target
while the picture has not changed. This refit:
1. draws plain trajectories at the model's own number of steps, and edited ones: the default move, on seeds
   of its own, towards targets drawn at random;
2. labels every trajectory by its finished picture with the fitting labellers (colour read from the pixels,
   shape, size and background by the toy classifier; never the judge, which scores the edits);
3. fits each step's multinomial readout of each attribute on plain and edited h together (`fit_readout`),
   on four fifths of the trajectories;
4. calibrates each step's readout by one temperature that minimises the negative log-likelihood of the
   held-out fifth (Guo et al., ICML 2017), folded into the weights.
The unit vectors, scales and offsets of the other moves are refitted on the plain trajectories alone
(`edits.fit.fit_h`, as the shipped ones). Held-out accuracy of every step's readout, on plain and on edited
trajectories, goes into each file's metadata (`readout_accuracy_plain`, `readout_accuracy_edited`).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..directions import Direction, fit_readout, load_directions, others_of, readable_stem, siblings_of
from ..fit import Samples, fill_template, fit_h
from ..pipeline import to_uint8
from .edit import DEFAULT_EDIT, HEdit
from .layout import h_shape, pools
from .sampler import sample

TEMPLATES = {"colour": "a {size} {shape} on a {background} background",
             "shape": "a {size} {colour} shape on a {background} background"}
ATTRIBUTES = ("colour", "shape", "size", "background")


@dataclass
class Trajectories:
    """h at every step of many trajectories; an edited step taken several times (recurrence) gives several rows."""

    h: list[np.ndarray]  # per step: (n_i, D)
    owner: list[np.ndarray]  # per step: which trajectory each row belongs to, (n_i,)
    images: np.ndarray  # (N, H, W, 3) uint8
    seeds: list[int]
    prompts: list[str]
    timesteps: list[int]
    edited: np.ndarray  # (N,) bool

    @property
    def n(self) -> int:
        return len(self.seeds)


def calls_per_step(edit: HEdit | None, steps: int) -> list[int]:
    """How many UNet passes (each capturing h once) a sampling call makes at each step."""
    if edit is None:
        return [1] * steps
    edit.check()
    r = max(int(edit.guide.recurrence), 1) if edit.move == "recurrent" else 1
    return [r if edit.active(i / steps) else 1 for i in range(steps)]


def draw(model, prompts: list[str], seeds: list[int], edit: HEdit | None = None, batch: int = 16,
         steps: int | None = None):
    """(per-step h arrays, per-step owners (indices into this call's seeds), images uint8, timesteps), at the
    model's own number of steps unless `steps`."""
    pooled = pools(model, 0)
    steps = steps or model.default_steps
    hs: list[list[np.ndarray]] = [[] for _ in range(steps)]
    owners: list[list[np.ndarray]] = [[] for _ in range(steps)]
    images, timesteps = [], None
    for start in range(0, len(seeds), batch):
        idx = np.arange(start, min(start + batch, len(seeds)))
        out = sample(model, [prompts[i] for i in idx], [seeds[i] for i in idx], edit=edit, capture=True, pool=pooled,
                     num_inference_steps=steps)
        counts = calls_per_step(edit, steps)
        if len(out.h) != sum(counts):
            raise RuntimeError(f"expected {sum(counts)} captures of h, got {len(out.h)}")
        k = 0
        for i, c in enumerate(counts):
            for _ in range(c):
                hs[i].append(out.h[k].float().numpy())
                owners[i].append(idx)
                k += 1
        images.append(to_uint8(out.images))
        timesteps = out.timesteps
    return ([np.concatenate(x) for x in hs], [np.concatenate(o) for o in owners], np.concatenate(images), timesteps)


def collect(model, dirs: dict, n_plain: int, n_edited: int, first_seed: int = 500_000, move: str | None = None,
            strength: float | None = None, progress=print) -> Trajectories:
    """Plain and edited trajectories for both templates (colour unsaid, shape unsaid); edits towards a target of the
    unsaid attribute drawn at random per seed, with the default move."""
    from ..directions import DirectionError

    rng = np.random.default_rng(first_seed)
    move = move or DEFAULT_EDIT["move"]
    strength = DEFAULT_EDIT["strength"] if strength is None else strength
    steps = model.default_steps
    H: list[list[np.ndarray]] = [[] for _ in range(steps)]
    O: list[list[np.ndarray]] = [[] for _ in range(steps)]
    images, seeds, prompts, edited = [], [], [], []
    seed = first_seed

    def add(hs, owners, imgs, s, p, was_edited):
        base = len(seeds)
        for i in range(steps):
            H[i].append(hs[i])
            O[i].append(owners[i] + base)
        images.append(imgs), seeds.extend(s), prompts.extend(p), edited.extend([was_edited] * len(s))

    timesteps = None
    for attribute, template in TEMPLATES.items():
        share = 2 if attribute == "colour" else 1  # two thirds of the samples leave the colour unsaid
        for kind, n in (("plain", n_plain), ("edited", n_edited)):
            n = n * share // 3
            s = list(range(seed, seed + n))
            seed += n
            p = [fill_template(template, x) for x in s]
            t0 = time.perf_counter()
            if kind == "plain":
                hs, owners, imgs, timesteps = draw(model, p, s)
                add(hs, owners, imgs, s, p, False)
            else:
                classes = sorted(d.meta["class"] for d in dirs.values()
                                 if d.meta.get("attribute") == attribute and d.readout_vectors is not None)
                if len(classes) < 2:
                    raise DirectionError(f"no readouts of {attribute} to edit with")
                targets = rng.choice(classes, size=n)
                for c in classes:
                    idx = [i for i in range(n) if targets[i] == c]
                    if not idx:
                        continue
                    d = dirs[f"{attribute}: {c}"]
                    e = HEdit(d, strength, DEFAULT_EDIT["start"], DEFAULT_EDIT["end"], DEFAULT_EDIT["mode"], move,
                              siblings_of(dirs, d), others_of(dirs, d))
                    hs, owners, imgs, _ = draw(model, [p[i] for i in idx], [s[i] for i in idx], edit=e)
                    add(hs, owners, imgs, [s[i] for i in idx], [p[i] for i in idx], True)
            progress(f"refit: {n} {kind} trajectories ({attribute} unsaid) in {time.perf_counter() - t0:.0f} s")
    return Trajectories([np.concatenate(x) for x in H], [np.concatenate(o) for o in O], np.concatenate(images),
                        seeds, prompts, timesteps, np.array(edited))


def label(traj: Trajectories) -> dict[str, np.ndarray]:
    """Each trajectory's class of every attribute, read from its finished picture by the fitting labellers."""
    from ..labelers import ColourLabeler, ToyClassifierLabeler

    out = {"colour": np.array(ColourLabeler()(traj.images))}
    for a in ATTRIBUTES[1:]:
        out[a] = np.array(ToyClassifierLabeler(a)(traj.images))
    return out


def temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the mean negative log-likelihood of softmax(logits / T) on (logits, y)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    def nll(log_t):
        return -log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(y)), y].mean()

    return float(np.exp(minimize_scalar(nll, bounds=(np.log(0.02), np.log(50.0)), method="bounded").x))


def fit_step(X: np.ndarray, y: np.ndarray, owner: np.ndarray, edited: np.ndarray, classes: list[str],
             held_out: np.ndarray, C: float = 0.1) -> tuple[dict[str, tuple[np.ndarray, float]], dict]:
    """One step's calibrated readout: fitted on the rows of trajectories not held out, its temperature fitted on
    the held-out ones. Returns (class -> (weights, bias)) and the held-out figures."""
    rows_train, rows_test = ~held_out[owner], held_out[owner]
    r = fit_readout(X[rows_train], list(y[owner][rows_train]), classes, C=C)
    W = np.stack([r[c][0] for c in classes])  # (K, D)
    b = np.array([r[c][1] for c in classes])
    idx = {c: k for k, c in enumerate(classes)}
    known = np.array([v in idx for v in y[owner]])
    test = rows_test & known
    yt = np.array([idx[v] for v in y[owner][test]])
    logits = X[test].astype(np.float64) @ W.T + b
    T = temperature(logits, yt) if len(yt) else 1.0
    hit = logits.argmax(1) == yt
    ed = edited[owner][test]
    stats = {"temperature": round(T, 4), "accuracy_plain": round(float(hit[~ed].mean()), 4) if (~ed).any() else None,
             "accuracy_edited": round(float(hit[ed].mean()), 4) if ed.any() else None}
    return {c: ((W[k] / T).astype(np.float32), float(b[k] / T)) for k, c in enumerate(classes)}, stats


def refit(model, dirs: dict, traj: Trajectories, labels: dict[str, np.ndarray], C: float = 0.1,
          hold_out: float = 0.2, seed: int = 0) -> dict[str, Direction]:
    """New directions for every attribute: vectors from the plain trajectories, calibrated readouts from all."""
    rng = np.random.default_rng(seed)
    held_out = rng.random(traj.n) < hold_out
    shape = h_shape(model, 0)
    pooled = pools(model, 0)
    plain = np.flatnonzero(~traj.edited)
    # plain trajectories give one row per step, in trajectory order
    plain_h = np.stack([traj.h[t][np.isin(traj.owner[t], plain)] for t in range(len(traj.h))], 1)  # (n, T, D)
    samples = Samples([traj.seeds[i] for i in plain], [traj.prompts[i] for i in plain], plain_h,
                      traj.images[plain], traj.timesteps, 0, pooled)
    out: dict[str, Direction] = {}
    for a in ATTRIBUTES:
        y = labels[a]
        old = {d.meta["class"] for d in dirs.values() if d.meta.get("attribute") == a and d.readout_vectors is not None}
        classes = sorted(c for c in old if (y[plain] == c).sum() >= 8)
        fitted = fit_h(samples, list(y[plain]), a, next(iter(dirs.values())).meta.get("model", ""),
                       "colour" if a == "colour" else "classifier", shape, classes,
                       TEMPLATES.get(a, TEMPLATES["colour"]))
        classes = sorted(fitted)
        rows, stats = [], []
        for t in range(len(traj.h)):
            r, s = fit_step(traj.h[t], y, traj.owner[t], traj.edited, classes, held_out, C)
            rows.append(r), stats.append(s)
        for c, d in fitted.items():
            d.readout_vectors = torch.from_numpy(np.stack([r[c][0] for r in rows])).reshape(-1, *d.shape)
            d.readout_biases = torch.tensor([r[c][1] for r in rows])
            d.meta.update({
                "readouts": "refitted on plain and edited trajectories, calibrated (edits/hspace/refit.py)",
                "samples": int(traj.n), "samples_edited": int(traj.edited.sum()),
                "readout_temperature": [s["temperature"] for s in stats],
                "readout_accuracy_plain": [s["accuracy_plain"] for s in stats],
                "readout_accuracy_edited": [s["accuracy_edited"] for s in stats]})
            out[f"{a}: {c}"] = d
    return out


def main(argv=None) -> None:
    from ..pipeline import load_diffusion, load_hspace_diffusion

    p = argparse.ArgumentParser(prog="python -m edits.hspace.refit", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--directions", default="assets/directions", help="the directions whose edits are drawn")
    p.add_argument("--out", required=True, help="folder for the refitted directions")
    p.add_argument("--plain", type=int, default=1536, help="plain trajectories (two thirds colour unsaid)")
    p.add_argument("--edited", type=int, default=1152, help="edited trajectories (two thirds colour edits)")
    p.add_argument("--first-seed", type=int, default=500_000)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    model = load_hspace_diffusion(None, load_diffusion(None, device="cpu"))
    dirs = {k: d for k, d in load_directions(a.directions, space="h").items() if d.readout_vectors is not None}
    traj = collect(model, dirs, a.plain, a.edited, a.first_seed)
    labels = label(traj)
    new = refit(model, dirs, traj, labels)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for i, (k, d) in enumerate(sorted(new.items())):
        d.save_in(out, readable_stem(i, "h", d.meta["attribute"], d.meta["class"]))
    per_attr = {}
    for k, d in sorted(new.items()):
        per_attr.setdefault(d.meta["attribute"], {"accuracy_plain": d.meta["readout_accuracy_plain"],
                                                  "accuracy_edited": d.meta["readout_accuracy_edited"],
                                                  "temperature": d.meta["readout_temperature"]})
    print(json.dumps({"directions": len(new), "trajectories": traj.n, "edited": int(traj.edited.sum()),
                      "steps": len(traj.h), "wall_s": round(time.perf_counter() - t0, 1), **per_attr}))


if __name__ == "__main__":
    main()

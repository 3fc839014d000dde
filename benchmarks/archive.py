"""The archive (edits/archive.py): what each generator draws, counted; and how well its catalogue is searched.

census (edits.archive.census: colour x shape counts of the pictures the judge reads as valid scenes, each cell's
share with a 95 % Wilson interval, held-out cells together, forgotten and invented cells, invalid pictures apart):
- gan: N_GAN codes of the default GAN's W at truncation 1 (seeds from CENSUS_SEED, none of them in its catalogue);
- diffusion_empty: N_DIFFUSION seeds of the embedded diffusion model under the empty prompt (guidance 1: with
  nothing said, guidance changes nothing);
- diffusion_colour_unsaid: N_DIFFUSION prompts naming the shape, size and background of scenes drawn as the
  training scenes are (toyworld.world.sample_scene), the colour left unsaid (default guidance);
- training: the first N_TRAINING training scenes (make_dataset(40000, seed=3)'s), rendered and read by the judge;
  training_labels: the census of all 40000 training scenes' own labels (the training frequencies), and
  training_reproduced: whether the judge's census of the rendered scenes equals their labels' census.
Each drawn census has draw_s_per_picture (wall clock, one thread, batches of 16 for diffusion) and
read_s_per_picture (the judge).

search (per archive: gan, diffusion): every one-factor description (19) and every two-factor one (128, the 4
held-out colour/shape pairs among them), searched with Archive.search; a hit when the first result, drawn again
on its own (its code moved as the search moved it), is read by the judge as a valid scene with every described
factor as said. search_hit_rate: one-factor descriptions; search_hit_rate_pairs: two-factor ones seen in
training; search_hit_rate_heldout: the held-out pairs; each with its Wilson interval (_ci). search_s: median
seconds of a search (p90 and max beside it); from_catalogue and moved: shares of descriptions whose first result
came straight from the catalogue or after a move in W. misses: the descriptions whose first result missed.
catalogue: its size, valid pictures, whether shipped (assets/archive), build_s (from its metadata), load_s
(measured here) and, for the GAN, small_catalogue_s: the time to read SMALL_GAN_CATALOGUE codes at start for a
generator that ships none.
The top-level search_hit_rate, search_hit_rate_heldout and search_s are the GAN archive's (the W archive the
issue asks for); the diffusion archive's are under search.diffusion.
"""
from __future__ import annotations

import itertools
import statistics
import time

import numpy as np
import torch

from edits.archive import (FACTOR_NAMES, SMALL_GAN_CATALOGUE, TRAINING_N, Catalogue, build_gan_catalogue, census,
                           catalogue_path, draw_gan, open_diffusion_archive, open_gan_archive, reads_as,
                           training_pictures, training_scenes, wilson)
from edits.directions import load_directions
from edits.judge import read, read_one
from edits.pipeline import load_diffusion
from edits.wspace import apply_edits, directions_folder, load_gan, make_edit
from toyworld.settings import ROOT
from toyworld.world import FACTORS, HELDOUT, prompt_for, sample_scene

from .common import batched, to_uint8

CENSUS_SEED = 1_000_000  # census seeds start here: none is in a catalogue (those start at 0)
N_GAN, N_DIFFUSION, N_TRAINING = 10_000, 2000, 2000


def _rate(hits: list[bool]) -> tuple[float | None, list[float] | None]:
    if not hits:
        return None, None
    ci = wilson(sum(hits), len(hits))
    return round(sum(hits) / len(hits), 4), [round(ci[0], 4), round(ci[1], 4)]


def _timed_census(images_fn, n: int) -> dict:
    t = time.perf_counter()
    images = images_fn()
    draw = time.perf_counter() - t
    t = time.perf_counter()
    readings = read(images)
    out = census(readings)
    out["draw_s_per_picture"] = round(draw / max(n, 1), 4)
    out["read_s_per_picture"] = round((time.perf_counter() - t) / max(n, 1), 4)
    return out


def _diffusion_images(model, prompts: list[str], seeds: list[int], guidance_scale=None) -> np.ndarray:
    out = [to_uint8(model.generate_batch([prompts[i] for i in idx], [seeds[i] for i in idx],
                                         guidance_scale=guidance_scale))
           for idx in batched(list(range(len(seeds))), 16)]
    return np.concatenate(out)


def censuses(gan, model, n_gan: int, n_diffusion: int, n_training: int) -> dict:
    out = {}
    out["gan"] = _timed_census(lambda: draw_gan(gan, list(range(CENSUS_SEED, CENSUS_SEED + n_gan))), n_gan)
    out["gan"].update(model=gan.name, truncation_psi=1.0)
    seeds = list(range(CENSUS_SEED, CENSUS_SEED + n_diffusion))
    out["diffusion_empty"] = _timed_census(lambda: _diffusion_images(model, [""] * n_diffusion, seeds, 1.0),
                                           n_diffusion)
    out["diffusion_empty"].update(model=model.name.rstrip("/").rsplit("/", 1)[-1], prompt="", guidance_scale=1.0)
    rng = np.random.default_rng(27)
    prompts = [prompt_for(size=s.size, shape=s.shape, background=s.background)
               for s in (sample_scene(rng) for _ in range(n_diffusion))]
    out["diffusion_colour_unsaid"] = _timed_census(lambda: _diffusion_images(model, prompts, seeds), n_diffusion)
    out["diffusion_colour_unsaid"].update(model=out["diffusion_empty"]["model"], guidance_scale=model.default_guidance,
                                          prompts="size, shape and background of training-like scenes")
    scenes, images = training_pictures(n_training)
    out["training"] = census(read(images))
    labels = census(scenes)
    out["training_reproduced"] = labels["counts"] == out["training"]["counts"] and out["training"]["invalid"] == 0
    out["training_labels"] = census(training_scenes(TRAINING_N))
    out["training_labels"]["n_rendered"] = n_training
    return out


def descriptions() -> list[dict]:
    """Every one-factor and two-factor description of the world."""
    out = [{f: v} for f in FACTOR_NAMES for v in FACTORS[f]]
    for f, g in itertools.combinations(FACTOR_NAMES, 2):
        out += [{f: v, g: u} for v in FACTORS[f] for u in FACTORS[g]]
    return out


def _redraw(archive, found, cache: dict):
    """The first result drawn again on its own: its seed's code (moved as the search moved it)."""
    key = (found.seed, found.moves)
    if key not in cache:
        if archive.kind == "gan":
            w = archive.gan.w_from_seed(found.seed, archive.psi)
            edits = [make_edit(archive.directions, a, t, s) for a, t, s in found.moves]
            cache[key] = read_one(archive.gan.render(apply_edits(archive.gan, w, edits))[0])
        else:
            m = archive.catalogue.meta
            image = archive.model.generate(m.get("prompt", ""), "", found.seed, m.get("num_inference_steps"),
                                           m.get("guidance_scale"))
            cache[key] = read_one(image)
    return cache[key]


def search_quality(archive, quick: bool = False) -> dict:
    heldout = {frozenset({("colour", c), ("shape", s)}) for c, s in HELDOUT}
    hits = {"single": [], "pairs": [], "heldout": []}
    seconds, first_from, first_moved, misses, cache = [], [], [], [], {}
    for d in descriptions():
        kind = "single" if len(d) == 1 else ("heldout" if frozenset(d.items()) in heldout else "pairs")
        if quick and kind == "pairs":
            continue
        r = archive.search(d)
        seconds.append(r.seconds)
        first = r.results[0]
        hit = first.matches and reads_as(_redraw(archive, first, cache), d)
        hits[kind].append(hit)
        first_from.append(first.matches and not first.moves)
        first_moved.append(first.matches and bool(first.moves))
        if not hit and kind != "pairs":
            misses.append(" ".join(d.values()))
    single, single_ci = _rate(hits["single"])
    pairs, pairs_ci = _rate(hits["pairs"])
    held, held_ci = _rate(hits["heldout"])
    return {"search_hit_rate": single, "search_hit_rate_ci": single_ci, "search_hit_rate_pairs": pairs,
            "search_hit_rate_pairs_ci": pairs_ci, "search_hit_rate_heldout": held, "search_hit_rate_heldout_ci": held_ci,
            "descriptions": {k: len(v) for k, v in hits.items()},
            "search_s": round(statistics.median(seconds), 3), "search_s_p90": round(float(np.percentile(seconds, 90)), 3),
            "search_s_max": round(max(seconds), 3), "from_catalogue": round(float(np.mean(first_from)), 4),
            "moved": round(float(np.mean(first_moved)), 4), "misses": misses}


def _catalogue_facts(archive, open_s: float) -> dict:
    cat = archive.catalogue
    path = catalogue_path(cat.meta.get("model", ""))
    return {"n": len(cat), "valid": int(cat.valid.sum()), "shipped": not cat.meta.get("built_at_start", False),
            "file": str(path.relative_to(ROOT)) if path.is_file() else None,
            "file_bytes": sum(p.stat().st_size for p in path.parent.glob(path.stem + ".*")) if path.is_file() else 0,
            "build_s": cat.meta.get("build_s"), "load_s": round(open_s, 3)}


def run(quick: bool = False, model_path: str | None = None) -> dict:
    torch.set_num_threads(1)
    gan = load_gan()
    dirs = load_directions(directions_folder(gan.folder), space="w")
    model = load_diffusion(model_path, device="cpu")
    res = {"census": censuses(gan, model, 300 if quick else N_GAN, 16 if quick else N_DIFFUSION,
                              200 if quick else N_TRAINING)}

    t = time.perf_counter()
    archives = {"gan": open_gan_archive(gan, dirs), "diffusion": None}
    gan_open = time.perf_counter() - t
    t = time.perf_counter()
    archives["diffusion"] = open_diffusion_archive(model)
    diffusion_open = time.perf_counter() - t
    res["search"], res["catalogue"] = {}, {}
    for key, a in archives.items():
        if a is None:
            res["catalogue"][key] = None
            continue
        res["catalogue"][key] = _catalogue_facts(a, gan_open if key == "gan" else diffusion_open)
        res["search"][key] = search_quality(a, quick)
    t = time.perf_counter()
    build_gan_catalogue(gan, 32 if quick else SMALL_GAN_CATALOGUE)
    res["catalogue"]["gan"]["small_catalogue_n"] = 32 if quick else SMALL_GAN_CATALOGUE
    res["catalogue"]["gan"]["small_catalogue_s"] = round(time.perf_counter() - t, 2)
    g = res["search"].get("gan", {})
    res.update({k: g.get(k) for k in ("search_hit_rate", "search_hit_rate_heldout", "search_s")})
    return res


__all__ = ["run", "descriptions", "censuses", "search_quality", "Catalogue"]

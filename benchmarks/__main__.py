"""python -m benchmarks imagination|hspace|wspace|compare|atlas|speed|load|judge|steps|archive|heldout|disentanglement|stylespace [--quick]  — the last line is one JSON object.

A full run with the default settings also writes that line to assets/measured/NAME.json (with --model, to
NAME.MODEL.json, MODEL the folder's or Hub id's last part), which the model cards and the README quote;
--quick runs and runs with other settings write nothing there.
"""
from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

from toyworld.settings import MEASURED

from .common import emit

NAMES = ("imagination", "hspace", "wspace", "compare", "atlas", "speed", "load", "judge", "steps", "archive", "heldout",
         "disentanglement", "stylespace")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("name", choices=NAMES)
    p.add_argument("--quick", action="store_true", help="fewer samples, for a fast check")
    p.add_argument("--model", default=None, help="diffusion pipeline folder or Hub id (default: embedded); "
                   "wspace, disentanglement and stylespace: a StyleGAN folder")
    p.add_argument("--guidance", type=float, default=None, help="imagination only: guidance scale to measure")
    p.add_argument("--strength", type=float, default=None, help="hspace/wspace: edit strength (default: the tab's)")
    p.add_argument("--mode", default=None, choices=["symmetric", "asymmetric"], help="hspace only")
    p.add_argument("--sweep", action="store_true", help="hspace/wspace: success against strength")
    p.add_argument("--directions", default=None, help="hspace, wspace, atlas: folder of direction files")
    p.add_argument("--minutes", type=float, default=None,
                   help="load only: minutes of sustained mixed use (default 20; 2 with --quick)")
    p.add_argument("--move", default=None, help="hspace only: measure one move (guided, recurrent, causal) with the "
                   "judge on 200 seeds, beside its random control")
    p.add_argument("--method", default=None, choices=["logistic", "logistic-raw", "mean-difference"],
                   help="wspace only: fit the W directions afresh with this boundary (the cards' fit otherwise) and "
                        "measure them; recorded as wspace.method-METHOD.json")
    p.add_argument("--no-record", action="store_true", help="do not write the result to assets/measured")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    kwargs = {"quick": a.quick, "model_path": a.model}
    if a.guidance is not None:
        kwargs["guidance"] = a.guidance
    if a.name == "atlas":
        kwargs["directions"] = a.directions
    if a.name == "wspace":
        kwargs.update(strength=a.strength, sweep=a.sweep, directions=a.directions, method=a.method)
    if a.name == "load":
        kwargs["minutes"] = a.minutes
    if a.name == "hspace":
        kwargs.update(strength=a.strength, mode=a.mode, sweep=a.sweep, directions=a.directions, move=a.move)
    result = importlib.import_module(f"benchmarks.{a.name}").run(**kwargs)
    result["benchmark"] = a.name
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    emit(result, record_path(a))


def record_path(a: argparse.Namespace) -> Path | None:
    """Where a run's line is kept: only full runs whose settings are all the defaults (the model aside)."""
    if getattr(a, "move", None):  # one move's judged measurement: hspace.move-NAME[.DIRECTIONS].json, its curve
        if a.no_record or a.quick or a.model or any(v is not None for v in (a.guidance, a.strength, a.mode)):
            return None
        kind = "curve" if a.sweep else "move"
        folder = f".{Path(a.directions.rstrip('/')).name}" if a.directions else ""
        return MEASURED / f"{a.name}.{kind}-{a.move}{folder}.json"
    if a.no_record or a.quick or a.sweep or any(v is not None for v in (a.guidance, a.strength, a.mode, a.directions)):
        return None
    if getattr(a, "method", None):  # the default W model's directions fitted another way: wspace.method-NAME.json
        return None if a.model else MEASURED / f"{a.name}.method-{a.method}.json"
    return MEASURED / (f"{a.name}.json" if a.model is None else f"{a.name}.{Path(a.model.rstrip('/')).name}.json")


if __name__ == "__main__":
    main()

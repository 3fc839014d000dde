"""python -m benchmarks imagination|hspace|wspace|compare|atlas|speed|load [--quick]  — the last line is one JSON object."""
from __future__ import annotations

import argparse
import importlib
import time

from .common import emit, setup

NAMES = ("imagination", "hspace", "wspace", "compare", "atlas", "speed", "load")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("name", choices=NAMES)
    p.add_argument("--quick", action="store_true", help="fewer samples, for a fast check")
    p.add_argument("--model", default=None, help="diffusion pipeline folder or Hub id (default: embedded)")
    p.add_argument("--guidance", type=float, default=None, help="imagination only: guidance scale to measure")
    p.add_argument("--strength", type=float, default=None, help="hspace/wspace: edit strength (default: the tab's)")
    p.add_argument("--mode", default=None, choices=["symmetric", "asymmetric"], help="hspace only")
    p.add_argument("--sweep", action="store_true", help="hspace/wspace: success against strength")
    p.add_argument("--directions", default=None, help="hspace, wspace, atlas: folder of direction files")
    p.add_argument("--minutes", type=float, default=None,
                   help="load only: minutes of sustained mixed use (default 20; 2 with --quick)")
    a = p.parse_args(argv)
    setup()
    t0 = time.perf_counter()
    kwargs = {"quick": a.quick, "model_path": a.model}
    if a.guidance is not None:
        kwargs["guidance"] = a.guidance
    if a.name == "atlas":
        kwargs["directions"] = a.directions
    if a.name == "wspace":
        kwargs.update(strength=a.strength, sweep=a.sweep, directions=a.directions)
    if a.name == "load":
        kwargs["minutes"] = a.minutes
    if a.name == "hspace":
        kwargs.update(strength=a.strength, mode=a.mode, sweep=a.sweep, directions=a.directions)
    result = importlib.import_module(f"benchmarks.{a.name}").run(**kwargs)
    result["benchmark"] = a.name
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    emit(result)


if __name__ == "__main__":
    main()

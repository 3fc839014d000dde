from __future__ import annotations

import json
import statistics
import time

import torch

from edits.pipeline import to_uint8  # noqa: F401  (re-exported for the benchmarks)


def setup() -> None:
    torch.set_num_threads(max(1, torch.get_num_threads()))


def emit(result: dict) -> None:
    """The last line of every benchmark: one JSON object."""
    print(json.dumps(result, sort_keys=False), flush=True)


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def batched(seq, size: int):
    for i in range(0, len(seq), size):
        yield seq[i:i + size]

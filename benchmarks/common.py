from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from edits.pipeline import to_uint8  # noqa: F401  (re-exported for the benchmarks)


def emit(result: dict, record: Path | None = None) -> None:
    """The last line of every benchmark: one JSON object; also written to `record` (a results file under
    assets/measured that the model cards and the README quote) when given."""
    line = json.dumps(result, sort_keys=False)
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(line + "\n")
    print(line, flush=True)


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

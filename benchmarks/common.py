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


def comparison_models(model_path: str | None = None) -> tuple:
    """(diffusion, h_model, h_dirs, gan, w_dirs): the models one comparison of the three methods draws with: the
    diffusion model (`model_path`, default the embedded one), the model whose h-space is edited and its shipped
    directions (none for a foreign model), the default GAN and its W directions."""
    from edits.directions import load_directions
    from edits.pipeline import load_diffusion, load_hspace_diffusion
    from edits.wspace import directions_folder, load_gan
    from toyworld.settings import DIRECTIONS

    diffusion = load_diffusion(model_path, device="cpu")
    h_model = load_hspace_diffusion(None, diffusion, device="cpu")
    h_dirs = load_directions(DIRECTIONS, space="h") if h_model.is_embedded else {}
    gan = load_gan()
    return diffusion, h_model, h_dirs, gan, load_directions(directions_folder(gan.folder), space="w")

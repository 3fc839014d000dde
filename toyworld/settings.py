"""Every path, limit and environment knob of the project, in one place (everything reads it; it reads nothing).

Environment variables (also listed by `python app.py --help`):
    DIFFUSION_MODEL, HSPACE_MODEL, STYLEGAN_MODEL   which models the app loads (default: the embedded ones)
    DEVICE                                          cuda, cpu, ... (default: automatic)
    GRADIO_SERVER_NAME, GRADIO_SERVER_PORT          where the app listens
    MAX_FIT_SAMPLES      largest "fit your own direction" a visitor may ask for (default 512)
    MAX_COMPARE_SEEDS    most seeds one "compare over many seeds" call may take (default 32)
    MAX_DIFFUSION_FRAMES most frames of a diffusion latent walk (each is a full sampling; default 16)
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
RUNS = Path("runs")  # training checkpoints and caches, relative to the working folder
DATA_CACHE = RUNS / "data"

EMBEDDED_DIFFUSION = ASSETS / "toy-diffusion"
# The same world with its UNet's skip connections cut, so that h decides (assets/directions/FINDINGS.md):
# the model of the h-space edits when the embedded model is the main one.
EMBEDDED_HOURGLASS = ASSETS / "toy-diffusion-hourglass"
EMBEDDED_GAN = ASSETS / "toy-stylegan"
CLASSIFIER = ASSETS / "classifier"
DIRECTIONS = ASSETS / "directions"
# The benchmarks' last lines, one JSON file per benchmark (and per model when not the default one): the model
# cards and the README's status quote these files, not hand-copied numbers.
MEASURED = ASSETS / "measured"


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


# ---------------------------------------------------------------- limits on what a caller may ask
MAX_SEED = 2**32 - 1
MAX_PROMPT_CHARS = 1000
MAX_STEPS = 100
MAX_GUIDANCE = 30.0
MAX_FIT_SAMPLES = _env_int("MAX_FIT_SAMPLES", 512)  # the fit tab
MAX_CLI_FIT_SAMPLES = 4096  # `python -m edits.fit`
MAX_COMPARE_SEEDS = _env_int("MAX_COMPARE_SEEDS", 32)
MAX_DIFFUSION_FRAMES = _env_int("MAX_DIFFUSION_FRAMES", 16)
MAX_WALK_FRAMES = 48  # W-space walks (cheap frames)
TRAVERSAL_FRAMES = 7  # the strips under the h-space and W-space edits

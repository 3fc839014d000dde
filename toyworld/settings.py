"""Every path, limit and environment knob of the project, in one place (everything reads it; it reads nothing).

Environment variables (also listed by `python app.py --help`):
    DIFFUSION_MODEL, HSPACE_MODEL, STYLEGAN_MODEL   which models the app loads (default: the embedded ones)
    H_DIRECTIONS                                    h-space directions fitted for HSPACE_MODEL (a folder)
    DIFFUSION_STEPS                                 default denoising steps (default 25; 4 for a turbo model)
    DEVICE                                          cuda, cpu, ... (default: automatic)
    GRADIO_SERVER_NAME, GRADIO_SERVER_PORT          where the app listens
    MAX_FIT_SAMPLES      largest "fit your own direction" a visitor may ask for (default 96)
    MAX_W_FIT_SAMPLES    the same in the W-space tab, whose samples are far cheaper (default 1000)
    MAX_COMPARE_SEEDS    most seeds one "compare over many seeds" call may take (default 16)
    MAX_DIFFUSION_FRAMES most frames of a diffusion latent walk (each is a full sampling; default 16)
    MAX_SESSION_JOBS     most diffusion images one visitor may have waiting or being made (default 2)
    MAX_SESSION_LONG_JOBS  most long jobs (fits, many-seed comparisons, walks) per visitor at once (default 1)
    QUEUE_MAX_SIZE       most jobs waiting in the whole queue before new ones are turned away (default 64)
    MAX_FILE_SIZE        largest upload accepted, e.g. 1mb (default 1mb)
    SESSION_TTL_S        seconds a visitor's own files and directions are kept after their last use (default 3600)
    CACHE_SWEEP_S        how often (s) Gradio's cache and the session folders are swept of what is older than SESSION_TTL_S (default 600)
    SESSION_FILES        the folder under which each visitor's temporary files live (default: the system's)
    MEMORY_TRIM_S        how often (s) freed memory is handed back to the system (default 60; 0: never)
    MALLOC_ARENAS        glibc heap arenas of the server (default 2; 0: glibc's default of 8 per core)
    WORKER_TORCH_THREADS torch threads for each of the server's requests (default 1; 0: torch's default)
    MAX_BATCH_SIZE       most /generate requests (of any visitors) drawn together in one batch (default 8)
    BATCH_GATHER_MS      how long a batch waits for more requests after its first one (default 40)
    SPACE_ID             set by Hugging Face Spaces: the UI links the documents of the Space's repository
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
RUNS = Path("runs")  # training checkpoints and caches, relative to the working folder
DATA_CACHE = RUNS / "data"

EMBEDDED_DIFFUSION = ASSETS / "toy-diffusion"
# Three StyleGANs of the toy world. Two learnt from pictures alone: a GAN (a discriminator judged its pictures;
# training/stylegan_gan.py) and an autoencoder (it learnt by redrawing them; training/stylegan_label_free.py).
ADVERSARIAL_GAN = ASSETS / "toy-stylegan-gan"
LABEL_FREE_GAN = ASSETS / "toy-stylegan-label-free"  # the autoencoder
LABELLED_GAN = ASSETS / "toy-stylegan-labelled"  # labels used in training: an upper bound
# The default W model (app, benchmarks, Compare): the GAN, whose edits the judge reads as clean more often than the
# autoencoder's (assets/measured/wspace.json against wspace.toy-stylegan-label-free.json); the label-built one is
# never the default.
EMBEDDED_GAN = ADVERSARIAL_GAN
# The adversarial StyleGAN's committed, resumable checkpoint and log (training/stylegan_gan.py; not shipped to the Space)
GAN_CHECKPOINT = ROOT / "training" / "checkpoints" / "stylegan_gan"
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


ENV_KNOBS = __doc__.split("Environment variables", 1)[1].split("\n", 1)[1]  # for `python app.py --help`


# ---------------------------------------------------------------- limits on what a caller may ask
MAX_SEED = 2**32 - 1
MAX_PROMPT_CHARS = 1000
MAX_STEPS = 100
MAX_GUIDANCE = 30.0
# The largest jobs a visitor may ask for finish in about a minute on 2 CPU cores (python -m benchmarks load).
MAX_FIT_SAMPLES = _env_int("MAX_FIT_SAMPLES", 96)  # the fit tab (128: 101 CPU s, i.e. about 50 s alone)
MAX_W_FIT_SAMPLES = _env_int("MAX_W_FIT_SAMPLES", 1000)  # the W tab's fit (one StyleGAN picture per sample)
MAX_CLI_FIT_SAMPLES = 4096  # `python -m edits.fit`
MAX_COMPARE_SEEDS = _env_int("MAX_COMPARE_SEEDS", 16)
MAX_DIFFUSION_FRAMES = _env_int("MAX_DIFFUSION_FRAMES", 16)
MAX_WALK_FRAMES = 48  # W-space walks (cheap frames)
TRAVERSAL_FRAMES = 7  # the strip under the W-space edit
H_TRAVERSAL_FRAMES = 5  # the h-space strip: each frame is a guided sampling (7 made the Edit 5.2-5.7 s, over 5 s)

# ---------------------------------------------------------------- text a caller may send (checked before any work)
MAX_TEMPLATE_CHARS = 300  # a "fit your own direction" prompt template
MAX_NAME_CHARS = 200  # an attribute, class, target or walk name
MAX_CSV_CELL_CHARS = 200  # a label (or seed) cell of an uploaded CSV
MAX_CSV_BYTES = 2**20  # an uploaded CSV of seed,label rows
MAX_CSV_ROWS = 10_000

# ---------------------------------------------------------------- sharing the server fairly
MAX_SESSION_JOBS = _env_int("MAX_SESSION_JOBS", 2)  # diffusion images waiting or being made, per visitor
MAX_SESSION_LONG_JOBS = _env_int("MAX_SESSION_LONG_JOBS", 1)  # fits, many-seed comparisons, walks
QUEUE_MAX_SIZE = _env_int("QUEUE_MAX_SIZE", 64)
WORKER_TORCH_THREADS = _env_int("WORKER_TORCH_THREADS", 1)  # edits.pipeline.worker_threads
# "The same picture" (edits.metrics.same_picture): for the same seed and settings, every value within this many
# levels (of 255): batches and some CPUs' thread counts round a few values 1 level apart.
PICTURE_TOLERANCE = 1
W_CONCURRENCY = 4  # W-space edits run this many at once (milliseconds each)
MAX_BATCH_SIZE = _env_int("MAX_BATCH_SIZE", 8)  # /generate requests of different visitors drawn in one batch
# how long the drawing thread waits, after the first request of a batch, for others sent at the same moment
# (a room pressing "Generate" together reaches the server over some milliseconds); a lone visitor pays it once
BATCH_GATHER_MS = _env_int("BATCH_GATHER_MS", 40)
LONG_JOB_BATCH = 4  # images per locked batch of a long job: a /generate waits for one batch at most

# ---------------------------------------------------------------- disk
MAX_FILE_SIZE = os.environ.get("MAX_FILE_SIZE", "1mb")  # uploads (Gradio's launch(max_file_size=...))
SESSION_TTL_S = _env_int("SESSION_TTL_S", 3600)
CACHE_SWEEP_S = _env_int("CACHE_SWEEP_S", 600)
SESSION_FILES = Path(os.environ.get("SESSION_FILES") or Path(tempfile.gettempdir()) / "imagination-potentiality")

# ---------------------------------------------------------------- memory
MEMORY_TRIM_S = _env_int("MEMORY_TRIM_S", 60)  # hand freed heap back to the system this often (0: never)
MALLOC_ARENAS = _env_int("MALLOC_ARENAS", 2)  # glibc heap arenas of `python app.py` (0: glibc's default)
# On a Hugging Face Space (SPACE_ID = owner/name), the UI links the repository's documents there.
SPACE_ID = os.environ.get("SPACE_ID")

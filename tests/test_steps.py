"""The denoising steps: the schedulers the steps benchmark compares, and the default's prompt adherence."""
import numpy as np

from edits.judge import read
from edits.pipeline import load_diffusion, to_uint8
from toyworld.world import prompt_for, sample_scene

from .conftest import EMBEDDED, needs_embedded


def test_the_steps_benchmark_builds_both_schedulers(tiny_model):
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    from benchmarks.steps import scheduler_for

    assert isinstance(scheduler_for(tiny_model.pipe, "ddim"), DDIMScheduler)
    dpm = scheduler_for(tiny_model.pipe, "dpm++")
    assert isinstance(dpm, DPMSolverMultistepScheduler) and dpm.config.algorithm_type == "dpmsolver++"


@needs_embedded
def test_the_default_steps_keep_the_prompt():
    """At its default steps the embedded model draws what canonical prompts say, as the judge reads it."""
    model = load_diffusion(EMBEDDED, device="cpu")
    rng = np.random.default_rng(5)
    scenes = [sample_scene(rng) for _ in range(8)]
    images = model.generate_batch([prompt_for(s.size, s.colour, s.shape, s.background) for s in scenes],
                                  list(range(300, 308)))
    readings = read(to_uint8(images))
    for factor in ("colour", "shape", "background"):
        hits = sum(getattr(r, factor) == getattr(s, factor) for r, s in zip(readings, scenes))
        assert hits >= 7, (factor, hits)


def test_the_embedded_default_is_the_steps_benchmarks_choice():
    """The embedded model's default steps are the DDIM setting the steps benchmark chose, not a typed-in guess."""
    import json

    from edits.pipeline import EMBEDDED_STEPS
    from toyworld.settings import ASSETS

    measured = json.loads((ASSETS / "measured" / "steps.json").read_text())
    assert measured["chosen_ddim"] == f"ddim_{EMBEDDED_STEPS}"
    assert measured["settings"][measured["chosen_ddim"]]["holds"]


@needs_embedded
def test_the_embedded_model_loads_with_its_chosen_steps():
    assert load_diffusion(EMBEDDED, device="cpu").default_steps == 12

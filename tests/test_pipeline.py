import json
import math

import numpy as np
import pytest

from edits.pipeline import (MAX_SEED, InputError, ModelLoadError, check_number, check_prompt, check_seed,
                            load_diffusion, make_generator, to_uint8)
from edits.metrics import same_picture

from .conftest import EMBEDDED, needs_embedded


def test_tiny_pipeline_loads_through_the_common_path(tiny_model):
    from diffusers import DDIMScheduler

    assert isinstance(tiny_model.pipe.scheduler, DDIMScheduler)
    assert tiny_model.device.type == "cpu"
    assert tiny_model.resolution == 16


def test_same_seed_same_pixels_and_other_seed_differs(tiny_model):
    a = np.asarray(tiny_model.generate("a red circle", seed=5, num_inference_steps=3))
    b = np.asarray(tiny_model.generate("a red circle", seed=5, num_inference_steps=3))
    c = np.asarray(tiny_model.generate("a red circle", seed=6, num_inference_steps=3))
    assert a.shape == (16, 16, 3)
    assert same_picture(a, b)
    assert not same_picture(a, c)


def test_batch_equals_single_images(tiny_model):
    batch = tiny_model.generate_batch(["a red circle", "a blue star"], [5, 9], num_inference_steps=3)
    single = tiny_model.generate("a blue star", seed=9, num_inference_steps=3, output_type="np")
    assert np.allclose(batch[1], single, atol=1e-5)


def test_empty_prompt_is_unconditional(tiny_model):
    img = tiny_model.generate("", seed=1, num_inference_steps=2)
    assert img.size == (16, 16)


def test_generator_is_on_cpu():
    g = make_generator(3)
    assert g.device.type == "cpu" and g.initial_seed() == 3


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 1.5, "abc", None, float("nan"), float("inf")])
def test_bad_seeds(seed):
    with pytest.raises(InputError):
        check_seed(seed)


def test_good_inputs_are_normalised():
    assert check_seed("12") == 12 and check_seed(12.0) == 12
    assert check_prompt("  hi ") == "hi" and check_prompt(None) == ""
    assert check_number("3", "Steps", 1, 10, integer=True) == 3


@pytest.mark.parametrize("value", [float("nan"), -1, 1e9, "x", math.inf])
def test_bad_numbers(value):
    with pytest.raises(InputError):
        check_number(value, "Guidance scale", 0, 30)


def test_bad_inputs_to_generate_raise_input_error(tiny_model):
    for kwargs in [dict(prompt="x" * 10_000), dict(seed=-3), dict(num_inference_steps=float("nan")),
                   dict(num_inference_steps=-2), dict(guidance_scale=float("nan")), dict(prompt=123)]:
        with pytest.raises(InputError):
            tiny_model.generate(**{"prompt": "a", "seed": 1, **kwargs})


def test_unloadable_models_give_one_sentence(tmp_path, tiny_pipeline_dir):
    with pytest.raises(ModelLoadError, match="no folder"):
        load_diffusion(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="model_index.json"):
        load_diffusion(tmp_path / "empty")
    with pytest.raises(ModelLoadError, match="Could not load the Hub model"):
        load_diffusion("nobody-here/no-such-model-xyz")  # offline in tests: fails fast
    # a corrupt folder: the UNet weights replaced by garbage
    import shutil

    bad = tmp_path / "corrupt"
    shutil.copytree(tiny_pipeline_dir, bad)
    for f in (bad / "unet").glob("*.safetensors"):
        f.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError) as e:
        load_diffusion(bad)
    assert "\n" not in str(e.value)
    # a pipeline folder that is not text-to-image SD
    other = tmp_path / "other"
    other.mkdir()
    (other / "model_index.json").write_text(json.dumps({"_class_name": "NoSuchPipeline"}))
    with pytest.raises(ModelLoadError):
        load_diffusion(other)


@needs_embedded
def test_embedded_model_loads_and_generates():
    model = load_diffusion(EMBEDDED, device="cpu")
    assert model.is_embedded and model.resolution == 64
    total = sum(f.stat().st_size for f in EMBEDDED.rglob("*") if f.is_file())
    assert total <= 60 * 2**20
    a = np.asarray(model.generate("a large red circle on a white background", seed=1, num_inference_steps=10))
    b = np.asarray(model.generate("a large red circle on a white background", seed=1, num_inference_steps=10))
    assert a.shape == (64, 64, 3) and same_picture(a, b)


def test_hspace_model_is_the_main_model(tiny_model):
    # The h-space edits run on the model behind `generate` unless another one is asked for by name.
    from edits.pipeline import load_hspace_diffusion

    assert load_hspace_diffusion(None, tiny_model) is tiny_model
    other = load_hspace_diffusion(tiny_model.name, tiny_model, device="cpu")
    assert other is not tiny_model and other.name == tiny_model.name


def test_prompt_report_names_unknown_words_and_cut_text(tiny_model):
    from edits.pipeline import prompt_report

    ok = prompt_report(tiny_model, "a large red circle on a white background")
    assert ok.ok and ok.message() == ""
    r = prompt_report(tiny_model, "a photo of a cat riding a bicycle")
    assert r.unknown == ["photo", "cat", "riding", "bicycle"]
    assert r.cut.endswith("bicycle") and "not understood: photo, cat" in r.message()
    long = prompt_report(tiny_model, "a large red circle on a white background and a small blue star on a black square")
    assert long.unknown == [] and long.cut.endswith("black square") and "cut after 14 tokens" in long.message()
    assert prompt_report(tiny_model, "").ok


def test_prompt_report_ignores_unknown_words_in_an_open_vocabulary(tiny_model, monkeypatch):
    from edits import pipeline

    monkeypatch.setattr(pipeline, "CLOSED_VOCABULARY", 10)  # as if the tokenizer were real CLIP's
    assert pipeline.prompt_report(tiny_model, "a photo of a cat").ok


def test_requests_run_with_the_worker_thread_count_and_the_lock_leaves_it_alone():
    import threading

    import torch

    from demo.common import friendly
    from edits.pipeline import FairLock
    from toyworld.settings import WORKER_TORCH_THREADS

    main_before = torch.get_num_threads()
    seen = []

    @friendly
    def request():  # every request of the app passes through demo.common.friendly
        seen.append(torch.get_num_threads())
        with FairLock():  # taking a model's lock changes nothing
            seen.append(torch.get_num_threads())

    t = threading.Thread(target=request)
    t.start()
    t.join()
    assert seen == [WORKER_TORCH_THREADS or seen[0]] * 2
    with FairLock():
        assert torch.get_num_threads() == main_before


@needs_embedded
def test_the_same_picture_across_thread_counts_and_batch_sizes():
    """The one definition (edits.metrics.same_picture) holds for 1 and 2 threads and for a batch of 4."""
    import threading

    import torch

    from edits.metrics import picture_difference, same_picture

    model = load_diffusion(EMBEDDED, device="cpu")
    prompts, seeds = ["a circle", "a large blue star", "", "a square on a black background"], [100, 101, 102, 103]

    def draw(threads):
        out = []

        def job():  # a worker thread, as the server's requests are: its thread count is its own
            torch.set_num_threads(threads)
            out.extend(np.asarray(model.generate(p, "", s, 10, 5.0)) for p, s in zip(prompts, seeds))

        t = threading.Thread(target=job)
        t.start()
        t.join()
        return out

    one, two = draw(1), draw(2)
    batch = to_uint8(model.generate_batch(prompts, seeds, num_inference_steps=10, guidance_scale=5.0))
    for a, b, c in zip(one, two, batch):
        assert same_picture(a, b) and same_picture(a, c), (picture_difference(a, b), picture_difference(a, c))
    assert not same_picture(one[0], one[1])

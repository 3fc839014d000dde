"""Shared fixtures: a tiny random Stable Diffusion pipeline (built here, no network) and the app."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
torch.set_num_threads(2)

EMBEDDED = ROOT / "assets" / "toy-diffusion"
needs_embedded = pytest.mark.skipif(not (EMBEDDED / "model_index.json").exists(),
                                    reason="the embedded model is not in assets/ yet")


def mp4_frames(path) -> tuple[int, tuple[int, int]]:
    """(frames, (width, height)) of a video file, as ffmpeg decodes it."""
    import imageio_ffmpeg

    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    return frames, tuple(next(imageio_ffmpeg.read_frames(str(path)))["size"])


def get_dummy_components(tmp: Path) -> dict:
    """Tiny random SD components, like diffusers' own pipeline tests (16x16 images)."""
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from toyworld.tokenizer import save_tokenizer
    from toyworld.world import VOCAB_WORDS

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=32,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
    )
    save_tokenizer(VOCAB_WORDS, tmp / "tok", max_length=16)
    tokenizer = CLIPTokenizer.from_pretrained(tmp / "tok")
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
        num_attention_heads=4, num_hidden_layers=2, vocab_size=len(tokenizer), max_position_embeddings=16,
    ))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    return dict(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
                safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def write_clip_tokenizer(folder: Path, max_length: int = 77):
    """A CLIP tokenizer from vocab.json and merges.txt written here: every character is a token (and ends a word
    with </w>), no merges, so any prompt tokenizes, as an open-vocabulary one does."""
    import json
    import string

    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    chars = string.ascii_lowercase + string.digits + ",.!?'-"
    tokens = ["<|startoftext|>", "<|endoftext|>", *chars, *[c + "</w>" for c in chars]]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer.from_pretrained(folder, model_max_length=max_length)


def save_tiny_sd(folder: Path, sample_size: int = 32) -> Path:
    """A tiny random SD pipeline saved by `save_pretrained`, as a user brings one (diffusers' test components;
    images of 2 * sample_size px, h = 64 x sample_size/2 x sample_size/2: pooled from sample_size 32, 64 px)."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=sample_size, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=32,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
    )
    tokenizer = write_clip_tokenizer(folder.parent / f"{folder.name}_vocab", max_length=16)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
        num_attention_heads=4, num_hidden_layers=2, vocab_size=len(tokenizer), max_position_embeddings=16,
    ))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
                            safety_checker=None, feature_extractor=None,
                            requires_safety_checker=False).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_sd_64_dir(tmp_path_factory) -> Path:
    """A user's tiny SD folder at 64 px, whose h (64 x 16 x 16 = 16384 values) is read pooled."""
    return save_tiny_sd(tmp_path_factory.mktemp("byom") / "tiny-sd-64", sample_size=32)


@pytest.fixture(scope="session")
def tiny_model_64(tiny_sd_64_dir):
    from edits.pipeline import load_diffusion

    return load_diffusion(tiny_sd_64_dir, device="cpu")


@pytest.fixture(scope="session")
def tiny_pipeline_dir(tmp_path_factory) -> Path:
    from diffusers import StableDiffusionPipeline

    tmp = tmp_path_factory.mktemp("tiny_sd")
    StableDiffusionPipeline(**get_dummy_components(tmp)).save_pretrained(tmp / "pipe")
    return tmp / "pipe"


@pytest.fixture(scope="session")
def tiny_model(tiny_pipeline_dir):
    from edits.pipeline import load_diffusion

    return load_diffusion(tiny_pipeline_dir, device="cpu")


@pytest.fixture(scope="session")
def app_client():
    """The real app (embedded models), launched in-process, reached through gradio_client."""
    if not (EMBEDDED / "model_index.json").exists():
        pytest.skip("the embedded model is not in assets/ yet")
    from gradio_client import Client

    import app
    import demo

    blocks = app.create_app([])
    blocks.launch(prevent_thread_lock=True, quiet=True, server_port=None, **demo.launch_kwargs())
    try:
        yield Client(blocks.local_url, verbose=False)
    finally:
        blocks.close()


TINY_GAN = dict(z_dim=16, w_dim=16, n_mlp=2, resolution=16, img_channels=3, channels={4: 16, 8: 8, 16: 8})


@pytest.fixture(scope="session")
def tiny_gan(tmp_path_factory):
    """A tiny random StyleGAN writing 16x16 pixels, with a random encoder, saved and loaded through the real loader."""
    from safetensors.torch import save_file

    from nets.stylegan import Generator, StyleGANConfig, save_generator
    from edits.wspace import load_gan
    from nets.encoder import Encoder

    torch.manual_seed(0)
    g = Generator(StyleGANConfig(**TINY_GAN))
    with torch.no_grad():
        g.w_avg.copy_(g.mean_latent(512))
    folder = save_generator(g, tmp_path_factory.mktemp("gan") / "tiny", dtype=torch.float32,
                            extra={"encoder": "encoder.safetensors"})
    save_file(Encoder(g.cfg).state_dict(), str(folder / "encoder.safetensors"))
    return load_gan(folder)


def random_w_directions(w_dim: int, seed: int = 0) -> dict:
    """Unit random W directions for a few colours and shapes (for UI tests)."""
    from edits.directions import Direction

    g = torch.Generator().manual_seed(seed)
    out = {}
    for attribute, classes in (("colour", ("blue", "red")), ("shape", ("star", "circle"))):
        for c in classes:
            v = torch.nn.functional.normalize(torch.randn(1, w_dim, generator=g), dim=1)
            out[f"{attribute}: {c}"] = Direction(v, torch.ones(1), torch.zeros(1), {
                "space": "w", "attribute": attribute, "class": c, "timesteps": [0]})
    return out


def random_s_directions(gan, seed: int = 0, channels: int = 8) -> dict:
    """StyleSpace directions moving a few random style channels for two colours (for UI tests)."""
    from edits.directions import Direction
    from edits.stylespace import style_dims

    g = torch.Generator().manual_seed(seed)
    out = {}
    for c in ("blue", "red"):
        v = torch.zeros(1, style_dims(gan.generator))
        v[0, torch.randperm(v.shape[1], generator=g)[:channels]] = torch.randn(channels, generator=g)
        out[f"colour: {c}"] = Direction(v, torch.ones(1), torch.zeros(1), {
            "space": "s", "attribute": "colour", "class": c, "timesteps": [0]})
    return out


def random_h_directions(model, classes=(("colour", ("blue", "red")),), seed: int = 0) -> dict:
    """Unit random h-space directions, one per denoising step, with random readouts (for UI tests)."""
    from edits.directions import Direction
    from edits.hspace import h_shape, sample

    ts = sample(model, "a circle", 0, decode=False).timesteps
    g = torch.Generator().manual_seed(seed)
    out = {}
    for attribute, names in classes:
        for c in names:
            v = torch.randn((len(ts), *h_shape(model)), generator=g)
            v = v / v.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
            out[f"{attribute}: {c}"] = Direction(v, torch.ones(len(ts)), torch.zeros(len(ts)),
                                                 {"space": "h", "attribute": attribute, "class": c, "timesteps": ts},
                                                 torch.randn(v.shape, generator=g), torch.zeros(len(ts)))
    return out


@pytest.fixture(scope="session")
def tiny_full_app(tiny_model, tiny_gan):
    """Every tab, built around the tiny random diffusion pipeline and StyleGAN, through gradio_client."""
    from gradio_client import Client

    import demo

    models = demo.Models(diffusion=tiny_model, gan=tiny_gan, w_directions=random_w_directions(tiny_gan.w_dim),
                         s_directions=random_s_directions(tiny_gan),
                         h_directions=random_h_directions(tiny_model, (("colour", ("blue", "red")),
                                                                       ("shape", ("star",)))))
    blocks = demo.build(models)
    blocks.launch(prevent_thread_lock=True, quiet=True, **demo.launch_kwargs())
    try:
        yield Client(blocks.local_url, verbose=False)
    finally:
        blocks.close()


def names_in_code(module) -> set[str]:
    """Every name, attribute, imported name, keyword, string constant and constant subscript key that a module's
    code uses (for the tests that check a training module never names a label)."""
    import ast
    import inspect

    used = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.alias):
            used.add(node.name)
        elif isinstance(node, ast.keyword) and node.arg:
            used.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            used.add(node.value)
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            used.add(str(node.slice.value))
    return used

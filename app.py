"""Imagination & Potentiality: a Gradio demo of conditioning vs. disentanglement.

    python app.py                                          # embedded toy-world models, no network
    python app.py --diffusion-model stabilityai/sd-turbo   # any SD-family pipeline (Hub id or folder)
    python app.py --gan my-stylegan/                       # a StyleGAN2 converted by `python -m edits.convert`

Settings can also come from environment variables (listed below; all read in toyworld/settings.py).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from edits.pipeline import ModelLoadError, load_diffusion, load_hspace_diffusion
from toyworld.settings import DIRECTIONS, ENV_KNOBS, MAX_STEPS


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="environment variables:\n" + ENV_KNOBS)
    p.add_argument("--diffusion-model", default=os.environ.get("DIFFUSION_MODEL"),
                   help="Hub id or local folder of an SD-family pipeline (default: the embedded toy model)")
    p.add_argument("--hspace-model", default=os.environ.get("HSPACE_MODEL"),
                   help="Hub id or folder of the pipeline whose h-space the edits move (default: the "
                        "--diffusion-model itself, so that an unedited h-space image is the Imagination image)")
    p.add_argument("--h-directions", default=os.environ.get("H_DIRECTIONS"),
                   help="folder of h-space directions fitted for the --hspace-model (python -m edits.fit hspace --out); "
                        "default: the shipped ones for the embedded model, else the pipeline folder's directions/")
    p.add_argument("--gan", "--gan-model", dest="gan", default=os.environ.get("STYLEGAN_MODEL"),
                   help="folder of a StyleGAN generator for the W-space tab (default: the embedded toy one; "
                        "official NVlabs .pkl files: convert them first with `python -m edits.convert stylegan`)")
    p.add_argument("--steps", type=int, default=os.environ.get("DIFFUSION_STEPS"),
                   help="default denoising steps of the diffusion models, in every tab and fit (default: 12 for the "
                        "embedded model, the steps benchmark's choice; 25 for others; 4 for a *turbo* model); fewer "
                        "keep a large model responsive on a CPU")
    p.add_argument("--device", default=os.environ.get("DEVICE"), help="cuda, cpu, ... (default: automatic)")
    p.add_argument("--server-name", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    args = p.parse_args(argv)
    if args.steps is not None and not 1 <= int(args.steps) <= MAX_STEPS:
        p.error(f"--steps must be between 1 and {MAX_STEPS}")
    return args



def h_directions_folder(args: argparse.Namespace, h_model) -> Path | None:
    """Where the h-space model's directions are: --h-directions, else the shipped ones for the embedded model (fitted
    on it), else a local pipeline folder's own directions/ (`python -m edits.fit hspace --model FOLDER` writes there)."""
    if args.h_directions:
        if not Path(args.h_directions).is_dir():
            raise ModelLoadError(f"There is no folder {args.h_directions!r} of h-space directions (--h-directions).")
        return Path(args.h_directions)
    if h_model.is_embedded:
        return DIRECTIONS if DIRECTIONS.is_dir() else None
    own = Path(h_model.name) / "directions"
    return own if Path(h_model.name).is_dir() and own.is_dir() else None


def load_directions_for(folder: Path | None, space: str, shape_of) -> dict:
    """The directions of one space in `folder`, each checked against its model (`shape_of(skip_levels)`): a file
    that is unreadable or fitted on another model stops the start with a sentence naming it."""
    from edits.directions import DirectionError, load_directions

    if folder is None:
        return {}
    try:
        dirs = load_directions(folder, space=space)
        for d in dirs.values():
            d.check_compatible(shape_of(int(d.meta.get("skip_levels", 0) or 0)))
    except DirectionError as e:
        raise ModelLoadError(f"The {space}-space directions in {folder} cannot be used: {e}") from None
    return dirs


def load_models(args: argparse.Namespace):
    from demo import Models
    from edits.hspace import h_shape

    diffusion = load_diffusion(args.diffusion_model, device=args.device)
    h_model = load_hspace_diffusion(args.hspace_model, diffusion, device=args.device)
    for model in {id(m): m for m in (diffusion, h_model)}.values():
        model.default_steps = int(args.steps) if args.steps is not None else model.default_steps
    h_dirs = load_directions_for(h_directions_folder(args, h_model), "h", lambda k: h_shape(h_model, k))
    gan, w_dirs, s_dirs = None, {}, {}
    try:
        from edits.stylespace import style_dims
        from edits.wspace import directions_folder, load_gan

        gan = load_gan(args.gan)
        if directions_folder(gan.folder).is_dir():  # each generator folder ships its own W (and S) directions
            w_dirs = load_directions_for(directions_folder(gan.folder), "w", lambda k: (gan.w_dim,))
            s_dirs = load_directions_for(directions_folder(gan.folder), "s", lambda k: (style_dims(gan.generator),))
    except ModelLoadError as e:
        if args.gan is not None:
            raise
        logging.getLogger("app").warning("W-space tab disabled: %s", e)
    return Models(diffusion=diffusion, h_directions=h_dirs, gan=gan, w_directions=w_dirs, s_directions=s_dirs,
                  h_diffusion=None if h_model is diffusion else h_model)


def create_app(argv=None):
    """Load the models and build the Blocks (tests call this and launch it in-process)."""
    import demo

    return demo.build(load_models(parse_args(argv)))


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    from demo.sharing import limit_heap_arenas

    limit_heap_arenas()  # before any model or server thread
    try:
        models = load_models(args)
    except ModelLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    import demo

    demo.build(models).launch(server_name=args.server_name, server_port=args.port, share=args.share,
                              **demo.launch_kwargs())


if __name__ == "__main__":
    main()

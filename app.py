"""Imagination & Potentiality: a Gradio demo of conditioning vs. disentanglement.

    python app.py                                          # embedded toy-world models, no network
    python app.py --diffusion-model stabilityai/sd-turbo   # any SD-family pipeline (Hub id or folder)

Settings can also come from environment variables (listed below; all read in toyworld/settings.py).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from edits.pipeline import ModelLoadError, load_diffusion, load_hspace_diffusion
from toyworld.settings import DIRECTIONS, ENV_KNOBS


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="environment variables:\n" + ENV_KNOBS)
    p.add_argument("--diffusion-model", default=os.environ.get("DIFFUSION_MODEL"),
                   help="Hub id or local folder of an SD-family pipeline (default: the embedded toy model)")
    p.add_argument("--hspace-model", default=os.environ.get("HSPACE_MODEL"),
                   help="Hub id or folder of the pipeline whose h-space the edits move (default: the "
                        "--diffusion-model itself, so that an unedited h-space image is the Imagination image)")
    p.add_argument("--gan", "--gan-model", dest="gan", default=os.environ.get("STYLEGAN_MODEL"),
                   help="folder of a StyleGAN generator for the W-space tab (default: the embedded toy one; "
                        "official NVlabs .pkl files: convert them first with `python -m edits.convert stylegan`)")
    p.add_argument("--device", default=os.environ.get("DEVICE"), help="cuda, cpu, ... (default: automatic)")
    p.add_argument("--server-name", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    return p.parse_args(argv)



def load_models(args: argparse.Namespace):
    from demo import Models
    from edits.directions import load_directions

    diffusion = load_diffusion(args.diffusion_model, device=args.device)
    h_model = load_hspace_diffusion(args.hspace_model, diffusion, device=args.device)
    # The shipped h-space directions were fitted on the embedded model; other models fit their own.
    h_dirs = load_directions(DIRECTIONS, space="h") if h_model.is_embedded and DIRECTIONS.is_dir() else {}
    gan, w_dirs = None, {}
    try:
        from edits.wspace import directions_folder, load_gan

        gan = load_gan(args.gan)
        if directions_folder(gan.folder).is_dir():  # each generator folder ships its own W directions
            w_dirs = load_directions(directions_folder(gan.folder), space="w")
    except ModelLoadError as e:
        if args.gan is not None:
            raise
        logging.getLogger("app").warning("W-space tab disabled: %s", e)
    return Models(diffusion=diffusion, h_directions=h_dirs, gan=gan, w_directions=w_dirs,
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

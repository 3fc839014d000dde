"""Drive a running Imagination & Potentiality app (local or a Hugging Face Space) from a script.

    python app.py &                                            # or a Space: owner/space-name
    python workshop/client.py http://127.0.0.1:7860/ --out client_out
    python workshop/client.py owner/space-name --seed 7 --target blue

Every tab has a named endpoint (README, "Use it from a script"); this script calls a few of them with
`gradio_client` and copies the returned images into --out. A tab the server does not offer (e.g. no
StyleGAN) is reported and skipped.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

BASE = dict(size="large", colour="red", shape="circle", background="white")


def _save(result, out: Path, stem: str) -> list[str]:
    """Copy every file path in an endpoint's result into `out`; returns the text parts."""
    parts = result if isinstance(result, (list, tuple)) else [result]
    texts = []
    for i, p in enumerate(parts):
        path = p.get("path") if isinstance(p, dict) else p
        if isinstance(path, str) and Path(path).is_file():
            shutil.copy(path, out / f"{stem}_{i}{Path(path).suffix or '.png'}")
        elif p is not None:
            texts.append(str(p))
    return texts


def run(client, out: Path, seed: int = 7, target: str = "blue", steps: int = 12) -> dict[str, str]:
    """Call generate, edit_h, edit_w and compare on one seed; returns {endpoint: 'ok' or the error}."""
    out.mkdir(parents=True, exist_ok=True)
    prompt = f"a {BASE['size']} {BASE['colour']} {BASE['shape']} on a {BASE['background']} background"
    calls = {
        "generate": ((prompt, "", seed, steps, 5.0), "imagination"),
        # the same steps, guidance and negative prompt as /generate (the endpoints' last arguments)
        "edit_h": ((f"a {BASE['size']} {BASE['shape']} on a {BASE['background']} background", seed, "colour",
                    target, 1.0, 0.2, 0.8, "asymmetric", "recurrent", steps, 5.0, ""), "hspace"),
        "edit_w": ((seed, 1.0, "colour", target, 1.0), "wspace"),
        "compare": ((seed, *BASE.values(), "", "colour", target, steps, 5.0, ""), "compare"),
    }
    status = {}
    for name, (args, stem) in calls.items():
        try:
            texts = _save(client.predict(*args, api_name=f"/{name}"), out, stem)
            status[name] = "ok" + (f" ({'; '.join(t[:80] for t in texts)})" if texts else "")
        except Exception as e:  # a missing tab, a model error: report it, carry on
            status[name] = f"{type(e).__name__}: {str(e)[:200]}"
    return status


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("url", nargs="?", default="http://127.0.0.1:7860/", help="app URL or Space id (owner/name)")
    p.add_argument("--out", default="client_out", help="folder for the images")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--target", default="blue", help="the colour to edit towards")
    p.add_argument("--steps", type=int, default=12, help="denoising steps for /generate, /edit_h and /compare "
                                                          "(12: the embedded model's default)")
    p.add_argument("--token", default=None, help="a Hugging Face token, for a private Space")
    a = p.parse_args(argv)
    from gradio_client import Client

    client = Client(a.url, token=a.token, verbose=False) if a.token else Client(a.url, verbose=False)
    status = run(client, Path(a.out), a.seed, a.target, a.steps)
    for name, s in status.items():
        print(f"/{name}: {s}")
    print(f"images in {a.out}/")
    return 0 if all(s.startswith("ok") for s in status.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

"""ZeroGPU: mark the functions that run a model, so that a Hugging Face Space on ZeroGPU hardware lends them
a GPU for the call; anywhere else they are returned unchanged.

    from .zerogpu import gpu

    @gpu(60)                      # seconds the call may hold the GPU (ZeroGPU's default is 60;
    def generate(...): ...        # shorter requests are scheduled first)

When the `spaces` package is importable (it is installed on Spaces), `gpu(d)` is `spaces.GPU(duration=d)`,
which is itself a no-op outside ZeroGPU hardware. Without `spaces` (a laptop, CI, a notebook), the function
is returned as it is: same object, same behaviour.

Mark only entry points (what the UI or a script calls once per request), not what they call: a marked
function then holds the GPU for the whole request, once.
"""
from __future__ import annotations

from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)

# Durations, in seconds (generous for the embedded models on a GPU; a large Hub model may need more).
GENERATE = 60  # one image
BATCH = 120  # a batch of images, a walk, a traversal in h-space
W_EDIT = 30  # StyleGAN edits: a few synthesis passes
FIT = 240  # sampling and labelling hundreds of images to fit directions (ZeroGPU allows a few minutes)


def gpu(duration: int = GENERATE) -> Callable[[F], F]:
    """A decorator: `spaces.GPU(duration=duration)` when `spaces` is importable, else the identity."""
    try:
        import spaces
    except ImportError:
        return lambda fn: fn
    return spaces.GPU(duration=int(duration))


__all__ = ["gpu", "GENERATE", "BATCH", "W_EDIT", "FIT"]

"""Sharing one CPU fairly between visitors: queues, and a per-session limit on jobs waiting.

Three queues (Gradio concurrency ids): "model" for the diffusion images a visitor waits for (one at a
time), "gan" for the W-space sliders (milliseconds each, several at once, never behind a diffusion
image), "long" for fits, many-seed comparisons and walks (one at a time, so that they never hold the
"model" queue; they share the models' fair locks batch by batch). Gradio limits the whole queue
(QUEUE_MAX_SIZE) but not one visitor's share of it; `limit_per_session` turns a visitor's request away,
in one sentence, when they already have MAX_SESSION_JOBS jobs waiting or running (MAX_SESSION_LONG_JOBS
long ones), before it takes a place in the queue.
"""
from __future__ import annotations

import asyncio
import logging
import time

import gradio as gr

from toyworld.settings import MAX_SESSION_JOBS, MAX_SESSION_LONG_JOBS, MEMORY_TRIM_S, QUEUE_MAX_SIZE, W_CONCURRENCY

MODEL, GAN, LONG = "model", "gan", "long"
CONCURRENCY = {MODEL: 1, GAN: W_CONCURRENCY, LONG: 1}

log = logging.getLogger("demo")


def too_many(kinds: list[str | None], new_kind: str | None, max_jobs: int = MAX_SESSION_JOBS,
             max_long: int = MAX_SESSION_LONG_JOBS) -> str | None:
    """Why a visitor with jobs of `kinds` pending may not add one of `new_kind`, or None."""
    if new_kind == LONG and sum(k == LONG for k in kinds) >= max_long:
        return (f"You already have {max_long} long job{'s' * (max_long > 1)} (a fit, a comparison over many "
                "seeds or a walk) waiting or running; please wait for it to finish.")
    if len(kinds) >= max_jobs:
        return f"You already have {max_jobs} requests waiting or running; please wait for them to finish."
    return None


def limit_per_session(blocks: gr.Blocks) -> None:
    """Wrap the queue's entry (`Queue.push`, where Gradio checks its own max_size) with the per-session
    limits. Pushes are serialised by one asyncio lock, so that a burst cannot slip past the count."""
    queue = blocks._queue
    push, lock = queue.push, asyncio.Lock()

    def pending_kinds(session_hash: str) -> list[str | None]:
        ids = queue.pending_event_ids_session.get(session_hash, ())
        events = [queue.event_ids_to_events.get(i) for i in list(ids)]
        return [getattr(getattr(e, "fn", None), "concurrency_id", None) for e in events]

    async def fair_push(body, request, username):
        session = getattr(body, "session_hash", None)
        if session is None:
            return await push(body, request, username)
        async with lock:
            try:
                fn = blocks.fns[body.fn_index]
                why = too_many(pending_kinds(session), fn.concurrency_id)
            except Exception:  # an unknown fn_index: Gradio's own push answers it
                why = None
            if why is not None:
                log.info("turned away a request of session %s…: %s", session[:6], why)
                return False, [{"__type__": "validate", "is_valid": False, "message": why,
                                "parameter_name": "request"}], "validator_error"
            return await push(body, request, username)

    queue.push = fair_push


def _trim_memory_every(seconds: float) -> None:
    """Hand freed heap pages back to the system now and then (glibc keeps them, per thread arena, after
    the batches of a fit or a walk: the resident size then grows with use although nothing leaks)."""
    import ctypes
    import ctypes.util
    import threading

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim = libc.malloc_trim if libc is not None else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return

    def loop():
        while True:
            time.sleep(seconds)
            trim(0)

    threading.Thread(target=loop, name="malloc-trim", daemon=True).start()


def setup_queue(blocks: gr.Blocks) -> gr.Blocks:
    blocks.queue(default_concurrency_limit=1, max_size=QUEUE_MAX_SIZE)
    limit_per_session(blocks)
    if MEMORY_TRIM_S > 0 and not getattr(setup_queue, "trimming", False):
        setup_queue.trimming = True  # one trimmer per process, however many apps are built
        _trim_memory_every(MEMORY_TRIM_S)
    return blocks

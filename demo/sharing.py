"""Sharing one CPU fairly between visitors: queues, and a per-session limit on jobs waiting.

Four queues (Gradio concurrency ids): "batched" for /generate (up to two batches of MAX_BATCH_SIZE at once, one
being drawn while the next gathers; drawn together in shared batches by edits.batching), "model" for the other
diffusion images a visitor waits for (h-space edits, comparisons: one at a time), "gan" for the W-space sliders
(milliseconds each, several at once, never behind a diffusion image), "long" for fits, many-seed comparisons and
walks (one at a time, so that they never hold the "model" queue; they share the models' fair locks batch by batch).
Gradio limits the whole queue (QUEUE_MAX_SIZE) but not one visitor's share of it; `limit_per_session` turns a
visitor's request away, in one sentence, before it takes a place in the queue, when they already have
MAX_SESSION_JOBS diffusion images ("batched" and "model" together), MAX_SESSION_LONG_JOBS long jobs or
W_CONCURRENCY W edits waiting or running. Another visitor's /generate then waits for at most MAX_SESSION_JOBS
images per visitor ahead of it, and one batch of a long job.
"""
from __future__ import annotations

import asyncio
import logging
import time

import gradio as gr

from toyworld.settings import (CACHE_SWEEP_S, MALLOC_ARENAS, MAX_SESSION_JOBS, MAX_SESSION_LONG_JOBS, MEMORY_TRIM_S,
                               MAX_BATCH_SIZE, QUEUE_MAX_SIZE, SESSION_TTL_S, W_CONCURRENCY)

from .common import sweep_session_files

MODEL, GAN, LONG = "model", "gan", "long"
BATCHED = "batched"  # /generate: drawn in shared batches (edits.batching)
# the batched queue lets in two batches: while one is drawn the next gathers (with one batch's worth, a burst is
# drawn as 1, 7, 1, 7, ...: the slot of a finished picture frees while the next batch is already being drawn)
CONCURRENCY = {MODEL: 1, GAN: W_CONCURRENCY, LONG: 1, BATCHED: 2 * MAX_BATCH_SIZE}
IMAGES = (MODEL, BATCHED)  # the diffusion images a visitor waits for: one allowance (MAX_SESSION_JOBS)

log = logging.getLogger("demo")


def too_many(kinds: list[str | None], new_kind: str | None, max_jobs: int = MAX_SESSION_JOBS,
             max_long: int = MAX_SESSION_LONG_JOBS, max_other: int = W_CONCURRENCY) -> str | None:
    """Why a visitor with jobs of `kinds` (concurrency ids) waiting or running may not add one of
    `new_kind`, or None. Each queue has its own allowance, so that the W sliders stay live while an
    image is being made, and one visitor never holds more than `max_jobs` places in the diffusion queue."""
    held = sum(k in IMAGES if new_kind in IMAGES else k == new_kind for k in kinds)
    if new_kind == LONG and held >= max_long:
        return (f"You already have {max_long} long job{'s' * (max_long > 1)} (a fit, a comparison over many "
                "seeds or a walk) waiting or running; please wait for it to finish.")
    if new_kind in IMAGES and held >= max_jobs:
        return (f"You already have {max_jobs} image{'s' * (max_jobs > 1)} waiting or being made; please wait "
                "for them to finish.")
    if new_kind not in (LONG, *IMAGES) and held >= max_other:
        return f"You already have {max_other} requests of this kind waiting or running; please wait for them."
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


def _malloc_trim():
    """glibc's malloc_trim (hands freed heap pages back to the system), or None elsewhere."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def limit_heap_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Call before the models load and the server's threads start: glibc gives every thread that meets a
    busy heap an arena of its own (up to 8 per core) and rarely hands their freed pages back; Gradio runs
    each request on one of 40 threads, so the resident size creeps with use. A few arenas keep it flat."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if arenas <= 0 or not name:
        return
    try:
        ctypes.CDLL(name).mallopt(-8, int(arenas))  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def _every(seconds: float, fn, name: str) -> None:
    import threading

    def loop():
        while True:
            time.sleep(seconds)
            try:
                fn()
            except Exception:  # housekeeping never takes the server down
                log.exception("%s failed", name)

    threading.Thread(target=loop, name=name, daemon=True).start()


def start_housekeeping() -> None:
    """Once per process: every CACHE_SWEEP_S, remove session folders unused for SESSION_TTL_S (Gradio
    removes them when a session ends or its State expires, but not when it evicts a session for room);
    every MEMORY_TRIM_S, hand freed heap back to the system (glibc keeps it, per thread arena, after the
    batches of a fit or a walk: the resident size then grows with use although nothing leaks)."""
    if getattr(start_housekeeping, "started", False):
        return
    start_housekeeping.started = True
    _every(CACHE_SWEEP_S, lambda: sweep_session_files(SESSION_TTL_S), "session-sweep")
    trim = _malloc_trim()
    if MEMORY_TRIM_S > 0 and trim is not None:
        _every(MEMORY_TRIM_S, lambda: trim(0), "malloc-trim")


def setup_queue(blocks: gr.Blocks) -> gr.Blocks:
    blocks.queue(default_concurrency_limit=1, max_size=QUEUE_MAX_SIZE)
    limit_per_session(blocks)
    start_housekeeping()
    return blocks

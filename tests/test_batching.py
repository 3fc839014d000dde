"""Concurrent /generate requests drawn in shared batches (edits.batching): each caller gets its own picture."""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from edits.batching import Batcher
from edits.metrics import same_picture
from edits.pipeline import InputError


def _spy(model, monkeypatch):
    """Record the size of each batch drawn; the drawing thread is held until `go` is set, so that the
    requests of the test are all waiting when the first batch is taken."""
    sizes, go, real = [], threading.Event(), model.generate_batch

    def generate_batch(prompts, seeds, **kw):
        sizes.append(len(prompts))  # taken: drawn once `go` is set
        go.wait(30)
        return real(prompts, seeds, **kw)

    monkeypatch.setattr(model, "generate_batch", generate_batch)
    return sizes, go


def _all_arrived(batcher, sizes, n: int) -> None:
    """Until every request is either waiting or in the batch held at `go` (a condition, not a sleep)."""
    while len(batcher._waiting) + sum(sizes) < n:
        threading.Event().wait(0.01)


def test_concurrent_callers_share_a_batch_and_get_their_own_pictures(tiny_model, monkeypatch):
    requests = [(f"a {c} circle", "", 40 + i, 3, 5.0) for i, c in enumerate(["red", "blue", "green", "pink", "red"])]
    requests[2] = ("a square", "a blue square", 42, 3, 5.0)  # a negative prompt, in the same batch
    alone = [np.asarray(tiny_model.generate(*r)) for r in requests]
    batcher = Batcher(tiny_model, max_batch_size=8)
    sizes, go = _spy(tiny_model, monkeypatch)
    with ThreadPoolExecutor(len(requests)) as pool:
        futures = [pool.submit(batcher.generate, *r) for r in requests]
        _all_arrived(batcher, sizes, len(requests))
        go.set()
        got = [np.asarray(f.result(60)) for f in futures]
    assert sum(sizes) == len(requests) and max(sizes) > 1  # drawn together, not one by one
    for i, (g, a) in enumerate(zip(got, alone)):
        assert same_picture(g, a), f"request {i}"
    assert not same_picture(got[0], got[1])


def test_a_bad_request_is_refused_alone_and_settings_are_never_mixed(tiny_model, monkeypatch):
    batcher = Batcher(tiny_model, max_batch_size=2)
    sizes, go = _spy(tiny_model, monkeypatch)
    with pytest.raises(InputError, match="seed"):
        batcher.generate("a circle", "", -1, 3, 5.0)  # refused before it waits: nobody else is affected
    requests = [("a circle", "", 1, 3, 5.0), ("a circle", "", 2, 2, 5.0), ("a star", "", 3, 3, 5.0),
                ("a star", "", 4, 3, 5.0), ("a square", "", 5, 2, 5.0)]
    with ThreadPoolExecutor(len(requests)) as pool:
        futures = [pool.submit(batcher.generate, *r) for r in requests]
        _all_arrived(batcher, sizes, len(requests))
        go.set()
        got = [np.asarray(f.result(60)) for f in futures]
    assert max(sizes) <= 2 and sum(sizes) == len(requests)
    for r, g in zip(requests, got):
        assert same_picture(g, np.asarray(tiny_model.generate(*r)))


def test_requests_sent_a_few_milliseconds_apart_are_gathered_into_one_batch(tiny_model, monkeypatch):
    """A room pressing "Generate" together: the drawing thread waits (gather_s) after the first request for the
    others, instead of drawing the first alone and the rest after it. A lone request is drawn alone."""
    sizes, real = [], tiny_model.generate_batch

    def generate_batch(prompts, seeds, **kw):
        sizes.append(len(prompts))
        return real(prompts, seeds, **kw)

    monkeypatch.setattr(tiny_model, "generate_batch", generate_batch)
    batcher = Batcher(tiny_model, max_batch_size=4, gather_s=5.0)  # a full batch ends the wait at once
    with ThreadPoolExecutor(4) as pool:
        futures = []
        for i in range(4):
            futures.append(pool.submit(batcher.generate, "a circle", "", 10 + i, 2, 5.0))
            threading.Event().wait(0.02)
        for f in futures:
            f.result(60)
    assert sizes == [4]
    lone = Batcher(tiny_model, max_batch_size=4, gather_s=0.05)
    lone.generate("a star", "", 3, 2, 5.0)  # not a full batch: drawn once the short wait is over
    assert sizes == [4, 1]

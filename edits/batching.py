"""Pictures that several callers ask for at once, drawn in shared batches.

    batcher = Batcher(model)                      # one per loaded DiffusionModel (model.batcher)
    image = batcher.generate(prompt, negative_prompt, seed, num_inference_steps, guidance_scale)

Each caller (a server request, in its own thread) checks its own arguments, so a bad request is refused alone,
then waits for its picture. One drawing thread takes every request waiting at that moment that shares the
first one's steps and guidance scale (up to `max_batch_size`), draws them in one `generate_batch` under the
model's lock, and hands each caller its own picture: image i is drawn from request i's own seed, so batching
never swaps or mixes pictures. On a CPU a batch of 8 costs far less than 8 single pictures (`python -m
benchmarks speed` measures it). A batch and a single call give the same picture as edits.metrics.same_picture
defines it (a few values may round 1 level apart).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass

from PIL import Image

from toyworld.settings import BATCH_GATHER_MS, MAX_BATCH_SIZE

from .pipeline import to_uint8, worker_threads

log = logging.getLogger("batching")


@dataclass
class _Request:
    args: dict  # DiffusionModel.check's output
    future: Future

    @property
    def key(self) -> tuple:
        return self.args["num_inference_steps"], self.args["guidance_scale"]


class Batcher:
    def __init__(self, model, max_batch_size: int = MAX_BATCH_SIZE, gather_s: float = BATCH_GATHER_MS / 1000):
        self.model, self.max_batch_size, self.gather_s = model, max_batch_size, max(0.0, gather_s)
        self._waiting: deque[_Request] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def generate(self, prompt: str = "", negative_prompt: str = "", seed: int = 0,
                 num_inference_steps: int | None = None, guidance_scale: float | None = None) -> Image.Image:
        """The same arguments and picture as DiffusionModel.generate; blocks until the picture is drawn."""
        m = self.model
        args = m.check(prompt, negative_prompt, seed,
                       m.default_steps if num_inference_steps is None else num_inference_steps,
                       m.default_guidance if guidance_scale is None else guidance_scale)
        request = _Request(args, Future())
        with self._cond:
            self._waiting.append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._draw_forever, name="batcher", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return request.future.result()

    def _take(self) -> list[_Request]:
        """The oldest request and every other waiting one with its steps and guidance, up to a batch. After the
        first request the thread waits up to `gather_s` for a full batch: requests sent together (a room pressing
        "Generate") reach the server a few milliseconds apart, and would otherwise be drawn as 1 + the rest."""
        with self._cond:
            self._cond.wait_for(lambda: self._waiting)
            if len(self._waiting) < self.max_batch_size and self.gather_s > 0:
                self._cond.wait_for(lambda: len(self._waiting) >= self.max_batch_size, timeout=self.gather_s)
            first = self._waiting.popleft()
            batch, rest = [first], deque()
            while self._waiting:
                r = self._waiting.popleft()
                (batch if r.key == first.key and len(batch) < self.max_batch_size else rest).append(r)
            self._waiting.extendleft(reversed(rest))  # the others keep their places
            return batch

    def _draw_forever(self) -> None:
        worker_threads()
        while True:
            batch = self._take()
            try:
                a, t0 = batch[0].args, time.perf_counter()
                images = self.model.generate_batch(
                    [r.args["prompt"] for r in batch], [r.args["seed"] for r in batch],
                    num_inference_steps=a["num_inference_steps"], guidance_scale=a["guidance_scale"],
                    negative_prompts=[r.args["negative_prompt"] for r in batch])
                log.debug("drew a batch of %d in %.2f s", len(batch), time.perf_counter() - t0)
                for r, image in zip(batch, images):
                    r.future.set_result(Image.fromarray(to_uint8(image)))
            except BaseException as e:  # every caller of the batch hears of it; the thread goes on
                for r in batch:
                    if not r.future.done():
                        r.future.set_exception(e)

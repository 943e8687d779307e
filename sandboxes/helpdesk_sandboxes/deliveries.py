"""The sandboxes' webhook delivery queue: items due at a moment, delivered in order on one background
thread (started by the first `schedule`), retried by the caller's `deliver` through `schedule`.
`reset()` starts a new generation: queued items are dropped and an item in flight must not retry or
count (`current(generation)` says so). `cond` wraps a reentrant lock."""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("sandbox.deliveries")


class DeliveryQueue:
    def __init__(self, deliver: Callable[[object, int, int], None], name: str):
        self.deliver = deliver  # (item, attempt, generation); may schedule a retry
        self.name = name
        self.cond = threading.Condition()
        self.queue: list = []
        self.seq = itertools.count()
        self.thread: threading.Thread | None = None
        self.stopping = False
        self.generation = 0

    def reset(self) -> None:
        with self.cond:
            self.generation += 1
            self.queue.clear()

    def current(self, generation: int) -> bool:
        with self.cond:
            return generation == self.generation

    def schedule(self, delay: float, item, attempt: int = 0, generation: int | None = None) -> None:
        """Deliver `item` in `delay` seconds; a retry of an older generation is dropped."""
        with self.cond:
            if generation is not None and generation != self.generation:
                return
            heapq.heappush(self.queue, (time.monotonic() + delay, next(self.seq), item, attempt, self.generation))
            self.cond.notify()
        self.start()

    def start(self) -> None:
        with self.cond:
            if self.thread is None:
                self.stopping = False
                self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self.thread.start()

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.stopping and (not self.queue or self.queue[0][0] > time.monotonic()):
                    self.cond.wait(timeout=(self.queue[0][0] - time.monotonic()) if self.queue else None)
                if self.stopping:
                    self.thread = None
                    return
                _, _, item, attempt, generation = heapq.heappop(self.queue)
            try:
                self.deliver(item, attempt, generation)
            except Exception:  # one broken delivery must not stop the thread
                log.exception("webhook delivery crashed")

"""The writes a request leaves for its end, sent in one round trip just before its response.

A unified list page saves its traversal's next state, and every request of an account appends to the
account's log (`account_logs.record`): both are writes whose answers the response does not need, so
they share one pipeline instead of a round trip each (bench figure 3). The response is held until they
are sent, so a client's next request finds them, and a failure to send them is the request's failure.
"""
from __future__ import annotations


class Writes:
    def __init__(self, r):
        self.r = r
        self._pipe = None

    @property
    def pipe(self):
        """The pipeline to queue writes into (not a transaction: the writes are independent)."""
        if self._pipe is None:
            self._pipe = self.r.pipeline(transaction=False)
        return self._pipe

    @property
    def queued(self) -> int:
        """How many writes wait to be sent."""
        return len(self._pipe) if self._pipe is not None else 0

    def send(self) -> None:
        """Send what was queued (nothing to send: no round trip). Raises redis' errors."""
        pipe, self._pipe = self._pipe, None
        if pipe is not None and len(pipe):
            pipe.execute()

"""Test and benchmark knobs (rate limit, latency, faults, webhook retries) and call statistics.

The token bucket is shared with the LiveChat sandbox; the answer when it is empty is Rocket.Chat's
(see `app.py`).
"""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from ..knobs import CheckedSettings, Counting, common_rules, number

FAULT_KINDS = ("internal", "timeout")

__all__ = ["FAULT_KINDS", "Knobs", "Stats"]


@dataclass
class Knobs(CheckedSettings):
    rate_limit: float = 0.0  # requests per second per user; 0 turns the limit off
    rate_burst: int = 0  # bucket size; 0 means max(1, rate_limit)
    latency_ms: float = 0.0
    fault_rate: float = 0.0  # share of API calls that fail with an injected fault
    fault_kinds: list[str] = field(default_factory=lambda: list(FAULT_KINDS))
    timeout_seconds: float = 15.0  # how long an injected timeout waits before its 504
    # Omnichannel webhooks: the waits before each retry (Rocket.Chat: 10 attempts, 20 s apart) and the
    # time an attempt may take (Rocket.Chat's Livechat_http_timeout, 5 s)
    webhook_retry_delays: list[float] = field(default_factory=lambda: [20.0] * 9)
    webhook_timeout: float = 5.0
    # "enterprise" (a livechat-enterprise license: Omnichannel tags) or "community" (no tags routes)
    edition: str = "enterprise"


_COMMON_CHECKS, _COMMON_RULES = common_rules(FAULT_KINDS)
Knobs.checks = {
    **_COMMON_CHECKS, "webhook_timeout": lambda v: number(v, strict=True),
    "webhook_retry_delays": lambda v: isinstance(v, list) and all(number(d) for d in v),
    "edition": lambda v: v in ("enterprise", "community"),
}
Knobs.rules = {
    **_COMMON_RULES, "webhook_retry_delays": "must be an array of numbers >= 0",
    "webhook_timeout": "must be a number > 0", "edition": "must be enterprise or community",
}
WEBHOOK_COUNTS = ("queued", "attempts", "sent", "failed", "dropped")


@dataclass
class Stats(Counting):
    calls: Counter = field(default_factory=Counter)  # "GET /api/v1/livechat/rooms" -> n
    errors: Counter = field(default_factory=Counter)  # error kind -> n
    rate_limited: int = 0
    faults: Counter = field(default_factory=Counter)
    webhooks: Counter = field(default_factory=Counter)  # see WEBHOOK_COUNTS and webhooks.py
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def to_dict(self) -> dict:
        with self.lock:
            return {"calls": dict(self.calls), "total_calls": sum(self.calls.values()),
                    "errors": dict(self.errors), "rate_limited": self.rate_limited, "faults": dict(self.faults),
                    "webhooks": {k: self.webhooks[k] for k in WEBHOOK_COUNTS}}

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.errors.clear()
            self.faults.clear()
            self.webhooks.clear()
            self.rate_limited = 0

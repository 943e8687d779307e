"""Test and benchmark knobs (rate limit, latency, faults) and call statistics.

The token bucket is shared with the LiveChat sandbox; the answer when it is empty is Rocket.Chat's
(see `app.py`).
"""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from ..knobs import CheckedSettings, TokenBucket, common_rules, pick_fault

FAULT_KINDS = ("internal", "timeout")

__all__ = ["FAULT_KINDS", "Knobs", "Stats", "TokenBucket", "pick_fault"]


@dataclass
class Knobs(CheckedSettings):
    rate_limit: float = 0.0  # requests per second per user; 0 turns the limit off
    rate_burst: int = 0  # bucket size; 0 means max(1, rate_limit)
    latency_ms: float = 0.0
    fault_rate: float = 0.0  # share of API calls that fail with an injected fault
    fault_kinds: list[str] = field(default_factory=lambda: list(FAULT_KINDS))
    timeout_seconds: float = 15.0  # how long an injected timeout waits before its 504


Knobs.checks, Knobs.rules = common_rules(FAULT_KINDS)


@dataclass
class Stats:
    calls: Counter = field(default_factory=Counter)  # "GET /api/v1/livechat/rooms" -> n
    errors: Counter = field(default_factory=Counter)  # error kind -> n
    rate_limited: int = 0
    faults: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bump(self, name: str, key=None, n: int = 1) -> None:
        with self.lock:
            if key is None:
                setattr(self, name, getattr(self, name) + n)
            else:
                getattr(self, name)[key] += n

    def to_dict(self) -> dict:
        with self.lock:
            return {"calls": dict(self.calls), "total_calls": sum(self.calls.values()),
                    "errors": dict(self.errors), "rate_limited": self.rate_limited, "faults": dict(self.faults)}

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.errors.clear()
            self.faults.clear()
            self.rate_limited = 0

"""Test and benchmark knobs (rate limit, latency, faults) and call statistics.

The token bucket is LiveChat's; the answer when it is empty is Rocket.Chat's (see `app.py`).
"""
from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field

from ..livechat.knobs import TokenBucket

FAULT_KINDS = ("internal", "timeout")

__all__ = ["FAULT_KINDS", "Knobs", "Stats", "TokenBucket", "pick_fault"]


@dataclass
class Knobs:
    rate_limit: float = 0.0  # requests per second per user; 0 turns the limit off
    rate_burst: int = 0  # bucket size; 0 means max(1, rate_limit)
    latency_ms: float = 0.0
    fault_rate: float = 0.0  # share of API calls that fail with an injected fault
    fault_kinds: list[str] = field(default_factory=lambda: list(FAULT_KINDS))
    timeout_seconds: float = 15.0  # how long an injected timeout waits before its 504

    def problems(self, changes: dict) -> list[str]:
        out = []
        for name, value in changes.items():
            check = _CHECKS.get(name)
            if check is None:
                out.append(f"unknown setting {name}")
            elif not check(value):
                out.append(f"{name}: {_RULES[name]}")
        return out

    def update(self, changes: dict) -> list[str]:
        """Apply all of `changes`, or none if any is unknown or invalid; returns the problems."""
        problems = self.problems(changes)
        if not problems:
            for k, v in changes.items():
                setattr(self, k, list(v) if isinstance(v, list) else v)
        return problems

    def to_dict(self) -> dict:
        return asdict(self)


def _number(value, low: float = 0.0, high: float | None = None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        return False
    return high is None or value <= high


_RULES = {
    "rate_limit": "must be a number >= 0", "rate_burst": "must be an integer >= 0",
    "latency_ms": "must be a number >= 0", "fault_rate": "must be a number from 0 to 1",
    "fault_kinds": f"must be an array of {', '.join(FAULT_KINDS)}", "timeout_seconds": "must be a number >= 0",
}
_CHECKS = {
    "rate_limit": _number, "latency_ms": _number, "timeout_seconds": _number,
    "rate_burst": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "fault_rate": lambda v: _number(v, 0, 1),
    "fault_kinds": lambda v: isinstance(v, list) and all(k in FAULT_KINDS for k in v),
}


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


def pick_fault(knobs: Knobs, rng: random.Random) -> str | None:
    if knobs.fault_rate <= 0 or not knobs.fault_kinds or rng.random() >= knobs.fault_rate:
        return None
    return rng.choice(knobs.fault_kinds)

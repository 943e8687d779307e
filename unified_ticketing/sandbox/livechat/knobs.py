"""Test and benchmark knobs: rate limit, latency, faults, error status mode; plus call statistics."""
from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field

FAULT_KINDS = ("internal", "timeout", "error_200")


@dataclass
class Knobs:
    rate_limit: float = 0.0  # requests per second per license; 0 turns the limit off
    rate_burst: int = 0  # bucket size; 0 means max(1, rate_limit)
    latency_ms: float = 0.0
    fault_rate: float = 0.0  # share of API calls that fail with an injected fault
    fault_kinds: list[str] = field(default_factory=lambda: list(FAULT_KINDS))
    timeout_seconds: float = 15.0  # how long an injected request_timeout takes
    error_status: str = "http"  # "http": per-type statuses; "200": every error with HTTP 200
    token_ttl: int = 28800  # seconds an access token lives
    webhook_retry_delays: list[float] = field(default_factory=lambda: [10.0, 20.0, 30.0])
    webhook_timeout: float = 10.0

    def problems(self, changes: dict) -> list[str]:
        """What is wrong with `changes`: unknown names and values of the wrong type or range."""
        out = []
        for name, value in changes.items():
            check = _CHECKS.get(name)
            if check is None:
                out.append(f"unknown setting {name}")
            elif not check(value):
                out.append(f"{name}: {_RULES[name]}")
        return out

    def update(self, changes: dict) -> list[str]:
        """Apply all of `changes`, or none of them if any is unknown or invalid; returns the problems."""
        problems = self.problems(changes)
        if not problems:
            for k, v in changes.items():
                setattr(self, k, list(v) if isinstance(v, list) else v)
        return problems

    def to_dict(self) -> dict:
        return asdict(self)


def _number(value, low: float = 0.0, high: float | None = None, strict: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if value < low or (strict and value == low):
        return False
    return high is None or value <= high


_RULES = {
    "rate_limit": "must be a number >= 0", "rate_burst": "must be an integer >= 0",
    "latency_ms": "must be a number >= 0", "fault_rate": "must be a number from 0 to 1",
    "fault_kinds": f"must be an array of {', '.join(FAULT_KINDS)}", "timeout_seconds": "must be a number >= 0",
    "error_status": 'must be "http" or "200"', "token_ttl": "must be a number > 0",
    "webhook_retry_delays": "must be an array of numbers >= 0", "webhook_timeout": "must be a number > 0",
}
_CHECKS = {
    "rate_limit": _number, "latency_ms": _number, "timeout_seconds": _number,
    "rate_burst": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "fault_rate": lambda v: _number(v, 0, 1),
    "fault_kinds": lambda v: isinstance(v, list) and all(k in FAULT_KINDS for k in v),
    "error_status": lambda v: v in ("http", "200"),
    "token_ttl": lambda v: _number(v, strict=True), "webhook_timeout": lambda v: _number(v, strict=True),
    "webhook_retry_delays": lambda v: isinstance(v, list) and all(_number(d) for d in v),
}


class TokenBucket:
    """A license's request quota: `rate` tokens per second, at most `burst` banked."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = None
        self.stamp = time.monotonic()

    def take(self, rate: float, burst: int) -> float | None:
        """Spend one request: None when allowed, else the seconds until the next one would be."""
        if rate <= 0:
            return None
        cap = burst or max(1.0, rate)
        with self.lock:
            now = time.monotonic()
            self.tokens = cap if self.tokens is None else min(cap, self.tokens + (now - self.stamp) * rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return None
            return (1 - self.tokens) / rate


@dataclass
class Stats:
    calls: Counter = field(default_factory=Counter)  # "list_archives" -> n
    calls_by_path: Counter = field(default_factory=Counter)  # "v3.5/agent/list_archives" -> n
    errors: Counter = field(default_factory=Counter)  # error type -> n
    rate_limited: int = 0
    faults: Counter = field(default_factory=Counter)
    token_grants: Counter = field(default_factory=Counter)  # grant_type -> n
    token_revocations: int = 0
    webhook_deliveries: Counter = field(default_factory=Counter)  # "delivered" | "failed_attempt" | "dropped"
    request_ids: deque = field(default_factory=lambda: deque(maxlen=200))  # X-Request-Id of recent API calls
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bump(self, name: str, key=None, n: int = 1) -> None:
        with self.lock:
            value = getattr(self, name)
            if key is None:
                setattr(self, name, value + n)
            else:
                value[key] += n

    def to_dict(self) -> dict:
        with self.lock:
            return {
                "calls": dict(self.calls), "calls_by_path": dict(self.calls_by_path),
                "total_calls": sum(self.calls.values()), "errors": dict(self.errors),
                "rate_limited": self.rate_limited, "faults": dict(self.faults),
                "token_grants": dict(self.token_grants), "token_refreshes": self.token_grants["refresh_token"],
                "token_revocations": self.token_revocations,
                "webhook_deliveries": dict(self.webhook_deliveries), "request_ids": list(self.request_ids),
            }

    def reset(self) -> None:
        with self.lock:
            for name in ("calls", "calls_by_path", "errors", "faults", "token_grants", "webhook_deliveries"):
                getattr(self, name).clear()
            self.rate_limited = 0
            self.token_revocations = 0
            self.request_ids.clear()


def pick_fault(knobs: Knobs, rng: random.Random) -> str | None:
    if knobs.fault_rate <= 0 or not knobs.fault_kinds or rng.random() >= knobs.fault_rate:
        return None
    return rng.choice(knobs.fault_kinds)

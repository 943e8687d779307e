"""Test and benchmark knobs: rate limit, latency, faults, error status mode; plus call statistics."""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
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

    def update(self, changes: dict) -> list[str]:
        """Apply known settings; returns the names it did not know."""
        unknown = [k for k in changes if k not in self.__dataclass_fields__]
        for k, v in changes.items():
            if k in self.__dataclass_fields__:
                setattr(self, k, v)
        return unknown

    def to_dict(self) -> dict:
        return asdict(self)


class TokenBucket:
    """A license's request quota: `rate` tokens per second, at most `burst` banked."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = None
        self.stamp = time.monotonic()

    def take(self, rate: float, burst: int) -> bool:
        if rate <= 0:
            return True
        cap = burst or max(1.0, rate)
        with self.lock:
            now = time.monotonic()
            self.tokens = cap if self.tokens is None else min(cap, self.tokens + (now - self.stamp) * rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


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
                "webhook_deliveries": dict(self.webhook_deliveries),
            }

    def reset(self) -> None:
        with self.lock:
            for name in ("calls", "calls_by_path", "errors", "faults", "token_grants", "webhook_deliveries"):
                getattr(self, name).clear()
            self.rate_limited = 0
            self.token_revocations = 0


def pick_fault(knobs: Knobs, rng: random.Random) -> str | None:
    if knobs.fault_rate <= 0 or not knobs.fault_kinds or rng.random() >= knobs.fault_rate:
        return None
    return rng.choice(knobs.fault_kinds)

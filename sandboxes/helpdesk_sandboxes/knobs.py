"""What every sandbox's knobs share: checked settings (all-or-nothing updates), the quota bucket,
and the fault picker. Each sandbox declares its own settings on top."""
from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict
from typing import ClassVar


def number(value, low: float = 0.0, high: float | None = None, strict: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if value < low or (strict and value == low):
        return False
    return high is None or value <= high


def common_rules(fault_kinds: tuple[str, ...]) -> tuple[dict, dict]:
    """(checks, rules) of the knobs every sandbox has: rate limit, latency, faults."""
    checks = {
        "rate_limit": number, "latency_ms": number, "timeout_seconds": number,
        "rate_burst": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "fault_rate": lambda v: number(v, 0, 1),
        "fault_kinds": lambda v: isinstance(v, list) and all(k in fault_kinds for k in v),
    }
    rules = {
        "rate_limit": "must be a number >= 0", "rate_burst": "must be an integer >= 0",
        "latency_ms": "must be a number >= 0", "fault_rate": "must be a number from 0 to 1",
        "fault_kinds": f"must be an array of {', '.join(fault_kinds)}", "timeout_seconds": "must be a number >= 0",
    }
    return checks, rules


class CheckedSettings:
    """A dataclass mixin: `checks` and `rules` (class attributes) say what each setting accepts."""
    checks: ClassVar[dict]
    rules: ClassVar[dict]

    def problems(self, changes: dict) -> list[str]:
        """What is wrong with `changes`: unknown names and values of the wrong type or range."""
        out = []
        for name, value in changes.items():
            check = self.checks.get(name)
            if check is None:
                out.append(f"unknown setting {name}")
            elif not check(value):
                out.append(f"{name}: {self.rules[name]}")
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


class TokenBucket:
    """A quota (a LiveChat license's, a Rocket.Chat user's): `rate` tokens per second, at most `burst` banked."""

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


class Counting:
    """A dataclass mixin for call statistics: `bump` a number field, or one key of a Counter field, under
    the dataclass's `lock`."""

    def bump(self, name: str, key=None, n: int = 1) -> None:
        with self.lock:
            if key is None:
                setattr(self, name, getattr(self, name) + n)
            else:
                getattr(self, name)[key] += n


def pick_fault(knobs, rng: random.Random) -> str | None:
    if knobs.fault_rate <= 0 or not knobs.fault_kinds or rng.random() >= knobs.fault_rate:
        return None
    return rng.choice(knobs.fault_kinds)

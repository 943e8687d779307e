"""Test and benchmark knobs: rate limit, latency, faults, error status mode; plus call statistics."""
from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field

from ..knobs import CheckedSettings, Counting, common_rules, number

__all__ = ["FAULT_KINDS", "Knobs", "Stats"]

FAULT_KINDS = ("internal", "timeout", "error_200")


@dataclass
class Knobs(CheckedSettings):
    rate_limit: float = 0.0  # requests per second per license; 0 turns the limit off
    rate_burst: int = 0  # bucket size; 0 means max(1, rate_limit)
    latency_ms: float = 0.0
    fault_rate: float = 0.0  # share of API calls that fail with an injected fault
    fault_kinds: list[str] = field(default_factory=lambda: list(FAULT_KINDS))
    timeout_seconds: float = 15.0  # how long an injected request_timeout takes
    fault_methods: list[str] = field(default_factory=list)  # latency and faults hit only these (empty: all)
    error_status: str = "http"  # "http": per-type statuses; "200": every error with HTTP 200
    token_ttl: int = 28800  # seconds an access token lives
    webhook_retry_delays: list[float] = field(default_factory=lambda: [10.0, 20.0, 30.0])
    webhook_timeout: float = 10.0
    # A fault, not LiveChat's behaviour: list methods answer the page_id they were sent as next_page_id (an
    # upstream whose cursor loops), so a client that follows it blindly never ends.
    repeat_page_id: bool = False


_COMMON_CHECKS, _COMMON_RULES = common_rules(FAULT_KINDS)
Knobs.checks = {
    **_COMMON_CHECKS,
    "error_status": lambda v: v in ("http", "200"),
    "token_ttl": lambda v: number(v, strict=True), "webhook_timeout": lambda v: number(v, strict=True),
    "webhook_retry_delays": lambda v: isinstance(v, list) and all(number(d) for d in v),
    "fault_methods": lambda v: isinstance(v, list) and all(isinstance(m, str) for m in v),
    "repeat_page_id": lambda v: isinstance(v, bool),
}
Knobs.rules = {
    **_COMMON_RULES,
    "error_status": 'must be "http" or "200"', "token_ttl": "must be a number > 0",
    "webhook_retry_delays": "must be an array of numbers >= 0", "webhook_timeout": "must be a number > 0",
    "fault_methods": "must be an array of method names", "repeat_page_id": "must be true or false",
}


@dataclass
class Stats(Counting):
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

"""Shared upstream pacing, per rate-limit scope (a helpdesk license): every worker on every host
draws from one token bucket and honours one cooldown, both in Redis.

The bucket reserves slots ahead (the count may go negative), so concurrent callers queue fairly
and each learns exactly how long to wait; a caller whose wait would exceed its budget takes no
slot and gets 429 with Retry-After instead.
"""
from __future__ import annotations

import math
import time

from .. import observability
from ..errors import ApiError

# KEYS[1] bucket; ARGV rate/s, burst, budget ms. Returns the wait in ms (>= 0) with a slot taken,
# or -(wait in ms) - 1 when the wait exceeds the budget and no slot was taken.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, burst, budget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - stamp) * rate / 1000) - 1
local wait = 0
if tokens < 0 then wait = math.ceil(-tokens * 1000 / rate) end
if wait > budget then return -wait - 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return wait
"""


def cooldown_key(scope: str) -> str:
    return f"ut:{{rl:{scope}}}:cooldown"


class RateLimiter:
    def __init__(self, r, wait_budget: float):
        self.r = r
        self.wait_budget = wait_budget
        self._take = r.register_script(_TAKE)

    @staticmethod
    def _key(scope: str, part: str) -> str:
        return f"ut:{{rl:{scope}}}:{part}"

    def acquire(self, scope: str, rate: float, burst: float, budget: float | None = None,
                cooldown_ms: int | None = None) -> int | None:
        """Wait for the scope's cooldown and a bucket slot, or raise 429 past the wait budget.
        `cooldown_ms`: the cooldown as read a moment ago (saves a round trip). Returns the cooldown it
        read from Redis (None: it used `cooldown_ms`)."""
        budget = self.wait_budget if budget is None else budget
        deadline = time.monotonic() + budget
        read = None
        if cooldown_ms is None:
            cooldown_ms = read = max(0, self.r.pttl(cooldown_key(scope)))
        if cooldown_ms > 0:
            if cooldown_ms / 1000 > budget:
                observability.RATE_LIMIT_WAITS.labels("cooldown", "refused").inc()
                raise self.too_many(cooldown_ms / 1000, rate)
            _wait("cooldown", cooldown_ms / 1000)
        if rate <= 0:
            return read
        left_ms = max(0, int((deadline - time.monotonic()) * 1000))
        wait_ms = self._take(keys=[self._key(scope, "bucket")], args=[rate, max(burst, 1), left_ms])
        if wait_ms < 0:
            observability.RATE_LIMIT_WAITS.labels("bucket", "refused").inc()
            raise self.too_many((-wait_ms - 1) / 1000, rate)
        if wait_ms:
            _wait("bucket", wait_ms / 1000)
        return read

    def cool_down(self, scope: str, seconds: float) -> None:
        """Every worker holds off this scope for `seconds` (an upstream said too_many_requests)."""
        key = cooldown_key(scope)
        ms = max(1, int(seconds * 1000))
        if self.r.pttl(key) < ms:
            self.r.set(key, "1", px=ms)

    @staticmethod
    def too_many(wait: float, rate: float) -> ApiError:
        seconds = max(1, math.ceil(wait))
        return ApiError(429, "rate_limited", f"The helpdesk's rate limit is reached; retry after {seconds} s",
                        headers={"Retry-After": str(seconds), "ratelimit-limit": f"{rate:g}" if rate else "0",
                                 "ratelimit-remaining": "0", "ratelimit-reset": str(seconds)})


def _wait(reason: str, seconds: float) -> None:
    observability.RATE_LIMIT_WAITS.labels(reason, "waited").inc()
    observability.RATE_LIMIT_WAIT_SECONDS.observe(seconds)
    time.sleep(seconds)

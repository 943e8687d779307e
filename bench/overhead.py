"""Figure 1: what the service adds to a LiveChat round trip.

GET /unified/ticketing/tickets?limit=100 against the raw upstream calls it makes (a full page reads
list_archives until it holds 100 chats: the same bodies, in order, on one keep-alive session),
interleaved pair by pair in a random order, at sandbox latency 0 and 100 ms.
"""
from __future__ import annotations

import random
import time

from .common import Context, Figure, RawPage, configure, median, percentile, raw_tickets_page

LATENCIES_MS = (0, 100)
GOALS = {0: 1.3, 100: 1.03}  # p50 service/raw per latency (issue 16 goal 1)
SAMPLES = {0: 300, 100: 150}
WARMUP = 10
LIMIT = 100


def run(ctx: Context) -> list[Figure]:
    figures = []
    rng = random.Random(6)
    page = raw_tickets_page(ctx, LIMIT)
    try:
        for latency in LATENCIES_MS:
            configure(ctx.sandbox, latency_ms=latency)
            service, raw = _measure(ctx, page, rng, latency)
            for p in (50, 99):
                s, r = percentile(service, p), percentile(raw, p)
                figures.append(Figure(
                    key=f"overhead_p{p}_{latency}ms", title=f"1. Overhead ratio p{p}, upstream latency {latency} ms",
                    value=s / r, unit="×", baseline=f"raw: {page}, p{p} {r * 1000:.1f} ms "
                                                    f"(service {s * 1000:.1f} ms)",
                    goal=f"≤ {GOALS[latency]}" if p == 50 else "report",
                    met=(s / r <= GOALS[latency]) if p == 50 else None,
                    details={"samples": len(service), "service_ms": _ms(service), "raw_ms": _ms(raw),
                             "raw_calls": len(page.bodies)}))
    finally:
        configure(ctx.sandbox)
    return figures


def _measure(ctx: Context, page: RawPage, rng: random.Random, latency: int) -> tuple[list[float], list[float]]:
    n = SAMPLES[latency]
    service, raw = [], []

    def unified() -> float:
        t0 = time.perf_counter()
        resp = ctx.client.get("/unified/ticketing/tickets", integrated_account_id=ctx.account_id, limit=LIMIT)
        elapsed = time.perf_counter() - t0
        if resp.status_code != 200 or not resp.json()["result"]:
            raise RuntimeError(f"unified tickets page failed: {resp.status_code} {resp.text[:300]}")
        return elapsed

    def upstream() -> float:
        t0 = time.perf_counter()
        ok = page.replay()
        elapsed = time.perf_counter() - t0
        if not ok:
            raise RuntimeError(f"raw {page} failed")
        return elapsed

    with ctx.bar(f"1. overhead at {latency} ms", WARMUP + n) as advance:
        for i in range(WARMUP + n):
            if rng.random() < 0.5:
                s, r = unified(), upstream()
            else:
                r, s = upstream(), unified()
            if i >= WARMUP:
                service.append(s)
                raw.append(r)
            advance()
    return service, raw


def _ms(values: list[float]) -> dict:
    return {"p50": round(median(values) * 1000, 2), "p99": round(percentile(values, 99) * 1000, 2),
            "min": round(min(values) * 1000, 2), "max": round(max(values) * 1000, 2)}

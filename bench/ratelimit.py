"""Figure 5: rate-limit utilization. The sandbox allows R calls/s; callers offer 2R unified requests/s
(open loop, on a fixed schedule) for 30 s. What share of the upstream's quota went into successful
calls, and how many 5xx did callers see?

Twice: with the limit unknown to the service (it learns from LiveChat's too_many_requests: shared
cooldown and retries), and with the operator's LIVECHAT_RATE_LIMIT=R (a shared token bucket paces
every worker). The quota counts from the first request to the last answer (retries included).
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from .common import Context, Figure, configure, connect_pat, new_tenant, reset_stats, start_service, stats

RATE = 10  # the sandbox's limit, calls per second
BURST = RATE  # the sandbox's bucket size (its default: one second's worth)
DURATION = 30  # seconds of offered load
OFFERED = 2 * RATE
THREADS = 400  # enough that the schedule holds while answers wait up to UNIFIED_RATE_LIMIT_WAIT


def run(ctx: Context) -> list[Figure]:
    figures = _offer(ctx, ctx.client, ctx.account_id, "limit unknown to the service", "unknown")
    service = start_service(ctx.sandbox, ctx.redis_url, workers=ctx.service.workers,
                            env={"LIVECHAT_RATE_LIMIT": str(RATE), "LIVECHAT_RATE_BURST": "1"})
    try:
        client = new_tenant(service, "bench-rate-limit")
        account_id = connect_pat(client, ctx.sandbox)
        figures += _offer(ctx, client, account_id, f"LIVECHAT_RATE_LIMIT={RATE}", "configured")
    finally:
        service.stop()
    return figures


def _offer(ctx: Context, client, account_id: str, label: str, key: str) -> list[Figure]:
    total = OFFERED * DURATION
    local = threading.local()
    configure(ctx.sandbox, rate_limit=RATE, rate_burst=BURST)
    time.sleep(1.1)  # let the bucket fill
    reset_stats(ctx.sandbox)
    try:
        with ctx.bar(f"5. rate limit, {label}: {OFFERED} req/s for {DURATION} s", total) as advance:
            start = time.monotonic() + 0.2

            def fire(i: int) -> tuple[int, float, float]:
                session = getattr(local, "session", None) or requests.Session()
                local.session = session
                time.sleep(max(0.0, start + i / OFFERED - time.monotonic()))
                t0 = time.monotonic()
                late = t0 - (start + i / OFFERED)
                try:
                    status = client.get("/unified/ticketing/tickets", session=session,
                                        integrated_account_id=account_id, limit=10).status_code
                except requests.RequestException:
                    status = 599  # no answer at all: as bad as a 5xx for the caller
                advance()
                return status, time.monotonic() - t0, late

            with ThreadPoolExecutor(THREADS) as pool:
                answers = list(pool.map(fire, range(total)))
            window = time.monotonic() - start
        counted = stats(ctx.sandbox)
    finally:
        configure(ctx.sandbox)
    statuses = Counter(s for s, _, _ in answers)
    upstream_errors = sum(counted["errors"].values())
    succeeded = counted["total_calls"] - upstream_errors
    quota = RATE * window + BURST
    share = 100 * succeeded / quota
    server_errors = sum(n for s, n in statuses.items() if s >= 500)
    details = {"offered": total, "window_s": round(window, 1), "statuses": dict(statuses),
               "upstream_calls": counted["total_calls"], "upstream_succeeded": succeeded,
               "upstream_rate_limited": counted["rate_limited"], "upstream_errors": counted["errors"],
               "quota": round(quota), "slowest_answer_s": round(max(t for _, t, _ in answers), 2),
               "latest_send_s": round(max(late for _, _, late in answers), 2)}
    return [
        Figure(key=f"rate_limit_utilization_{key}", title=f"5. Rate-limit utilization, {label}",
               value=share, unit="%", baseline=f"quota {RATE}/s × {window:.0f} s + burst {BURST} = {quota:.0f} calls; "
                                                f"{succeeded} succeeded",
               goal="≥ 90 %", met=share >= 90, details=details,
               note=f"limit {RATE}/s, offered {OFFERED}/s; callers saw {statuses.get(200, 0)} × 200, "
                    f"{statuses.get(429, 0)} × 429, the slowest answer after {details['slowest_answer_s']:.0f} s; "
                    f"{counted['rate_limited']} upstream calls were refused"),
        Figure(key=f"rate_limit_5xx_{key}", title=f"5. Caller-visible 5xx, {label}", value=server_errors,
               unit="5xx", baseline=f"{total} requests offered", goal="0", met=server_errors == 0, details=details),
    ]

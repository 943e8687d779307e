"""Mapping overrides (issue 17): what a tenant override costs on a unified page.

GET /unified/ticketing/tickets?limit=100 of two tenants on the same LiveChat account, one with a
tenant-scope read override (one custom field added from the chat, one field replaced, one removed)
and one without, interleaved pair by pair in a random order at sandbox latency 0 (where the
mapping's share of a page is largest). Goal: p50 ratio ≤ 1.1. The first request after a change
compiles the override; the measured ones read only the tenant's change counter (one GET).

    python -m bench.overrides        # this figure alone, on its own sandbox and server
"""
from __future__ import annotations

import random
import time

from .common import Context, Figure, configure, connect_pat, median, new_tenant, percentile

SAMPLES = 200
WARMUP = 10
OVERRIDE = {"fields": {"custom_fields.first_tag": "thread.tags[0]", "name": "$uppercase(name)",
                       "description": None}}


def run(ctx: Context) -> list[Figure]:
    rng = random.Random(17)
    plain = new_tenant(ctx.service, "bench-overrides-plain")
    plain_account = connect_pat(plain, ctx.sandbox)
    over = new_tenant(ctx.service, "bench-overrides-on")
    over_account = connect_pat(over, ctx.sandbox)
    resp = over.session.put(f"{ctx.service.base_url}/mapping-overrides/tenant/livechat/tickets/read",
                            json=OVERRIDE, headers=over.headers, timeout=30)
    if resp.status_code != 200:
        raise RuntimeError(f"storing the override failed: {resp.status_code} {resp.text[:300]}")

    def page(client, account, overridden: bool) -> float:
        t0 = time.perf_counter()
        resp = client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=100)
        elapsed = time.perf_counter() - t0
        result = resp.json().get("result") if resp.status_code == 200 else None
        if not result or (overridden and result[0]["description"] is not None):
            raise RuntimeError(f"tickets page failed: {resp.status_code} {resp.text[:300]}")
        return elapsed

    configure(ctx.sandbox, latency_ms=0)
    with_override, without = [], []
    with ctx.bar("overrides: page with and without", WARMUP + SAMPLES) as advance:
        for i in range(WARMUP + SAMPLES):
            if rng.random() < 0.5:
                o, p = page(over, over_account, True), page(plain, plain_account, False)
            else:
                p, o = page(plain, plain_account, False), page(over, over_account, True)
            if i >= WARMUP:
                with_override.append(o)
                without.append(p)
            advance()
    figures = []
    for p in (50, 99):
        o, n = percentile(with_override, p), percentile(without, p)
        figures.append(Figure(
            key=f"override_page_p{p}", title=f"8. Page with a mapping override p{p}, latency 0 ms", value=o / n,
            unit="×", baseline=f"the same page without p{p} {n * 1000:.1f} ms (with {o * 1000:.1f} ms)",
            goal="≤ 1.1" if p == 50 else "report", met=(o / n <= 1.1) if p == 50 else None,
            details={"samples": len(without), "with_ms": round(median(with_override) * 1000, 2),
                     "without_ms": round(median(without) * 1000, 2)}))
    return figures


def main() -> int:
    import urllib3
    from rich.console import Console
    from rich.progress import Progress

    from unified_ticketing.state.redis_server import redis_url

    from .common import Upstream, sandbox, start_service

    urllib3.disable_warnings()
    url, embedded = redis_url()
    sb = sandbox()
    service = start_service(sb, url, workers=2)
    try:
        client = new_tenant(service, "bench")
        ctx = Context(url, sb, service, client, connect_pat(client, sb), Upstream(sb), Progress(transient=True))
        with ctx.progress:
            figures = run(ctx)
        for f in figures:
            Console().print(f"{f.title}: [bold]{f.shown()}[/bold]  ({f.baseline}; goal {f.goal})")
    finally:
        service.stop()
        sb.stop()
        if embedded:
            embedded.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

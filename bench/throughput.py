"""Figure 7: throughput of the production server (`unified-ticketing serve --workers N`, gunicorn)
on this machine: unified list pages per second under a closed loop of concurrent callers, against
the pages per second the same callers get from the sandbox alone, each making a page's raw upstream
calls (the same list_archives bodies, in order, on its keep-alive session)."""
from __future__ import annotations

import threading
import time

import requests

from .common import Context, Figure, connect_pat, median, new_tenant, raw_tickets_page, start_service

WORKERS = (2, 4)
GOAL = 0.85  # service/raw with 2 workers, the raw calls on keep-alive connections (issue 16 goal 2)
CALLERS = 16
DURATION = 10.0  # seconds per measurement
WARMUP = 2.0
LIMIT = 20  # the API's default page size


def run(ctx: Context) -> list[Figure]:
    page = raw_tickets_page(ctx, LIMIT)
    raw = _closed_loop(ctx, "7. throughput: raw upstream", page.replay)
    figures = []
    for workers in WORKERS:
        service = start_service(ctx.sandbox, ctx.redis_url, workers=workers)
        try:
            client = new_tenant(service, f"bench-throughput-{workers}")
            account_id = connect_pat(client, ctx.sandbox)
            result = _closed_loop(ctx, f"7. throughput: serve --workers {workers}", lambda s, c=client, a=account_id: (
                c.get("/unified/ticketing/tickets", session=s, integrated_account_id=a, limit=LIMIT).ok))
        finally:
            service.stop()
        rps = result["rps"]
        figures.append(Figure(
            key=f"throughput_workers_{workers}", title=f"7. Throughput, serve --workers {workers}",
            value=rps, unit="req/s", baseline=f"raw: {page}, {raw['rps']:.0f} pages/s "
                                              f"(service/raw {rps / raw['rps']:.2f}×)",
            goal=f"≥ {GOAL}×" if workers == 2 else "report",
            met=rps / raw["rps"] >= GOAL if workers == 2 else None,
            note=f"{CALLERS} callers, limit={LIMIT}, p50 {result['p50_ms']:.0f} ms, {result['errors']} errors",
            details={"raw": raw, "raw_calls": len(page.bodies), "service": result,
                     "ratio_to_raw": round(rps / raw["rps"], 3)}))
    return figures


def _closed_loop(ctx: Context, label: str, call) -> dict:
    """CALLERS threads calling back to back for WARMUP + DURATION seconds; counts the last DURATION.
    `call(session)` is True when it succeeded."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    begin = time.monotonic()
    measure_from, stop_at = begin + WARMUP, begin + WARMUP + DURATION

    def caller() -> None:
        session = requests.Session()
        while True:
            t0 = time.monotonic()
            if t0 >= stop_at:
                return
            ok = call(session)
            t1 = time.monotonic()
            if t0 >= measure_from and t1 <= stop_at:
                with lock:
                    if ok:
                        latencies.append(t1 - t0)
                    else:
                        errors[0] += 1

    threads = [threading.Thread(target=caller, daemon=True) for _ in range(CALLERS)]
    with ctx.bar(label, WARMUP + DURATION) as advance:
        for t in threads:
            t.start()
        while time.monotonic() < stop_at:
            time.sleep(0.5)
            advance(0.5)
        for t in threads:
            t.join(timeout=60)
    return {"rps": round(len(latencies) / DURATION, 1), "completed": len(latencies), "errors": errors[0],
            "p50_ms": round(median(latencies) * 1000, 1) if latencies else None}

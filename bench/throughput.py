"""Figure 7: throughput of the production server (`unified-ticketing serve --workers N`, gunicorn)
on this machine: unified list pages per second under a closed loop of concurrent callers, against
the pages per second the same callers get from the sandbox alone, each making a page's raw upstream
calls (the same list_archives bodies, in order, on its keep-alive session)."""
from __future__ import annotations

import threading
import time

import requests

from .common import Context, Figure, connect_pat, median, new_tenant, raw_tickets_page, start_service
from .cpu_use import Meter

WORKERS = (2, 4)
GOAL = 0.85  # service/raw with 2 workers, the raw calls on keep-alive connections (issue 16 goal 2)
CALLERS = 16
DURATION = 10.0  # seconds per measurement
WARMUP = 2.0
LIMIT = 20  # the API's default page size


def run(ctx: Context) -> list[Figure]:
    page = raw_tickets_page(ctx, LIMIT)
    raw = _closed_loop(ctx, "7. throughput: raw upstream", page.replay,
                       Meter(ctx.redis_url, {"sandbox": ctx.sandbox.process.pid, "callers": "callers"}))
    figures = []
    for workers in WORKERS:
        service = start_service(ctx.sandbox, ctx.redis_url, workers=workers)
        try:
            client = new_tenant(service, f"bench-throughput-{workers}")
            account_id = connect_pat(client, ctx.sandbox)
            meter = Meter(ctx.redis_url, {"sandbox": ctx.sandbox.process.pid, "service": service.process.pid,
                                          "redis": "redis", "callers": "callers"})
            result = _closed_loop(ctx, f"7. throughput: serve --workers {workers}", lambda s, c=client, a=account_id: (
                c.get("/unified/ticketing/tickets", session=s, integrated_account_id=a, limit=LIMIT).ok), meter)
        finally:
            service.stop()
        rps = result["rps"]
        figures.append(Figure(
            key=f"throughput_workers_{workers}", title=f"7. Throughput, serve --workers {workers}",
            value=rps, unit="req/s", baseline=f"raw: {page}, {raw['rps']:.0f} pages/s "
                                              f"(service/raw {rps / raw['rps']:.2f}×)",
            goal=f"≥ {GOAL}×" if workers == 2 else "report",
            met=rps / raw["rps"] >= GOAL if workers == 2 else None,
            note=f"{CALLERS} callers, limit={LIMIT}, p50 {result['p50_ms']:.0f} ms, {result['errors']} errors; "
                 f"CPU ms per page: {_cpu_text(result)} (raw: {_cpu_text(raw)})",
            details={"raw": raw, "raw_calls": len(page.bodies), "service": result,
                     "ratio_to_raw": round(rps / raw["rps"], 3)}))
    return figures


def _cpu_text(result: dict) -> str:
    return ", ".join(f"{name} {ms}" for name, ms in result["cpu_ms_per_page"].items())


def _closed_loop(ctx: Context, label: str, call, meter: Meter) -> dict:
    """CALLERS threads calling back to back for WARMUP + DURATION seconds; counts the last DURATION, and the
    CPU each part of the machine spent per page in it (`meter`). `call(session)` is True when it succeeded."""
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
        time.sleep(max(0.0, measure_from - time.monotonic()))
        advance(WARMUP)
        meter.start()
        while time.monotonic() < stop_at:
            time.sleep(min(0.5, max(0.0, stop_at - time.monotonic())))
            advance(0.5)
        used = meter.stop()
        for t in threads:
            t.join(timeout=60)
    pages = max(1, len(latencies))
    return {"rps": round(len(latencies) / DURATION, 1), "completed": len(latencies), "errors": errors[0],
            "p50_ms": round(median(latencies) * 1000, 1) if latencies else None,
            "cpu_ms_per_page": {name: round(seconds * 1000 / pages, 2) for name, seconds in used.items()}}

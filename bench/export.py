"""Figure 6: export memory and speed. `unified-ticketing export` streams every ticket with its comments
as NDJSON; its peak RSS should stay flat from 1 000 to 10 000 chats, and under 150 MB. Its speed is
chats per second against the raw calls it makes (list_archives pages, then list_threads of each chat,
made one after another on one keep-alive session), timed on the same sandbox right after.

Each size gets its own sandbox and a service only to connect the account; the export runs as its
own process, and its peak RSS is the kernel's (`wait4`). Until the command exists (issue 9) the
figure says so instead of a number.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from .common import (
    ADMIN_TOKEN,
    SECRET_KEY,
    Context,
    Figure,
    Upstream,
    connect_pat,
    new_tenant,
    sandbox,
    start_service,
    stats,
)

SIZES = (1_000, 10_000)
GOAL_MB = 150
FLAT = 1.25  # peak RSS at 10 000 chats may be at most this much above the peak at 1 000
TIMEOUT = 300  # seconds per export


def export_help() -> str:
    done = subprocess.run([sys.executable, "-m", "unified_ticketing.cli", "export", "--help"],
                          capture_output=True, text=True, timeout=60)
    return done.stdout if done.returncode == 0 else ""


def run(ctx: Context) -> list[Figure]:
    usage = export_help()
    missing = [opt for opt in ("--account", "--out") if opt not in usage]
    if not usage or missing:
        note = ("not measurable: export not built (issue 9)" if not usage else
                f"not measurable: `unified-ticketing export` has no {', '.join(missing)}; update bench/export.py")
        return [Figure(key="export_memory", title="6. Export memory (peak RSS, 1 000 → 10 000 chats)", value=None,
                       unit="MB", baseline="peak RSS at 1 000 chats", goal="flat, < 150 MB", met=None, note=note)]
    runs = {chats: _export(ctx, chats) for chats in SIZES}
    small, large = runs[SIZES[0]], runs[SIZES[-1]]
    growth = large["peak_rss_mb"] / small["peak_rss_mb"]
    complete = all(r["tickets"] == chats for chats, r in runs.items())
    note = (f"{large['tickets']} tickets with their comments in {large['seconds']:.0f} s "
            f"({large['upstream_calls']} upstream calls); growth {growth:.2f}×")
    if not complete:
        note += f"; exported {[r['tickets'] for r in runs.values()]} tickets of {list(SIZES)} chats"
    rate, raw_rate = large["tickets"] / large["seconds"], large["tickets"] / large["raw_seconds"]
    speed = Figure(
        key="export_speed", title="6. Export speed (10 000 chats with comments)", value=round(rate, 1),
        unit="chats/s", baseline=f"the same {large['raw_calls']} calls made raw: {raw_rate:.0f} chats/s "
        f"(export/raw {rate / raw_rate:.2f}×)", goal="report", met=None,
        note=f"export {large['seconds']:.0f} s (process start included), raw calls {large['raw_seconds']:.0f} s",
        details={"ratio_to_raw": round(rate / raw_rate, 3)})
    return [Figure(
        key="export_memory", title="6. Export memory (peak RSS, 1 000 → 10 000 chats)", value=large["peak_rss_mb"],
        unit="MB", baseline=f"peak RSS at {SIZES[0]:,} chats {small['peak_rss_mb']:.0f} MB".replace(",", " "),
        goal=f"flat (≤ {FLAT}×), < {GOAL_MB} MB", met=complete and growth <= FLAT and large["peak_rss_mb"] < GOAL_MB,
        note=note, details={"runs": runs, "growth": round(growth, 3)}), speed]


def _export(ctx: Context, chats: int) -> dict:
    with ctx.bar(f"6. export: seeding a {chats}-chat sandbox", 1):
        sb = sandbox(chats=chats)
    service = None
    fd, out_path = tempfile.mkstemp(prefix="bench-export-", suffix=".ndjson")
    os.close(fd)
    try:
        service = start_service(sb, ctx.redis_url, workers=1)
        client = new_tenant(service, f"bench-export-{chats}")
        account_id = connect_pat(client, sb)
        version = client.get(f"/integrated-accounts/{account_id}").json()["api_version"]
        service.stop()
        service = None
        env = {**os.environ, "REDIS_URL": ctx.redis_url, "LIVECHAT_API_URL": sb.base_url,
               "LIVECHAT_ACCOUNTS_URL": sb.base_url, "UNIFIED_SECRET_KEY": SECRET_KEY,
               "UNIFIED_ADMIN_TOKEN": ADMIN_TOKEN}
        calls_before = stats(sb)["total_calls"]
        started = time.monotonic()
        with tempfile.TemporaryFile() as log:
            proc = subprocess.Popen([sys.executable, "-m", "unified_ticketing.cli", "export", "--account", account_id,
                                     "--out", out_path], env=env, stdout=subprocess.DEVNULL, stderr=log)
            status, usage = _wait(ctx, proc, out_path + ".cursor", chats, started)
            if status != 0:
                log.seek(0)
                raise RuntimeError(f"export of {chats} chats exited with {status}: "
                                   f"{log.read()[-1500:].decode(errors='replace')}")
        seconds = time.monotonic() - started
        with open(out_path, "rb") as f:
            tickets = sum(1 for _ in f)
        return {"tickets": tickets, "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "seconds": round(seconds, 1),
                "output_mb": round(os.path.getsize(out_path) / 2**20, 1),
                "upstream_calls": stats(sb)["total_calls"] - calls_before, **_raw_calls(sb, version)}
    finally:
        if service:
            service.stop()
        sb.stop()
        for path in (out_path, out_path + ".cursor"):
            if os.path.exists(path):
                os.unlink(path)


def _raw_calls(sb, version: str) -> dict:
    """The calls the export makes, made directly: every archive page, and the thread pages of each chat."""
    upstream = Upstream(sb)
    started, calls = time.monotonic(), 0

    def pages(method: str, first: dict):
        nonlocal calls
        body = first
        while True:
            resp = upstream.call(method, body, version=version)
            calls += 1
            if resp.status_code != 200:
                raise RuntimeError(f"raw {method} failed: {resp.status_code} {resp.text[:300]}")
            data = resp.json()
            yield data
            if not data.get("next_page_id"):
                return
            body = {"page_id": data["next_page_id"]}

    seen = set()  # an archive page lists a chat once per thread: the export reads each chat's threads once
    for page in pages("list_archives", {"limit": 100, "sort_order": "desc", "filters": {}}):
        for chat in page["chats"]:
            if chat["id"] not in seen:
                seen.add(chat["id"])
                for _ in pages("list_threads", {"chat_id": chat["id"], "sort_order": "asc", "limit": 20}):
                    pass
    return {"raw_seconds": round(time.monotonic() - started, 1), "raw_calls": calls}


def _wait(ctx: Context, proc: subprocess.Popen, cursor_file: str, chats: int, started: float):
    """Wait for the export (bounded), showing its progress from the cursor file; (exit status, rusage)."""
    with ctx.bar(f"6. export of {chats} chats", chats) as advance:
        shown = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                return proc.returncode, usage
            if time.monotonic() - started > TIMEOUT:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                raise RuntimeError(f"export of {chats} chats did not finish in {TIMEOUT} s")
            try:
                with open(cursor_file) as f:
                    done = json.load(f)["exported"]
                advance(done - shown)
                shown = done
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.5)

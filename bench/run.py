"""`make bench`: the seven figures of issue 6, each against its baseline measured in the same run.

Starts Redis (embedded Valkey unless REDIS_URL), a LiveChat sandbox and the production server on
loopback, runs every figure, prints the table and writes bench/results.json and the results part
of bench/RESULTS.md (the rest of that file, the log of optimizations, is written by hand).

    python -m bench                 # everything (about 6 minutes on a 2-core machine)
    python -m bench --only 1,3      # some figures; the others keep their last results
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import urllib3
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from unified_ticketing.state.redis_server import private_redis_url

from . import calls, cpu, export, herd, overhead, overrides, paging, ratelimit, throughput
from .common import Context, Figure, Upstream, connect_pat, new_tenant, sandbox, start_service

HERE = Path(__file__).resolve().parent
RESULTS_JSON = HERE / "results.json"
RESULTS_MD = HERE / "RESULTS.md"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
FIGURES = {1: overhead, 2: cpu, 3: calls, 4: herd, 5: ratelimit, 6: export, 7: throughput, 8: paging, 9: overrides}
SERVICE_WORKERS = 2


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated figure numbers (1-8); default: all")
    args = parser.parse_args(argv)
    chosen = sorted(int(n) for n in args.only.split(",")) if args.only else sorted(FIGURES)
    urllib3.disable_warnings()
    console = Console()
    load_before = os.getloadavg()[0]
    if not console.is_terminal:
        console.width = 160
    began = time.monotonic()
    figures: list[Figure] = []
    url, embedded = private_redis_url()
    sb = service = None
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                        TimeElapsedColumn(), console=console, transient=True)
    try:
        console.print(f"Redis {url}{' (embedded Valkey)' if embedded else ''}; starting the sandbox and "
                      f"`serve --workers {SERVICE_WORKERS}`...")
        sb = sandbox()
        service = start_service(sb, url, workers=SERVICE_WORKERS)
        client = new_tenant(service, "bench")
        account_id = connect_pat(client, sb)
        ctx = Context(url, sb, service, client, account_id, Upstream(sb), progress)
        with progress:
            for number in chosen:
                t0 = time.monotonic()
                try:
                    got = FIGURES[number].run(ctx)
                except Exception as exc:  # one broken figure must not hide the others
                    console.print(f"[red]figure {number} failed:[/red]")
                    console.print(traceback.format_exc())
                    got = [Figure(key=f"figure_{number}", title=f"{number}. (failed)", value=None, unit="",
                                  baseline="", goal="", met=False, note=f"failed: {exc}")]
                for f in got:
                    console.print(f"  {f.title}: [bold]{f.shown()}[/bold]  ({f.baseline})")
                console.print(f"figure {number} took {time.monotonic() - t0:.0f} s")
                figures += got
    finally:
        if service:
            service.stop()
        if sb:
            sb.stop()
        if embedded:
            embedded.stop()
    duration = time.monotonic() - began
    results = _merge(figures, duration if chosen == sorted(FIGURES) else None, (load_before, os.getloadavg()[0]))
    console.print(_table(results["figures"]))
    console.print(f"{len(figures)} results in {duration:.0f} s; wrote {RESULTS_JSON.relative_to(Path.cwd())} "
                  f"and {RESULTS_MD.relative_to(Path.cwd())}" if HERE.is_relative_to(Path.cwd()) else "")
    return 0


def _merge(figures: list[Figure], duration: float | None, load: tuple[float, float]) -> dict:
    """This run's figures over the last results (so `--only` keeps the others), written to disk.
    `duration` is None for a partial run: the last complete run's duration stays."""
    last = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    previous = last.get("figures", [])
    if duration is None:
        duration = last.get("duration_s")
    rerun = {_number(asdict(f)) for f in figures}
    merged = [asdict(f) for f in figures] + [f for f in previous if _number(f) not in rerun]
    merged.sort(key=_number)  # stable: a figure's rows keep their order
    results = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": _git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_start_and_end": [round(x, 2) for x in load]},
        "duration_s": round(duration, 1) if duration is not None else None,  # of the last complete run
        "figures": merged,
    }
    RESULTS_JSON.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    _write_markdown(results)
    return results


def _number(figure: dict) -> int:
    return int(figure["title"].split(".")[0])


def _mark(met, markdown: bool = True) -> str:
    return {True: "yes", False: "**no**" if markdown else "NO", None: "—"}[met]


def _shown(f: dict) -> str:
    return Figure(**f).shown()


def _table(figures: list[dict]) -> Table:
    table = Table(title="unified-ticketing benchmarks (ratios and counts against same-run baselines)")
    for col in ("figure", "result", "baseline (same run)", "goal", "met"):
        table.add_column(col, overflow="fold")
    for f in figures:
        result = _shown(f) if f["value"] is not None else f["note"]
        table.add_row(f["title"], result, f["baseline"], f["goal"], _mark(f["met"], markdown=False))
    return table


def _write_markdown(results: dict) -> None:
    load = results["machine"]["load_average_at_start_and_end"][0]
    lines = [START, "", f"Generated {results['generated_at']} at commit `{results['git_commit']}` on "
             f"{results['machine']['cpus']} CPUs, Python {results['machine']['python']}; the last complete "
             f"`make bench` took {_took(results)}; load average {load:g} "
             f"at the start (other work on the machine makes every figure noisier). Absolute times are context only.",
             "",
             "| figure | result | baseline (same run) | goal | met | note |", "|---|---|---|---|---|---|"]
    for f in results["figures"]:
        result = _shown(f) if f["value"] is not None else "—"
        note = f["note"].replace("|", "\\|")
        lines.append(f"| {f['title']} | {result} | {f['baseline']} | {f['goal']} | {_mark(f['met'])} | {note} |")
    lines += ["", END]
    block = "\n".join(lines)
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS_MD.write_text(text)


def _took(results: dict) -> str:
    return f"{results['duration_s']:.0f} s" if results["duration_s"] else "(no complete run yet)"


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE,
                             timeout=10)
        if out.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "unified_ticketing", "mappings"],
                               capture_output=True, text=True, cwd=HERE.parent, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())

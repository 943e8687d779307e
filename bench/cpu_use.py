"""CPU seconds spent by the processes of a measurement (Linux /proc, and Redis' own INFO): what explains
a throughput ratio on a machine whose cores the sandbox, Redis, the service and the callers share."""
from __future__ import annotations

import os
import time
from pathlib import Path

import redis

_TICK = os.sysconf("SC_CLK_TCK")


def _process_seconds(pid: int) -> float:
    """utime + stime of `pid` (its threads included), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


class Meter:
    """CPU seconds per part between `start()` and `stop()`: each part is a pid (with its children, read at
    start: gunicorn's workers), `"redis"` (INFO's used_cpu_*), or `"callers"` (this process)."""

    def __init__(self, redis_url: str, parts: dict[str, int | str]):
        self.redis = redis.Redis.from_url(redis_url)
        self.parts = parts
        self.pids: dict[str, list[int]] = {}
        self.started: dict[str, float] = {}

    def _read(self, name: str) -> float:
        part = self.parts[name]
        if part == "redis":
            info = self.redis.info("cpu")
            return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
        if part == "callers":
            return time.process_time()
        return sum(_process_seconds(pid) for pid in self.pids[name])

    def start(self) -> None:
        for name, part in self.parts.items():
            if isinstance(part, int):
                self.pids[name] = [part, *_children(part)]
            self.started[name] = self._read(name)

    def stop(self) -> dict[str, float]:
        return {name: self._read(name) - self.started[name] for name in self.parts}

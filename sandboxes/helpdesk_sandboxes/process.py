"""Start a sandbox as a child process and wait until it listens (used by tests, benchmarks and `dev`)."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import requests


@dataclass
class SandboxProcess:
    base_url: str
    process: subprocess.Popen

    def admin(self, method: str, path: str, **kwargs):
        """Call the sandbox's loopback-only admin API (`/_sandbox/...`)."""
        resp = requests.request(method, f"{self.base_url}/_sandbox/{path}", verify=False, timeout=30, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_sandbox(*args: str, timeout: float = 120.0) -> SandboxProcess:
    """Run `unified-ticketing sandbox --port 0 ARGS...` and return once it serves."""
    fd, ready = tempfile.mkstemp(prefix="sandbox-ready-")
    os.close(fd)
    os.unlink(ready)
    with tempfile.TemporaryFile() as log:  # the child keeps its own descriptor
        proc = subprocess.Popen([sys.executable, "-m", "unified_ticketing.cli", "sandbox", "--port", "0",
                                 "--ready-file", ready, *args], stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + timeout
    while not _read(ready):
        if proc.poll() is not None:
            raise RuntimeError(f"sandbox exited with status {proc.returncode}; run it by hand to see why")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("sandbox did not start in time")
        time.sleep(0.05)
    base = _read(ready)
    os.unlink(ready)
    return SandboxProcess(base, proc)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""

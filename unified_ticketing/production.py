"""The production server: gunicorn with the app factory loaded in each worker after fork."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication


class Server(BaseApplication):
    def __init__(self, options: dict, overrides: dict | None = None):
        self.options = options
        self.overrides = overrides
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from .app import create_app

        return create_app(self.overrides)


def run(host: str, port: int, workers: int, timeout: int, overrides: dict | None = None) -> None:
    Server({"bind": f"{host}:{port}", "workers": workers, "timeout": timeout, "graceful_timeout": timeout,
            "worker_class": "gthread", "threads": 8, "accesslog": "-"}, overrides).run()

"""What every sandbox sets up the same way: its settings checked before it starts, the startup knobs and an
empty quota on each reset, latency and injected faults before a handler runs, the request's JSON object, the
Flask app that carries it, and serving until stopped with its webhook deliveries.

A sandbox's own parts (`stats`, `webhooks` with start()/stop(), `store.lock`, `credentials()`) are the
helpdesk's; the answers to a fault or a bad body are too (each raises its helpdesk's error)."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from flask import Flask, request

from .knobs import TokenBucket, pick_fault
from .tls import listen


@dataclass
class Options:
    """What every sandbox is started with; each adds the size of its seeded data (and its own port)."""
    host: str = "127.0.0.1"
    port: int = 0  # 0 picks a free port
    seed: int = 1
    tls: bool = False
    knobs: dict = field(default_factory=dict)


class SandboxBase:
    knobs_class: type  # the sandbox's Knobs (knobs.CheckedSettings)

    def __init__(self, options, stats):
        problems = self.knobs_class().problems(options.knobs)
        if problems:
            raise ValueError(f"bad sandbox settings: {'; '.join(problems)}")
        self.options = options
        self.stats = stats
        self.rng = random.Random(options.seed ^ 0x5EED)  # injected faults
        self.base_url = ""

    def startup_knobs(self) -> None:
        """The knobs the sandbox was started with, and a full quota."""
        self.knobs = self.knobs_class()
        self.knobs.update(self.options.knobs)
        self.bucket = TokenBucket()

    def set_base_url(self, base_url: str) -> None:
        self.base_url = base_url

    def delay_and_fault(self) -> str | None:
        """Sleep the `latency_ms` knob, then pick an injected fault (counted; a "timeout" has already waited
        `timeout_seconds`): the fault kind to answer, or None to run the call."""
        knobs = self.knobs
        if knobs.latency_ms:
            time.sleep(knobs.latency_ms / 1000)
        fault = pick_fault(knobs, self.rng)
        if fault:
            self.stats.bump("faults", fault)
            if fault == "timeout":
                time.sleep(knobs.timeout_seconds)
        return fault


def json_object() -> dict | None:
    """The request's JSON body: {} when there is none, None when it is not a JSON object."""
    body = request.get_json(silent=True)
    if body is None:
        body = {} if not request.data else None
    return body if isinstance(body, dict) else None


def flask_app(name: str, sandbox: SandboxBase) -> Flask:
    app = Flask(name)
    app.config["SANDBOX"] = sandbox
    app.json.sort_keys = False  # answers keep the helpdesk's field order
    return app


def serve(app: Flask, options, ready=None) -> None:
    """Run a sandbox's app until interrupted. `ready(base_url)` is called once it listens and delivers webhooks."""
    sandbox: SandboxBase = app.config["SANDBOX"]
    server, base = listen(app, options.host, options.port, options.tls)
    sandbox.set_base_url(base)
    sandbox.webhooks.start()
    if ready:
        ready(base)
    try:
        server.serve_forever()
    finally:
        sandbox.webhooks.stop()
        server.server_close()

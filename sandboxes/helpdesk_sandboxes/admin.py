"""The loopback-only `/_sandbox/` admin routes every sandbox shares: credentials, stats, knobs, reset."""
from __future__ import annotations

import ipaddress

from flask import abort, jsonify, request


def loopback_only() -> None:
    try:
        if ipaddress.ip_address(request.remote_addr or "").is_loopback:
            return
    except ValueError:
        pass
    abort(403)


def register_admin_routes(app, sandbox, reset) -> None:
    """`sandbox` has credentials(), stats, knobs and store.lock; `reset(body)` reseeds it."""

    @app.get("/_sandbox/credentials")
    def sandbox_credentials():
        loopback_only()
        return jsonify(sandbox.credentials())

    @app.get("/_sandbox/stats")
    def sandbox_stats():
        loopback_only()
        return jsonify(sandbox.stats.to_dict())

    @app.post("/_sandbox/stats/reset")
    def sandbox_stats_reset():
        loopback_only()
        sandbox.stats.reset()
        return jsonify(sandbox.stats.to_dict())

    @app.route("/_sandbox/config", methods=["GET", "POST", "PATCH"])
    def sandbox_config():
        loopback_only()
        if request.method != "GET":
            changes = request.get_json(silent=True)
            if not isinstance(changes, dict):
                return jsonify({"error": "send a JSON object of settings"}), 400
            problems = sandbox.knobs.update(changes)
            if problems:
                return jsonify({"error": "; ".join(problems)}), 400
        return jsonify(sandbox.knobs.to_dict())

    @app.post("/_sandbox/reset")
    def sandbox_reset():
        loopback_only()
        body = request.get_json(silent=True) or {}
        with sandbox.store.lock:
            reset(body)
        return jsonify(sandbox.credentials())

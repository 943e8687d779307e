"""The sandbox's WSGI app: REST dispatch (auth, rate limit, latency, faults), file downloads,
and the loopback-only `/_sandbox/` admin API."""
from __future__ import annotations

import math
import random
import re
import time
from dataclasses import dataclass

from flask import Flask, Response, jsonify, request

from .. import base
from ..admin import register_admin_routes
from . import custom_fields as _custom_fields  # noqa: F401  (registers routes)
from . import departments as _departments  # noqa: F401
from . import inquiries as _inquiries  # noqa: F401
from . import messages as _messages  # noqa: F401
from . import rooms as _rooms  # noqa: F401
from . import server as _server  # noqa: F401
from . import settings as _settings
from . import tags as _tags  # noqa: F401
from . import transfers as _transfers  # noqa: F401
from . import uploads as _uploads  # noqa: F401
from . import users as _users  # noqa: F401
from . import visitors as _visitors  # noqa: F401
from .errors import NotLoggedIn, RocketChatError, forbidden, render
from .knobs import Knobs, Stats
from .routes import REGISTRY, Call, Route, permissions_of
from .seed import seed_store, seeded_file_bytes
from .state import Store
from .webhooks import Dispatcher


@dataclass
class SandboxOptions(base.Options):
    port: int = 3000
    rooms: int = 300


class Sandbox(base.SandboxBase):
    """One Rocket.Chat workspace with Omnichannel, its users' personal access tokens, knobs and statistics."""
    knobs_class = Knobs

    def __init__(self, options: SandboxOptions):
        super().__init__(options, Stats())
        self.webhooks = Dispatcher(self)
        self.reset(options.seed, options.rooms)

    def reset(self, seed: int, rooms: int) -> None:
        """Back to the state the sandbox started in: seeded data, the same tokens, startup knobs."""
        self.startup_knobs()
        self.store = Store(random.Random(seed ^ 0xC0FFEE))
        self.principals = seed_store(self.store, seed, rooms)
        self.settings = _settings.defaults()  # `settings/:_id`: the Omnichannel webhook's
        self.webhooks.reset()
        self.stats.reset()

    def token_of(self, user_id: str) -> str:
        return next(t for (u, t) in self.store.tokens if u == user_id)

    def credentials(self) -> dict:
        store = self.store
        manager = store.users[self.principals["manager"]]
        restricted = self.principals["restricted"]
        agents = [u for u in store.users.values() if "livechat-agent" in u["roles"]]
        return {
            "server_url": self.base_url, "user_id": manager["_id"], "username": manager["username"],
            "auth_token": self.token_of(manager["_id"]),
            "headers": {"X-User-Id": manager["_id"], "X-Auth-Token": self.token_of(manager["_id"])},
            "agents": [{"user_id": a["_id"], "username": a["username"], "auth_token": self.token_of(a["_id"])}
                       for a in agents],
            "restricted_user": {"user_id": restricted, "auth_token": self.token_of(restricted),
                                "note": "a plain user without Omnichannel permissions (403 answers)"},
        }


def create_app(options: SandboxOptions | None = None) -> Flask:
    options = options or SandboxOptions()
    sandbox = Sandbox(options)
    app = base.flask_app("rocketchat_sandbox", sandbox)

    for r in REGISTRY:
        app.add_url_rule(r.path, f"{r.method} {r.path}", _view(sandbox, r), methods=[r.method])

    @app.errorhandler(404)
    def not_found(_err):
        if request.path.startswith("/api/"):
            return jsonify({"success": False, "error": "API endpoint not found"}), 404
        return Response("Not Found", 404, content_type="text/plain")

    @app.get("/file-upload/<file_id>/<path:name>")
    def download(file_id: str, name: str):
        """A room's file. Needs the agent's headers (or `rc_uid`/`rc_token` cookies or query), or the room's
        visitor token as `rc_token` with `rc_room_type=l`."""
        store = sandbox.store
        with store.lock:
            stored = store.files.get(file_id)
            uid = request.headers.get("X-User-Id") or request.cookies.get("rc_uid") or request.args.get("rc_uid")
            token = (request.headers.get("X-Auth-Token") or request.cookies.get("rc_token")
                     or request.args.get("rc_token"))
            room = store.rooms.get(stored["rid"]) if stored else None
            agent_ok = uid is not None and store.tokens.get((uid, token or "")) is not None and \
                "view-l-room" in permissions_of(store.users[uid])
            visitor_ok = room is not None and token is not None and room["v"]["token"] == token
        if not (agent_ok or visitor_ok):
            return Response("Forbidden", 403, content_type="text/plain")
        # Express routes on the path as sent and decodes each parameter; the server (cheroot) keeps an
        # encoded slash in PATH_INFO, so a name holding "/" arrives with %2F still in it
        if stored is None or stored["name"] != re.sub("%2[fF]", "/", name):
            return Response("Not Found", 404, content_type="text/plain")
        data = stored["data"] if stored["data"] is not None else seeded_file_bytes(file_id, stored["size"])
        disposition = f"attachment; filename*=UTF-8''{request.path.rsplit('/', 1)[-1]}"
        return Response(data, content_type=stored["type"], headers={"Content-Disposition": disposition})

    register_admin_routes(app, sandbox, lambda body: sandbox.reset(int(body.get("seed", options.seed)),
                                                                   int(body.get("rooms", options.rooms))))

    return app


def _view(sandbox: Sandbox, r: Route):
    def view(**params):
        sandbox.stats.bump("calls", f"{r.method} {r.path}")
        limit_headers: dict[str, str] = {}
        try:
            result = _dispatch(sandbox, r, params, limit_headers)
            resp = jsonify(result)
        except RocketChatError as err:
            sandbox.stats.bump("errors", err.kind)
            resp = render(err)
        for k, v in limit_headers.items():
            resp.headers[k] = v
        return resp
    return view


def _dispatch(sandbox: Sandbox, r: Route, params: dict, limit_headers: dict):
    store = sandbox.store
    user = None
    if r.auth == "user":
        uid, token = request.headers.get("X-User-Id"), request.headers.get("X-Auth-Token")
        with store.lock:
            if not uid or not token or store.tokens.get((uid, token)) is None:
                raise NotLoggedIn()
            user = store.users[uid]
        if r.permissions and not set(r.permissions) & permissions_of(user):
            raise forbidden()
    _rate_limit(sandbox, limit_headers)
    fault = sandbox.delay_and_fault()
    if fault:
        if fault == "timeout":
            raise RocketChatError("Gateway Timeout", 504)
        raise RocketChatError("Internal server error", 500)
    files = None
    if r.method == "GET":
        body = {}
    elif request.mimetype == "multipart/form-data":
        body, files = request.form.to_dict(), request.files
    else:
        body = base.json_object()
        if body is None:
            raise RocketChatError("Invalid JSON body", 400)
    with store.lock:
        return r.handler(Call(sandbox, user, request.args, body, params, files, request.headers))


def _rate_limit(sandbox: Sandbox, headers: dict) -> None:
    """Rocket.Chat's rate limiter answer: `X-RateLimit-*` headers, and 429 with `error-too-many-requests`."""
    knobs = sandbox.knobs
    if knobs.rate_limit <= 0:
        return
    wait = sandbox.bucket.take(knobs.rate_limit, knobs.rate_burst)
    cap = knobs.rate_burst or max(1, math.floor(knobs.rate_limit))
    now_ms = int(time.time() * 1000)
    tokens = sandbox.bucket.tokens or 0.0
    headers["X-RateLimit-Limit"] = str(cap)
    headers["X-RateLimit-Remaining"] = str(max(0, math.floor(tokens)))
    headers["X-RateLimit-Reset"] = str(now_ms + math.ceil(1000 * max(wait or 0.0, (cap - tokens) / knobs.rate_limit)))
    if wait is not None:
        sandbox.stats.bump("rate_limited")
        seconds = max(1, math.ceil(wait))
        err = RocketChatError("Error, too many requests. Please slow down. You must wait "
                              f"{seconds} seconds before trying this endpoint again. [error-too-many-requests]",
                              429, "error-too-many-requests")
        err.headers = dict(headers)
        raise err


def serve(options: SandboxOptions, ready=None) -> None:
    """Run the sandbox until interrupted. `ready(base_url)` is called once it listens."""
    base.serve(create_app(options), options, ready)

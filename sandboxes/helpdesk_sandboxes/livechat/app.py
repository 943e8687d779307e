"""The sandbox's WSGI app: API dispatch, accounts host, CDN, and the loopback-only `/_sandbox/` admin."""
from __future__ import annotations

import base64
import json
import logging
import math
import random
import time
import uuid
from dataclasses import dataclass

from flask import Flask, Response, abort, jsonify, request

from .. import base
from ..admin import loopback_only, register_admin_routes
from . import accounts, agent_api, configuration_api  # noqa: F401  (registers methods)
from .auth import ALL_SCOPES, Registry, new_token, require
from .errors import LiveChatError, render
from .knobs import Knobs, Stats
from .methods import REGISTRY, Call
from .seed import AGENTS, seed_store, seeded_file_bytes
from .state import Store
from .webhooks import Dispatcher

log = logging.getLogger("livechat-sandbox")
LEGACY_HEADER = {"3.5": "2025-08-07"}


@dataclass
class SandboxOptions(base.Options):
    port: int = 8800
    chats: int = 300
    region: str = "dal"  # the license's data center: "dal" (LiveChat's default) or "fra"
    licenses: int = 1  # more licenses (organizations) besides the first, each with its own agents and chats


class Sandbox(base.SandboxBase):
    """LiveChat licenses (the first one, `store`, plus `--licenses` - 1 more) with their agents'
    credentials, the OAuth clients (owned by the first license's organization), knobs and statistics."""
    knobs_class = Knobs

    def __init__(self, options: SandboxOptions):
        super().__init__(options, Stats())
        self.webhooks = Dispatcher(self)
        self.reset(options.seed, options.chats)

    def reset(self, seed: int, chats: int, region: str | None = None) -> None:
        """Back to the state the sandbox started in: seeded data, fresh credentials, startup knobs;
        `region` moves the license to that data center (its tokens then start with "<region>:")."""
        self.region = region or self.options.region
        self.startup_knobs()
        rng = random.Random(seed)
        self.store = Store(license_id=10_000_000 + rng.randrange(9_000_000),
                           organization_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        self.store.cdn_base = self.base_url + "/cdn/api/file/lc/att/" if self.base_url else ""
        seed_store(self.store, seed, chats)
        self.registry = Registry()
        owner = next(iter(self.store.agents))
        self.account_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.registry.accounts[self.account_id] = owner
        for agent in list(self.store.agents)[1:]:
            self.registry.accounts[str(uuid.UUID(int=rng.getrandbits(128), version=4))] = agent
        self.pat = f"{self.region}:" + base64.urlsafe_b64encode(rng.randbytes(20)).decode().rstrip("=")
        self.registry.pats[(self.account_id, self.pat)] = list(ALL_SCOPES)
        self.clients = {}
        for kind in ("pkce", "server"):
            client_id = rng.randbytes(16).hex()
            self.clients[kind] = client_id
            self.registry.clients[client_id] = {
                "secret": rng.randbytes(24).hex(), "rotating": kind == "pkce", "type": kind}
        first = self.store.organization_id
        self.registry.licenses = dict.fromkeys(self.registry.accounts, first)
        for client in self.registry.clients.values():
            client["organization_id"] = first  # the app developer's organization owns its client ids
        self.stores = {first: self.store}
        self.license_owners = {first: (self.account_id, self.pat)}
        for n in range(1, self.options.licenses):
            self._add_license(seed, chats, n)
        self.webhooks.reset()
        self.stats.reset()

    def _add_license(self, seed: int, chats: int, n: int) -> None:
        """Another organization with its own license, agents (other emails), chats and owner's PAT.
        Seeded from its own generator, so the first license is the same whatever `--licenses` says."""
        rng = random.Random(seed * 1_000_003 + n)
        store = Store(license_id=10_000_000 + rng.randrange(9_000_000),
                      organization_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        store.lock = self.store.lock  # one lock for the whole sandbox: callers hold `sandbox.store.lock`
        store.cdn_base = self.store.cdn_base
        seed_store(store, seed + n, chats,
                   [(e.replace("@helpdesk.example", f"@license{n + 1}.example"), *rest) for e, *rest in AGENTS])
        owner = None
        for agent in store.agents:
            account_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            self.registry.accounts[account_id] = agent
            self.registry.licenses[account_id] = store.organization_id
            owner = owner or account_id
        pat = "dal:" + base64.urlsafe_b64encode(rng.randbytes(20)).decode().rstrip("=")
        self.registry.pats[(owner, pat)] = list(ALL_SCOPES)
        self.stores[store.organization_id] = store
        self.license_owners[store.organization_id] = (owner, pat)

    def store_of(self, principal) -> Store:
        """The license a caller's account belongs to (the first one for the customer side)."""
        org = getattr(principal, "organization_id", None)
        return self.stores.get(org, self.store) if org else self.store

    def set_base_url(self, base_url: str) -> None:
        super().set_base_url(base_url)
        for store in self.stores.values():
            store.cdn_base = base_url + "/cdn/api/file/lc/att/"

    def credentials(self) -> dict:
        pkce, server = (self.registry.clients[self.clients[k]] for k in ("pkce", "server"))
        basic = base64.b64encode(f"{self.account_id}:{self.pat}".encode()).decode()
        return {
            "license_id": self.store.license_id, "organization_id": self.store.organization_id, "region": self.region,
            "account_id": self.account_id, "agent_id": self.registry.accounts[self.account_id],
            "personal_access_token": self.pat, "basic_authorization": f"Basic {basic}",
            "client_id": self.clients["pkce"], "client_secret": pkce["secret"],
            "server_client_id": self.clients["server"], "server_client_secret": server["secret"],
            "scopes": list(ALL_SCOPES), "api_url": self.base_url, "accounts_url": self.base_url,
            "licenses": [self._license_credentials(org) for org in self.stores],
        }

    def _license_credentials(self, org: str) -> dict:
        store, (account_id, pat) = self.stores[org], self.license_owners[org]
        basic = base64.b64encode(f"{account_id}:{pat}".encode()).decode()
        return {"license_id": store.license_id, "organization_id": org, "account_id": account_id,
                "agent_id": self.registry.accounts[account_id], "personal_access_token": pat,
                "basic_authorization": f"Basic {basic}"}

    def mint_pat(self, scopes: list[str], agent_id: str | None = None) -> dict:
        account_id = next((a for a, e in self.registry.accounts.items() if e == agent_id), self.account_id)
        token = new_token(self.region)
        self.registry.pats[(account_id, token)] = list(scopes)
        basic = base64.b64encode(f"{account_id}:{token}".encode()).decode()
        return {"account_id": account_id, "personal_access_token": token, "basic_authorization": f"Basic {basic}"}


def create_app(options: SandboxOptions | None = None) -> Flask:
    options = options or SandboxOptions()
    sandbox = Sandbox(options)
    app = base.flask_app("livechat_sandbox", sandbox)

    @app.errorhandler(LiveChatError)
    def livechat_error(err: LiveChatError):
        return render(err, sandbox.knobs.error_status)

    @app.post("/v<version>/<api>/action/<name>")
    def action(version: str, api: str, name: str):
        if api not in ("agent", "configuration"):
            abort(404)
        m = REGISTRY.get((api, name))
        sandbox.stats.bump("calls", name)
        sandbox.stats.bump("calls_by_path", f"v{version}/{api}/{name}")
        if request.headers.get("X-Request-Id"):
            sandbox.stats.request_ids.append(request.headers["X-Request-Id"])
        try:
            return _dispatch(sandbox, m, version, name)
        except LiveChatError as err:
            sandbox.stats.bump("errors", err.type)
            resp = render(err, sandbox.knobs.error_status)
            if err.type == "too_many_requests":
                resp.headers["Retry-After"] = str(max(1, math.ceil(getattr(err, "retry_after", 1))))
            return resp

    accounts.register_routes(app, sandbox)

    @app.get("/cdn/api/file/lc/att/<path:path>")
    def cdn(path: str):
        with sandbox.store.lock:  # one CDN for every license
            stored = next((found for store in sandbox.stores.values()
                           if (found := store.files.get(path) or _seeded_file(store, path))), None)
        if stored is None:
            abort(404)
        content_type, data = stored
        return Response(data, content_type=content_type)

    def reset(body: dict) -> None:
        region = body.get("region")
        if region not in (None, "dal", "fra"):
            abort(400, "region must be dal or fra")
        sandbox.reset(int(body.get("seed", options.seed)), int(body.get("chats", options.chats)), region)
        sandbox.set_base_url(sandbox.base_url)

    register_admin_routes(app, sandbox, reset)

    @app.post("/_sandbox/personal-access-tokens")
    def sandbox_pat():
        loopback_only()
        body = request.get_json(silent=True) or {}
        scopes = body.get("scopes", list(ALL_SCOPES))
        return jsonify(sandbox.mint_pat(scopes, body.get("agent_id")))

    @app.post("/_sandbox/customer-messages")
    def sandbox_customer_message():
        """Simulate the customer side: a customer writes into a chat (starting or resuming it)."""
        loopback_only()
        body = request.get_json(silent=True) or {}
        try:
            with sandbox.store.lock, sandbox.webhooks.batch():
                return jsonify(agent_api.customer_writes(sandbox, body))
        except LiveChatError as err:
            return render(err, "http")

    @app.post("/_sandbox/agent-app")
    def sandbox_agent_app():
        """Simulate the agent app: an agent's routing status, or an event deleted there."""
        loopback_only()
        try:
            return jsonify(agent_api.agent_app_action(sandbox, request.get_json(silent=True) or {}))
        except LiveChatError as err:
            return render(err, "http")

    return app


def _dispatch(sandbox: Sandbox, m, version: str, name: str):
    if version not in ("3.5", "3.6") and m is not None:
        raise LiveChatError("unsupported_version", f"API version {version} is not supported; use 3.5 or 3.6")
    if m is None or version not in m.versions:
        raise LiveChatError("not_found", f"Method {name} does not exist in version {version}")
    # A license lives in one data center; a call reaches `dal` unless `X-Region` says otherwise, and
    # the wrong one answers misdirected_request naming the license's region (docs: Agent Chat Web
    # API / Configuration API "Data centers" until commit c91d7891; error format: "# Errors" in
    # src/pages/messaging/agent-chat-api/index.mdx). The section is gone from today's docs, which
    # may mean the servers now route by themselves: enforcing the last documented rule is the safe
    # side (docs/fidelity.md).
    if (request.headers.get("X-Region") or "dal") != sandbox.region:
        raise LiveChatError("misdirected_request", "Wrong region", {"region": sandbox.region})
    with sandbox.store.lock:
        principal = sandbox.registry.principal(request.headers.get("Authorization"), time.time())
    require(principal, m.scopes, name)
    knobs = sandbox.knobs
    wait = sandbox.bucket.take(knobs.rate_limit, knobs.rate_burst)
    if wait is not None:
        sandbox.stats.bump("rate_limited")
        err = LiveChatError("too_many_requests", "Requests limit exceeded for this license; try again later")
        err.retry_after = wait
        raise err
    targeted = not knobs.fault_methods or name in knobs.fault_methods
    fault = sandbox.delay_and_fault() if targeted else None
    if fault:
        if fault == "timeout":
            raise LiveChatError("request_timeout", "Request timed out")
        if fault == "error_200":
            body = LiveChatError("internal", "Internal server error").body()
            return Response(json.dumps(body), status=200, content_type="application/json")
        raise LiveChatError("internal", "Internal server error")
    if m.name == "upload_file":
        body, files = {}, request.files
    else:
        body = base.json_object()
        if body is None:
            raise LiveChatError("validation", "Request body must be a JSON object")
        files = None
    call = Call(sandbox, principal, body, version, files)
    with sandbox.store.lock, sandbox.webhooks.batch(call.store):  # payloads show the state the call left
        result = m.handler(call)
    resp = jsonify(result)
    if version in LEGACY_HEADER:
        resp.headers["Legacy"] = LEGACY_HEADER[version]
    return resp


def _seeded_file(store: Store, path: str):
    """Content of a seeded file event's URL, rebuilt from the event it belongs to."""
    parts = path.split("/")
    if len(parts) != 3 or "_" not in parts[1]:
        return None
    thread_id = parts[1].rsplit("_", 1)[0]
    thread = store.threads.get(thread_id)
    if thread is None:
        return None
    for ev in store.events(thread):
        if ev["id"] == parts[1] and ev["type"] == "file":
            return ev["content_type"], seeded_file_bytes(path, ev["size"])
    return None


def serve(options: SandboxOptions, ready=None) -> None:
    """Run the sandbox until interrupted. `ready(base_url)` is called once it listens."""
    base.serve(create_app(options), options, ready)

"""Shared fixtures: a real Redis (embedded Valkey unless REDIS_URL) and LiveChat sandboxes over HTTP."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import requests
import urllib3

from helpdesk_sandboxes.process import start_sandbox
from unified_ticketing.state.redis_server import private_redis_url, running_shared

# Commands the tests run without REDIS_URL must not find the user's shared data or a `make run` stack.
DATA_DIR = os.environ["UNIFIED_DATA_DIR"] = tempfile.mkdtemp(prefix="ut-")

# The sandbox's TLS certificate is self-signed.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


@pytest.fixture(scope="session", autouse=True)
def data_dir_removed():
    """No shared embedded Valkey (started by a command without REDIS_URL) outlives the session."""
    yield
    if shared := running_shared(Path(DATA_DIR)):
        shared.shutdown()
    shutil.rmtree(DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server_url():
    url, embedded = private_redis_url()
    yield url
    if embedded:
        embedded.stop()


@pytest.fixture(scope="session")
def sandbox():
    """A 300-chat sandbox over https that tests only read from: never write to it."""
    proc = start_sandbox("--chats", "300", "--seed", "7", "--tls")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def writable_sandbox():
    """A sandbox a test module may change; reset to its seed before each use."""
    proc = start_sandbox("--chats", "40", "--seed", "11", "--tls")
    yield proc
    proc.stop()


@pytest.fixture
def fresh_sandbox(writable_sandbox):
    writable_sandbox.admin("POST", "reset")
    writable_sandbox.admin("POST", "config", json={
        "rate_limit": 0, "rate_burst": 0, "latency_ms": 0, "fault_rate": 0, "error_status": "http",
        "token_ttl": 28800, "webhook_retry_delays": [0.2, 0.2, 0.2], "webhook_timeout": 2})
    return writable_sandbox


@pytest.fixture
def credentials(sandbox):
    return sandbox.admin("GET", "credentials")


def lc_call(sandbox, method: str, body: dict | None = None, auth: str | None = None, version: str = "3.5",
            api: str = "agent"):
    """POST one LiveChat method to a sandbox, with the seeded PAT unless `auth` is given."""
    if auth is None:
        auth = sandbox.admin("GET", "credentials")["basic_authorization"]
    return _SESSION.post(f"{sandbox.base_url}/v{version}/{api}/action/{method}", json=body or {},
                         headers={"Authorization": auth}, verify=False, timeout=30)


_SESSION = requests.Session()  # keep-alive: one TLS handshake, not one per call


class ServiceClient:
    """Talks to the running service over HTTP as one tenant."""

    def __init__(self, base_url: str, api_key: str | None = None):
        self.base_url = base_url
        self.api_key = api_key
        self.session = requests.Session()

    def request(self, method: str, path: str, api_key: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        key = api_key or self.api_key
        if key:
            headers.setdefault("Authorization", f"Bearer {key}")
        return self.session.request(method, self.base_url + path, headers=headers, timeout=60, **kwargs)

    def get(self, path: str, **params):
        return self.request("GET", path, params=params)

    def post(self, path: str, json=None, **kwargs):
        return self.request("POST", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)


@contextlib.contextmanager
def running_service(overrides: dict):
    """(app, base URL) of the service on a free loopback port, served in a daemon thread until the block ends."""
    import threading

    from unified_ticketing.app import create_app
    from unified_ticketing.http_server import threaded_server

    app = create_app(overrides)
    server = threaded_server("127.0.0.1", 0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        app.extensions["unified"].redis.close()


ADMIN_TOKEN = "test-admin-token"


def service_overrides(sandbox, redis_url: str, **extra) -> dict:
    creds = sandbox.admin("GET", "credentials")
    env = {"LIVECHAT_API_URL": sandbox.base_url, "LIVECHAT_ACCOUNTS_URL": sandbox.base_url,
           "LIVECHAT_FILE_ORIGINS": sandbox.base_url,
           "LIVECHAT_CLIENT_ID": creds["client_id"], "LIVECHAT_CLIENT_SECRET": creds["client_secret"]}
    return {"REDIS_URL": redis_url, "SECRET_KEY": "test-secret", "ADMIN_TOKEN": ADMIN_TOKEN, "UPSTREAM_ENV": env,
            "UPSTREAM_VERIFY_TLS": False, **extra}


@pytest.fixture(scope="session")
def service(sandbox, redis_server_url):
    with running_service(service_overrides(sandbox, redis_server_url)) as (_, base):
        yield base


def new_tenant(base_url: str, name: str) -> ServiceClient:
    resp = requests.post(f"{base_url}/admin/api-keys", json={"tenant": name},
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)
    assert resp.status_code == 201, resp.text
    return ServiceClient(base_url, resp.json()["api_key"])


def connect_pat(client: ServiceClient, sandbox, api_version: str | None = None) -> str:
    creds = sandbox.admin("GET", "credentials")
    body = {"integration": "livechat", "credentials": {
        "type": "personal_access_token", "account_id": creds["account_id"], "token": creds["personal_access_token"]}}
    if api_version:
        body["api_version"] = api_version
    resp = client.post("/integrated-accounts", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


@pytest.fixture(scope="session")
def tenant(service):
    return new_tenant(service, "acme")


@pytest.fixture(scope="session")
def account_id(tenant, sandbox):
    """A v3.5 account: its oracle reads list_customers, which v3.6 removed (the default, 3.6, is what
    connect_pat gives when no version is named)."""
    return connect_pat(tenant, sandbox, "3.5")


def error(resp, status: int, param: str | None = None) -> dict:
    """The unified error of `resp`, after checking its status, shape and (when given) its param."""
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["status"] == status and err["type"] and err["message"]
    if param:
        assert err.get("param") == param, err
    return err


def traverse(client: ServiceClient, resource: str, **params) -> list[list[dict]]:
    """Every page of a unified list, following next_cursor to the end."""
    pages, cursor = [], None
    for _ in range(1000):
        # a cursor carries its query; presentation options go along with it
        keep = {k: v for k, v in params.items() if k in ("integrated_account_id", "include_remote_data", "format")}
        query = {"next_cursor": cursor, **keep} if cursor else params
        resp = client.get(f"/unified/ticketing/{resource}", **query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["result_count"] == len(body["result"])
        pages.append(body["result"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("pagination did not end")


def sandbox_all(sandbox, method: str, items_key: str, body: dict, version: str = "3.5") -> list:
    """Every item of a LiveChat list method, read straight from the sandbox."""
    out, page_id = [], None
    while True:
        resp = lc_call(sandbox, method, {"page_id": page_id, **{k: v for k, v in body.items() if k == "chat_id"}}
                       if page_id else body, version=version)
        data = resp.json()
        assert resp.status_code == 200, data
        out += data[items_key]
        page_id = data.get("next_page_id")
        if not page_id:
            return out


@pytest.fixture(scope="module")
def writable_service(writable_sandbox, redis_server_url):
    """The service over this module's writable sandbox: write tests never touch the shared `sandbox`."""
    with running_service(service_overrides(writable_sandbox, redis_server_url)) as (_, base):
        yield base


@pytest.fixture(scope="module")
def writer(writable_service, writable_sandbox):
    """(client, integrated account id) of a tenant connected to the writable sandbox (v3.5)."""
    client = new_tenant(writable_service, "writer")
    return client, connect_pat(client, writable_sandbox, "3.5")


# --- Rocket.Chat ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def rc_sandbox():
    """A 120-room Rocket.Chat sandbox that tests only read from: never write to it."""
    proc = start_sandbox("--integration", "rocketchat", "--rooms", "120", "--seed", "5")
    yield proc
    proc.stop()


def connect_rocketchat(client: ServiceClient, sandbox) -> str:
    """Connect a Rocket.Chat workspace (the sandbox's manager's personal access token); the account's id."""
    creds = sandbox.admin("GET", "credentials")
    resp = client.post("/integrated-accounts", json={"integration": "rocketchat", "credentials": {
        "type": "personal_access_token", "server_url": creds["server_url"], "user_id": creds["user_id"],
        "auth_token": creds["auth_token"]}})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


class FakeServer:
    """A server standing for a tenant's own helpdesk server: answers every GET with `status`, `headers` and
    a JSON body (or `answer(hit)` -> (status, body) for the n-th request); counts requests."""

    def __init__(self, status: int = 200, headers: dict | None = None,
                 body: bytes = b'{"success": false, "error": "x"}', answer=None):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.hits = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                fake.hits += 1
                code, data = answer(fake.hits) if answer else (status, body)
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

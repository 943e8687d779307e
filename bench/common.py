"""What every figure needs: the processes under test, a client for the service, OAuth, statistics.

Everything listens on 127.0.0.1. The service runs as the production server does
(`unified-ticketing serve --workers N`, gunicorn) in a child process; the LiveChat sandbox is
another child process; Redis is the embedded Valkey unless REDIS_URL is set.
"""
from __future__ import annotations

import base64
import hashlib
import math
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import requests

from helpdesk_sandboxes.process import SandboxProcess, start_sandbox

ADMIN_TOKEN = "bench-admin-token"
SECRET_KEY = "bench-secret-key"
SANDBOX_SEED = 7
SANDBOX_CHATS = 300
DEFAULT_KNOBS = {"rate_limit": 0, "rate_burst": 0, "latency_ms": 0, "fault_rate": 0, "token_ttl": 28800}


@dataclass
class Figure:
    """One row of the results table: a ratio or a count against its baseline, and the goal."""
    key: str
    title: str
    value: float | int | None  # the ratio or count; None when not measurable
    unit: str  # "×", "calls", "refreshes", "%", "req/s"...
    baseline: str  # what `value` is measured against, with the baseline's own number
    goal: str
    met: bool | None  # None: no goal to meet (report only) or not measurable
    note: str = ""
    details: dict = field(default_factory=dict)  # raw numbers (absolute times are context only)

    def shown(self) -> str:
        if self.value is None:
            return "—"
        if self.unit == "×":
            return f"{self.value:.2f}×"
        if self.unit == "%":
            return f"{self.value:.1f} %"
        if isinstance(self.value, float):
            return f"{self.value:.2f} {self.unit}".strip()
        return f"{self.value} {self.unit}".strip()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the sandbox ------------------------------------------------------------------------------
def sandbox(chats: int = SANDBOX_CHATS, seed: int = SANDBOX_SEED) -> SandboxProcess:
    return start_sandbox("--chats", str(chats), "--seed", str(seed))


def configure(sb: SandboxProcess, **knobs) -> None:
    sb.admin("POST", "config", json={**DEFAULT_KNOBS, **knobs})


def stats(sb: SandboxProcess) -> dict:
    return sb.admin("GET", "stats")


def reset_stats(sb: SandboxProcess) -> None:
    sb.admin("POST", "stats/reset")


class Upstream:
    """Calls LiveChat methods on the sandbox directly, as the service would (the baseline)."""

    def __init__(self, sb: SandboxProcess):
        self.base_url = sb.base_url
        self.auth = sb.admin("GET", "credentials")["basic_authorization"]
        self.session = requests.Session()

    def call(self, method: str, body: dict, version: str = "3.5",
             session: requests.Session | None = None) -> requests.Response:
        return (session or self.session).post(f"{self.base_url}/v{version}/agent/action/{method}", json=body,
                                              headers={"Authorization": self.auth}, timeout=60)


@dataclass
class RawPage:
    """The upstream calls one unified tickets page makes, to replay raw: the first body, then `page_id`
    from each answer's `next_page_id` (integration.yaml's pagination). Page ids are stateless keyset
    anchors, so they are read once and replayed as they are: the baseline times the upstream's calls,
    not a client's decoding of each answer."""
    upstream: Upstream
    method: str
    version: str
    bodies: list[dict]

    def replay(self, session: requests.Session | None = None) -> bool:
        """The page's calls in order on `session` (the upstream's own by default); True if all answered 200."""
        return all(self.upstream.call(self.method, body, self.version, session).status_code == 200
                   for body in self.bodies)

    def __str__(self) -> str:
        n = len(self.bodies)
        return f"the page's {n} {self.method} call{'s' if n > 1 else ''}"


def raw_tickets_page(ctx: Context, limit: int) -> RawPage:
    """The calls of `GET /unified/ticketing/tickets?limit=N` (a first page), as the sandbox counts them,
    checked against the engine's rule: read LiveChat's archive (one entry per thread) until the page
    holds `limit` distinct chats (`dedupe_by: id`) or the list ends."""
    reset_stats(ctx.sandbox)
    resp = ctx.client.get("/unified/ticketing/tickets", integrated_account_id=ctx.account_id, limit=limit)
    if resp.status_code != 200:
        raise RuntimeError(f"unified tickets page failed: {resp.status_code} {resp.text[:300]}")
    counted = stats(ctx.sandbox)["calls_by_path"]  # {"v3.6/agent/list_archives": 3}
    if len(counted) != 1:
        raise RuntimeError(f"a tickets page called more than one upstream method: {counted}")
    (path, calls), = counted.items()
    version, _, method = path.removeprefix("v").partition("/agent/")
    bodies, chats = [{"limit": limit, "sort_order": "desc", "filters": {}}], set()
    while True:
        resp = ctx.upstream.call(method, bodies[-1], version)
        resp.raise_for_status()
        answer = resp.json()
        chats.update(chat["id"] for chat in answer["chats"])
        if len(chats) >= limit or not answer.get("next_page_id"):
            break
        bodies.append({"page_id": answer["next_page_id"]})
    if len(bodies) != calls:
        raise RuntimeError(f"a tickets page of {limit} made {calls} {method} calls, the engine's rule {len(bodies)}")
    return RawPage(ctx.upstream, method, version, bodies)


# --- the service ------------------------------------------------------------------------------
@dataclass
class Service:
    base_url: str
    process: subprocess.Popen
    log_path: str
    workers: int

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        with suppress(FileNotFoundError):
            os.unlink(self.log_path)


def start_service(sb: SandboxProcess, redis_url: str, workers: int, timeout: float = 60.0,
                  env: dict | None = None) -> Service:
    """`unified-ticketing serve --workers N` on a free port, pointed at the sandbox (with its OAuth
    client, for token refresh) and Redis; `env` adds settings."""
    port = free_port()
    creds = sb.admin("GET", "credentials")
    env = {**os.environ, "REDIS_URL": redis_url, "LIVECHAT_API_URL": sb.base_url,
           "LIVECHAT_ACCOUNTS_URL": sb.base_url, "UNIFIED_ADMIN_TOKEN": ADMIN_TOKEN,
           "UNIFIED_SECRET_KEY": SECRET_KEY, "LIVECHAT_CLIENT_ID": creds["client_id"],
           "LIVECHAT_CLIENT_SECRET": creds["client_secret"], **(env or {})}
    fd, log_path = tempfile.mkstemp(prefix="bench-service-", suffix=".log")
    with os.fdopen(fd, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "unified_ticketing.cli", "serve", "--port", str(port),
                                 "--workers", str(workers)], env=env, stdout=log, stderr=subprocess.STDOUT)
    service = Service(f"http://127.0.0.1:{port}", proc, log_path, workers)
    try:
        _wait_ready(service, timeout)
    except BaseException:
        service.stop()  # never leave a server behind (gunicorn's workers go with their master)
        raise
    return service


def _wait_ready(service: Service, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if service.process.poll() is not None:
            raise RuntimeError(f"service exited with status {service.process.returncode}; "
                               f"log: {_tail(service.log_path)}")
        try:
            if requests.get(f"{service.base_url}/openapi.yaml", timeout=5).status_code == 200:
                break
        except requests.RequestException:  # not listening yet, or a worker still booting
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"service did not start in {timeout:g} s; log: {_tail(service.log_path)}")
        time.sleep(0.1)
    # gunicorn answers as soon as one worker is up: wait until every worker has answered once.
    _warm(service, service.workers)


def _warm(service: Service, workers: int) -> None:
    session = requests.Session()
    for _ in range(workers * 10):
        session.get(f"{service.base_url}/openapi.yaml", timeout=30)
    time.sleep(0.5)


def _tail(path: str, n: int = 2000) -> str:
    with open(path, "rb") as f:
        return f.read()[-n:].decode(errors="replace")


class Client:
    """The service as one tenant sees it."""

    def __init__(self, base_url: str, api_key: str):
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.session = requests.Session()

    def get(self, path: str, session: requests.Session | None = None, **params) -> requests.Response:
        return (session or self.session).get(self.base_url + path, params=params, headers=self.headers, timeout=60)

    def post(self, path: str, body: dict) -> requests.Response:
        return self.session.post(self.base_url + path, json=body, headers=self.headers, timeout=60)


def new_tenant(service: Service, name: str) -> Client:
    resp = requests.post(f"{service.base_url}/admin/api-keys", json={"tenant": name},
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)
    resp.raise_for_status()
    return Client(service.base_url, resp.json()["api_key"])


def connect_pat(client: Client, sb: SandboxProcess, api_version: str | None = None) -> str:
    """A LiveChat PAT account on the sandbox (on the default API version unless `api_version`)."""
    creds = sb.admin("GET", "credentials")
    body = {"integration": "livechat", "credentials": {
        "type": "personal_access_token", "account_id": creds["account_id"], "token": creds["personal_access_token"]}}
    resp = client.post("/integrated-accounts", {**body, **({"api_version": api_version} if api_version else {})})
    if resp.status_code != 201:
        raise RuntimeError(f"connecting a PAT account{' on v' + api_version if api_version else ''} failed: "
                           f"{resp.status_code} {resp.text}")
    return resp.json()["id"]


def oauth_tokens(sb: SandboxProcess) -> dict:
    """Access and refresh tokens from the sandbox's OAuth flow (authorization code with PKCE)."""
    creds = sb.admin("GET", "credentials")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    redirect_uri = "http://127.0.0.1/bench-callback"
    resp = requests.get(sb.base_url + "/", params={
        "response_type": "code", "client_id": creds["client_id"], "redirect_uri": redirect_uri, "state": "bench",
        "code_challenge": challenge, "code_challenge_method": "S256"}, allow_redirects=False, timeout=30)
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    resp = requests.post(sb.base_url + "/v2/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": creds["client_id"],
        "client_secret": creds["client_secret"], "redirect_uri": redirect_uri, "code_verifier": verifier},
        timeout=30)
    resp.raise_for_status()
    return resp.json()


def connect_oauth(client: Client, tokens: dict) -> str:
    expires_at = datetime.now(UTC) + timedelta(seconds=tokens["expires_in"])
    resp = client.post("/integrated-accounts", {"integration": "livechat", "credentials": {
        "type": "oauth2", "access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"],
        "expires_at": expires_at.isoformat()}})
    if resp.status_code != 201:
        raise RuntimeError(f"connecting an OAuth account failed: {resp.status_code} {resp.text}")
    return resp.json()["id"]


@dataclass
class Context:
    """The processes shared by the figures: Redis, one sandbox, one service with a PAT account."""
    redis_url: str
    sandbox: SandboxProcess
    service: Service
    client: Client
    account_id: str
    upstream: Upstream
    progress: object  # rich.progress.Progress

    @contextmanager
    def bar(self, description: str, total: float):
        """A progress bar for a bounded loop: `with ctx.bar("...", n) as advance: ... advance()`."""
        task_id = self.progress.add_task(description, total=total)
        try:
            yield lambda n=1: self.progress.advance(task_id, n)
        finally:
            self.progress.remove_task(task_id)

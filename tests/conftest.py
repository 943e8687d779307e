"""Shared fixtures: a real Redis (embedded Valkey unless REDIS_URL) and LiveChat sandboxes over HTTP."""
from __future__ import annotations

import pytest
import requests
import urllib3

from unified_ticketing.sandbox.process import start_sandbox
from unified_ticketing.state.redis_server import redis_url

# The sandbox's TLS certificate is self-signed.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


@pytest.fixture(scope="session")
def redis_server_url():
    url, embedded = redis_url()
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
    return requests.post(f"{sandbox.base_url}/v{version}/{api}/action/{method}", json=body or {},
                         headers={"Authorization": auth}, verify=False, timeout=30)

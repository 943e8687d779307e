"""An upstream call honours the environment's proxy settings (`HTTPS_PROXY`, `NO_PROXY`), which
engine/sessions.py reads once per origin: against the TLS sandbox, through a proxy that refuses
connections (nothing listens there) and, with the sandbox's host in NO_PROXY, straight to it."""
import socket

import pytest

from unified_ticketing.config import DEFAULT_MAPPINGS
from unified_ticketing.engine.calls import Prepared
from unified_ticketing.engine.loader import load_all
from unified_ticketing.engine.upstream import TransportError, Upstream
from unified_ticketing.state.accounts import Account

LIVECHAT = load_all(DEFAULT_MAPPINGS)["livechat"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def list_one(sandbox, credentials) -> dict:
    """One list_archives call through a new Upstream (its sessions are made after the environment is set)."""
    upstream = Upstream(LIVECHAT, env={"LIVECHAT_API_URL": sandbox.base_url}, timeout=5, verify=False)
    account = Account(id=None, tenant="t", version="3.5", auth_type="personal_access_token",
                      credentials={"account_id": credentials["account_id"],
                                   "token": credentials["personal_access_token"]})
    try:
        return upstream.call(account, Prepared("list_archives", "POST", "/v3.5/agent/action/list_archives",
                                               body={"limit": 1}))
    finally:
        upstream.close()


@pytest.fixture
def proxy_env(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port()}")
    return monkeypatch


def test_calls_go_through_the_environments_proxy(sandbox, credentials, proxy_env):
    with pytest.raises(TransportError) as caught:
        list_one(sandbox, credentials)
    assert caught.value.type == "upstream_unreachable"


def test_a_host_in_no_proxy_is_called_directly(sandbox, credentials, proxy_env):
    proxy_env.setenv("NO_PROXY", "127.0.0.1")
    assert len(list_one(sandbox, credentials)["chats"]) == 1

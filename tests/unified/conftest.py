"""`helpdesk`: each unified test runs once per integration, against that helpdesk's read-only sandbox;
`writable_helpdesk`: a sandbox of this module's own, reset before each test."""
from __future__ import annotations

import pytest

from helpdesk_sandboxes.process import start_sandbox
from tests.conftest import connect_rocketchat
from tests.unified.helpdesks import ORACLES, Helpdesk

HELPDESKS = ["livechat", "rocketchat"]


@pytest.fixture(scope="session", params=HELPDESKS)
def helpdesk(request, tenant) -> Helpdesk:
    """The shared tenant's account on one helpdesk's read-only sandbox: never write through it."""
    if request.param == "livechat":
        sandbox, account = request.getfixturevalue("sandbox"), request.getfixturevalue("account_id")
    else:
        sandbox = request.getfixturevalue("rc_sandbox")
        account = connect_rocketchat(tenant, sandbox)
    return Helpdesk(request.param, tenant, account, sandbox, ORACLES[request.param](sandbox, static=True))


@pytest.fixture(scope="module", params=HELPDESKS)
def _writable(request):
    """(name, client, account id, sandbox) on a sandbox this module may change."""
    if request.param == "livechat":
        client, account = request.getfixturevalue("writer")
        return request.param, client, account, request.getfixturevalue("writable_sandbox")
    sandbox = start_sandbox("--integration", "rocketchat", "--rooms", "40", "--seed", "11")
    request.addfinalizer(sandbox.stop)
    client, _ = request.getfixturevalue("writer")
    return request.param, client, connect_rocketchat(client, sandbox), sandbox


@pytest.fixture
def writable_helpdesk(_writable) -> Helpdesk:
    name, client, account, sandbox = _writable
    if name == "livechat":
        request_config = {"rate_limit": 0, "rate_burst": 0, "latency_ms": 0, "fault_rate": 0, "error_status": "http"}
    else:
        request_config = None
    sandbox.admin("POST", "reset")
    if request_config:
        sandbox.admin("POST", "config", json=request_config)
    return Helpdesk(name, client, account, sandbox, ORACLES[name](sandbox, static=False))

"""Addresses a tenant chose are checked when a connection is made, not only when the URL was accepted
(issue 19 item 1): a server URL that passed its check and later resolves to a private address (DNS
rebinding; here, an account connected while private servers were allowed) is never connected to, and the
IPv6 and IETF forms `ipaddress.is_global` lets through are refused."""
import pytest

from helpdesk_sandboxes.process import start_sandbox
from tests.conftest import ServiceClient, connect_rocketchat, error, new_tenant, running_service

CONFIG = {"SECRET_KEY": "test-secret", "ADMIN_TOKEN": "test-admin-token", "UPSTREAM_ENV": {},
          "UPSTREAM_VERIFY_TLS": False}


@pytest.fixture(scope="module")
def rc_server():
    proc = start_sandbox("--integration", "rocketchat", "--rooms", "5", "--seed", "3")
    yield proc
    proc.stop()


def test_a_server_that_now_resolves_to_a_private_address_is_not_connected_to(rc_server, redis_server_url):
    with running_service({"REDIS_URL": redis_server_url, **CONFIG, "ALLOW_PRIVATE_UPSTREAMS": True}) as (_, base):
        client = new_tenant(base, "rebind")
        account = connect_rocketchat(client, rc_server)  # accepted: private servers allowed at that moment
    rc_server.admin("POST", "stats/reset")
    with running_service({"REDIS_URL": redis_server_url, **CONFIG, "ALLOW_PRIVATE_UPSTREAMS": False}) as (_, base):
        strict = ServiceClient(base, client.api_key)
        err = error(strict.get("/unified/ticketing/tickets", integrated_account_id=account), 502)
        assert err["type"] == "upstream_unreachable"
    assert rc_server.admin("GET", "stats")["total_calls"] == 0  # no request reached the private server


@pytest.mark.parametrize("url", [
    "http://[::127.0.0.1]/hook",        # IPv4-compatible IPv6 of loopback
    "http://[64:ff9b::7f00:1]/hook",    # NAT64 of 127.0.0.1
    "http://[64:ff9b::a00:1]/hook",     # NAT64 of 10.0.0.1
    "http://[2002:c0a8:101::1]/hook",   # 6to4 of 192.168.1.1
    "http://192.0.0.8/hook",            # IETF protocol assignments
    "http://[::ffff:169.254.169.254]/hook",
])
def test_private_addresses_in_disguise_are_refused_as_subscribers(redis_server_url, url):
    with running_service({"REDIS_URL": redis_server_url, **CONFIG, "ALLOW_PRIVATE_WEBHOOKS": False}) as (_, base):
        client = new_tenant(base, "disguise")
        err = error(client.post("/webhook-subscriptions", json={"url": url, "events": ["*"]}), 400, "url")
        assert "private address" in err["message"]


def test_a_subscriber_that_now_resolves_to_a_private_address_gets_nothing(redis_server_url):
    """The worker resolves a subscriber's host again at delivery: accepted while private URLs were allowed,
    the same URL gets no delivery from a worker that allows only public ones, and the attempt is logged."""
    from tests.service.test_webhooks import Receiver
    from unified_ticketing.state import webhooks as store
    from unified_ticketing.worker import Worker

    receiver = Receiver()
    try:
        with running_service({"REDIS_URL": redis_server_url, **CONFIG, "ALLOW_PRIVATE_WEBHOOKS": True}) as (_, base):
            client = new_tenant(base, "rebind-hooks")
            sub = client.post("/webhook-subscriptions", json={"url": receiver.url, "events": ["*"]}).json()
        with running_service({"REDIS_URL": redis_server_url, **CONFIG, "ALLOW_PRIVATE_WEBHOOKS": False}) as (app, _):
            store.enqueue(app.extensions["unified"].redis, sub["id"], "d-rebind", '{"id": "d-rebind"}')
            worker = Worker(app, "strict-worker")
            for _ in range(3):
                worker.deliver_due()
            log = store.read_log(app.extensions["unified"].redis, sub["id"], "d-rebind")
        assert receiver.bodies == []
        assert log and log["attempts"] and log["attempts"][0]["outcome"] == "ConnectionError"
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()

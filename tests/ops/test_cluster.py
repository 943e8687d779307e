"""Scale out: two service hosts and a worker that share nothing but a 3-node Valkey Cluster
(deploy/compose.yaml's topology, as processes): paging, the OAuth refresh single-flight and
webhooks work whichever host or worker handles each step, and keys stay cluster safe."""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from redis.cluster import key_slot

from helpdesk_sandboxes.process import start_sandbox
from tests.conftest import ServiceClient, connect_pat, lc_call, new_tenant, traverse
from tests.ops.conftest import Serve, Worker, free_port, scrape, service_env, total
from tests.service.test_oauth_and_limits import oauth_tokens
from tests.service.test_webhooks import Receiver, app_env, cli, connect_oauth, customer_id


@pytest.fixture(scope="module")
def cluster_sandbox():
    proc = start_sandbox("--chats", "30", "--seed", "41")
    proc.admin("POST", "config", json={"webhook_retry_delays": [0.2, 0.2, 0.2]})
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def hosts(cluster_sandbox, valkey_cluster):
    """Host A and host B (gunicorn, 2 workers each), each given a different cluster node to start
    from, and one webhook worker; LiveChat sends webhooks to host A's URL."""
    a_port = free_port()
    env = {"REDIS_CLUSTER": "true", "UNIFIED_PUBLIC_URL": f"http://127.0.0.1:{a_port}", "UNIFIED_REFRESH_MARGIN": "5",
           **app_env(cluster_sandbox)}
    started = []
    try:
        started.append(Serve(service_env(cluster_sandbox, valkey_cluster.urls[0], **env), port=a_port))
        started.append(Serve(service_env(cluster_sandbox, valkey_cluster.urls[1], **env)))
        started.append(Worker(service_env(cluster_sandbox, valkey_cluster.urls[2], **env)))
        yield started
    finally:
        for proc in started:
            proc.stop()


def test_read_api_pages_across_two_hosts_on_a_redis_cluster(hosts, cluster_sandbox, valkey_cluster):
    a, b, _ = hosts
    client_a = new_tenant(a.base, "cluster-reader")
    client_b = ServiceClient(b.base, client_a.api_key)  # an API key made on A works on B
    account = connect_pat(client_b, cluster_sandbox)
    on_one_host = traverse(client_a, "tickets", integrated_account_id=account, limit=4)
    assert sum(len(p) for p in on_one_host) == 30  # every seeded chat, once
    # the same walk, alternating hosts on every page: cursors live in the shared cluster
    pages, cursor, hosts_used = [], None, [client_a, client_b]
    for i in range(100):
        params = {"next_cursor": cursor} if cursor else {"limit": 4}
        resp = hosts_used[i % 2].get("/unified/ticketing/tickets", integrated_account_id=account, **params)
        assert resp.status_code == 200, resp.text
        pages.append(resp.json()["result"])
        cursor = resp.json()["next_cursor"]
        if cursor is None:
            break
    assert [[t["id"] for t in p] for p in pages] == [[t["id"] for t in p] for p in on_one_host]
    one = client_b.get(f"/unified/ticketing/tickets/{pages[0][0]['id']}", integrated_account_id=account)
    assert one.status_code == 200 and one.json()["id"] == pages[0][0]["id"]
    # the data really is spread over the nodes
    assert sum(1 for keys in valkey_cluster.keys_by_node() if keys) >= 2


def test_token_refresh_single_flight_across_hosts_on_a_redis_cluster(hosts, cluster_sandbox):
    """32 requests over two hosts (four gunicorn workers) meet one expired token: one refresh."""
    a, b, _ = hosts
    cluster_sandbox.admin("POST", "config", json={"token_ttl": 6})
    client = new_tenant(a.base, "cluster-herd")
    token = oauth_tokens(cluster_sandbox, cluster_sandbox.admin("GET", "credentials"))
    account = client.post("/integrated-accounts", json={"integration": "livechat", "credentials": {
        "type": "oauth2", "access_token": token["access_token"], "refresh_token": token["refresh_token"],
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6))}}).json()["id"]
    time.sleep(1.5)  # the stored token (perhaps refreshed while connecting) is now inside the hosts' 5 s margin
    cluster_sandbox.admin("POST", "config", json={"token_ttl": 60})  # the next one outlives the test
    cluster_sandbox.admin("POST", "stats/reset")

    def one(i: int) -> int:
        base = (a.base, b.base)[i % 2]
        return requests.get(f"{base}/unified/ticketing/contacts", params={"integrated_account_id": account,
                            "limit": 1}, headers={"Authorization": f"Bearer {client.api_key}"}, timeout=60).status_code

    with ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(one, range(32)))
    assert codes == [200] * 32
    assert cluster_sandbox.admin("GET", "stats")["token_refreshes"] == 1
    assert client.get(f"/integrated-accounts/{account}").json()["status"] == "active"


def test_webhooks_flow_from_host_to_worker_process_on_a_redis_cluster(hosts, cluster_sandbox, valkey_cluster):
    a, b, worker = hosts
    client = new_tenant(b.base, "cluster-hooks")
    receiver = Receiver()
    try:
        assert client.post("/webhook-subscriptions", json={"url": receiver.url, "events": ["*"]}).status_code == 201
        registered = cli(service_env(cluster_sandbox, valkey_cluster.urls[0], REDIS_CLUSTER="true",
                                     UNIFIED_PUBLIC_URL=a.base, **app_env(cluster_sandbox)), "register")
        assert registered.returncode == 0, registered.stderr  # the operator registers host A's receiver once
        account = connect_oauth(client)  # enables the app's webhooks on the account's license
        before = scrape(worker.metrics_url)
        started = cluster_sandbox.admin("POST", "customer-messages", json={
            "customer_id": customer_id(cluster_sandbox), "text": "Hello from a customer"})
        events = receiver.wait_for(lambda ev: {"ticket:created", "comment:created"} <= {e["event"] for e in ev})
        created = next(e for e in events if e["event"] == "ticket:created")
        assert created["payload"]["id"] == started["chat_id"] and created["integrated_account_id"] == account
        after = scrape(worker.metrics_url)
        delivered = total(after, "unified_webhook_deliveries_total", outcome="delivered") - \
            total(before, "unified_webhook_deliveries_total", outcome="delivered")
        assert delivered >= 2
        assert total(after, "unified_webhook_delivery_lag_seconds_count") - \
            total(before, "unified_webhook_delivery_lag_seconds_count") == delivered
        assert total(after, "unified_webhook_processing_lag_seconds_count") > \
            total(before, "unified_webhook_processing_lag_seconds_count")
        assert total(scrape(a.base + "/metrics"), "unified_webhooks_received_total", outcome="accepted") >= 1
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_an_idempotent_write_replays_on_the_other_host_on_a_redis_cluster(hosts, cluster_sandbox):
    a, b, _ = hosts
    client_a = new_tenant(a.base, "cluster-writer")
    client_b = ServiceClient(b.base, client_a.api_key)
    account = connect_pat(client_a, cluster_sandbox)
    ticket = lc_call(cluster_sandbox, "list_chats", {"limit": 1}).json()["chats_summary"][0]["id"]

    def post(client):
        return client.request("POST", "/unified/ticketing/comments", params={"integrated_account_id": account},
                              headers={"Idempotency-Key": "cluster-write-1"},
                              json={"ticket_id": ticket, "body": "Written once, whichever host answers"})

    first, again = post(client_a), post(client_b)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    events = lc_call(cluster_sandbox, "get_chat", {"chat_id": ticket}).json()["thread"]["events"]
    assert sum(e.get("text") == "Written once, whichever host answers" for e in events) == 1


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_every_key_of_one_account_lives_in_one_slot(hosts, cluster_sandbox, valkey_cluster):
    """Group every key in the cluster by the account id it names: one slot per account."""
    a, _, _ = hosts
    client = new_tenant(a.base, "cluster-slots")
    account = connect_pat(client, cluster_sandbox)
    traverse(client, "comments", integrated_account_id=account, ticket_id=traverse(
        client, "tickets", integrated_account_id=account, limit=10)[0][0]["id"])
    keys_of: dict[str, set[str]] = {}
    for keys in valkey_cluster.keys_by_node():
        for key in keys:
            for named in set(UUID.findall(key)):
                keys_of.setdefault(named, set()).add(key)
    assert len(keys_of[account]) >= 4  # the account, its traversals' queries, pages and seen-sets
    split = {named: keys for named, keys in keys_of.items() if len({key_slot(k.encode()) for k in keys}) != 1}
    assert split == {}
    # reads across a tenant's accounts (slots on any node) and deleting one
    second = connect_pat(client, cluster_sandbox)
    assert {a["id"] for a in client.get("/integrated-accounts").json()["result"]} == {account, second}
    assert client.delete(f"/integrated-accounts/{second}").status_code == 204
    assert [a["id"] for a in client.get("/integrated-accounts").json()["result"]] == [account]

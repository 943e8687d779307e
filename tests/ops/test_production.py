"""Running it in production: `unified-ticketing serve` (gunicorn) as a real process, probed,
scraped, its logs read, stopped with SIGTERM mid-request, and refused on development secrets."""
from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests

from helpdesk_sandboxes.process import start_sandbox
from tests.conftest import ADMIN_TOKEN, FakeServer, connect_pat, lc_call, new_tenant
from tests.ops.conftest import CLI, Serve, scrape, service_env, total, wait_until
from tests.service.test_oauth_and_limits import oauth_tokens
from unified_ticketing import config
from unified_ticketing.app import create_app


@pytest.fixture(scope="module")
def ops_sandbox():
    proc = start_sandbox("--chats", "25", "--seed", "31")
    yield proc
    proc.stop()


@pytest.fixture
def sandbox(ops_sandbox):
    """This module's own sandbox (not the shared read-only one), knobs at rest, stats zeroed."""
    ops_sandbox.admin("POST", "config", json={"latency_ms": 0, "fault_rate": 0, "rate_limit": 0, "rate_burst": 0})
    ops_sandbox.admin("POST", "stats/reset")
    yield ops_sandbox
    ops_sandbox.admin("POST", "config", json={"latency_ms": 0, "fault_rate": 0})


@pytest.fixture(scope="module")
def served(ops_sandbox, redis_server_url):
    """Two gunicorn workers; LiveChat paced at 4 calls/s so the shared rate limiter has work."""
    serve = Serve(service_env(ops_sandbox, redis_server_url, LIVECHAT_RATE_LIMIT="4", LIVECHAT_RATE_BURST="1"))
    yield serve
    serve.stop()


def oauth_account(client, sandbox, expires_in: float) -> tuple[str, dict]:
    """An OAuth account expiring in `expires_in` seconds, and its tokens."""
    token = oauth_tokens(sandbox, sandbox.admin("GET", "credentials"))
    resp = client.post("/integrated-accounts", json={"integration": "livechat", "credentials": {
        "type": "oauth2", "access_token": token["access_token"], "refresh_token": token["refresh_token"],
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + expires_in))}})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"], token


# --- metrics ----------------------------------------------------------------------------------
def test_metrics_move_on_real_traffic_across_gunicorn_workers(served, sandbox):
    client = new_tenant(served.base, "metrics-co")
    before = scrape(served.base + "/metrics")
    account = connect_pat(client, sandbox)
    for _ in range(6):
        assert client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=2).status_code == 200
    missing = client.get("/unified/ticketing/tickets/NO-SUCH-CHAT", integrated_account_id=account)
    assert missing.status_code == 404
    sandbox.admin("POST", "config", json={"fault_rate": 1, "fault_kinds": ["internal"]})
    assert client.get("/unified/ticketing/contacts", integrated_account_id=account).status_code == 502
    sandbox.admin("POST", "config", json={"fault_rate": 0})
    oauth, _ = oauth_account(client, sandbox, expires_in=60)  # inside the 300 s margin: refreshed on first use
    assert client.get("/unified/ticketing/contacts", integrated_account_id=oauth, limit=1).status_code == 200
    with ThreadPoolExecutor(4) as pool:  # four at once against a 4/s, burst-1 pace: some must wait
        codes = list(pool.map(lambda _: client.get("/unified/ticketing/contacts", integrated_account_id=account,
                                                   limit=1).status_code, range(4)))
    assert codes == [200] * 4
    after = scrape(served.base + "/metrics")
    stats = sandbox.admin("GET", "stats")

    def moved(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    tickets = {"route": "/unified/ticketing/tickets", "method": "GET"}
    assert moved("unified_http_requests_total", **tickets, status="200", integration="livechat") == 6
    assert moved("unified_http_request_duration_seconds_count", **tickets) == 6
    assert moved("unified_http_requests_total", route="/unified/ticketing/tickets/<path:record_id>",
                 status="404", integration="livechat") == 1
    # every call LiveChat saw is counted once, whichever worker made it, by method and error type; the
    # identity lookup at connect (one per account) goes to the accounts host, outside the API's stats
    identity = moved("unified_upstream_calls_total", method="get_account", error_type="none")
    assert identity == 2
    assert moved("unified_upstream_calls_total") - identity == stats["total_calls"]
    # six full pages of two tickets: at least one list_archives call each (more where a chat has two threads)
    assert moved("unified_upstream_calls_total", method="list_archives", error_type="none") == \
        stats["calls"]["list_archives"] >= 6
    assert moved("unified_upstream_calls_total", error_type="internal") == stats["faults"]["internal"] >= 2
    assert moved("unified_upstream_calls_total", method="get_chat", error_type="not_found") == 1
    assert moved("unified_upstream_call_duration_seconds_count") - identity == stats["total_calls"]
    assert moved("unified_token_refreshes_total", outcome="refreshed") == stats["token_refreshes"] == 1
    assert moved("unified_rate_limit_waits_total", reason="bucket", outcome="waited") >= 1
    assert moved("unified_rate_limit_wait_seconds_count") >= 1


# --- request ids and logs ---------------------------------------------------------------------
def test_request_id_is_accepted_echoed_and_sent_upstream(served, sandbox):
    client = new_tenant(served.base, "rid-co")
    account = connect_pat(client, sandbox)
    given = client.request("GET", "/unified/ticketing/tickets", params={"integrated_account_id": account,
                                                                        "limit": 1},
                           headers={"X-Request-Id": "ops-rid-given-1"})
    assert given.status_code == 200 and given.headers["X-Request-Id"] == "ops-rid-given-1"
    made = client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=1)
    generated = made.headers["X-Request-Id"]
    assert len(generated) == 32 and generated != "ops-rid-given-1"
    unfit = client.request("GET", "/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    assert unfit.headers["X-Request-Id"] != "bad id\twith spaces"
    seen = sandbox.admin("GET", "stats")["request_ids"]
    assert "ops-rid-given-1" in seen and generated in seen
    lines = [json.loads(line) for line in served.logs().splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == "ops-rid-given-1"]
    assert any(line["event"] == "request" and line["status"] == 200 and line["path"] == "/unified/ticketing/tickets"
               for line in mine)


def test_known_secrets_never_appear_in_the_logs(served, sandbox):
    """Credentials, tokens and message bodies go through every logging path; none is written."""
    client = new_tenant(served.base, "secrets-co")
    creds = sandbox.admin("GET", "credentials")
    account = connect_pat(client, sandbox)
    oauth, token = oauth_account(client, sandbox, expires_in=60)
    headers = {"X-Request-Id": "ops-secrets-1"}
    assert client.request("GET", "/unified/ticketing/contacts", params={"integrated_account_id": oauth, "limit": 1},
                          headers=headers).status_code == 200  # refreshes the OAuth token
    bad_pat = "pat-known-secret-0123456789abcdef"
    refused = client.post("/integrated-accounts", headers=headers, json={"integration": "livechat", "credentials": {
        "type": "personal_access_token", "account_id": creds["account_id"], "token": bad_pat}})
    assert refused.status_code in (401, 422)
    body_text = "message-body-known-secret-42 please call me on +1 555 0100"
    chat = lc_call(sandbox, "list_chats", {"limit": 1}).json()["chats_summary"][0]["id"]
    sent = client.request("POST", "/proxy/livechat/v3.5/agent/action/send_event", headers=headers,
                          params={"integrated_account_id": account},
                          json={"chat_id": chat, "event": {"type": "message", "text": body_text}})
    assert sent.status_code in (200, 400, 404, 409, 422), sent.text
    link_token = client.post("/link-tokens", json={"integration": "livechat"}, headers=headers).json()["link_token"]
    connect = requests.get(f"{served.base}/connect/livechat", headers=headers, allow_redirects=False, timeout=30,
                           params={"link_token": link_token, "redirect_uri": "https://app.example/done"})
    assert connect.status_code == 302
    hook_secret = "webhook-known-secret-9876543210"
    requests.post(f"{served.base}/webhooks/livechat", headers=headers, timeout=30,
                  json={"secret_key": hook_secret, "action": "incoming_event",
                        "payload": {"event": {"text": body_text}}})
    sandbox.admin("POST", "config", json={"fault_rate": 1, "fault_kinds": ["internal"]})  # retries log warnings
    client.request("GET", "/unified/ticketing/tickets", params={"integrated_account_id": account}, headers=headers)
    sandbox.admin("POST", "config", json={"fault_rate": 0})

    logs = served.logs()
    secrets = {"admin token": ADMIN_TOKEN, "API key": client.api_key, "PAT": creds["personal_access_token"],
               "PAT as Basic": creds["basic_authorization"].split(" ", 1)[1], "rejected PAT": bad_pat,
               "Basic of the rejected PAT": base64.b64encode(f"{creds['account_id']}:{bad_pat}".encode()).decode(),
               "OAuth client secret": creds["client_secret"], "access token": token["access_token"],
               "refresh token": token["refresh_token"], "link token": link_token, "webhook secret": hook_secret,
               "message body": "message-body-known-secret-42"}
    leaked = [what for what, value in secrets.items() if value in logs]
    assert not leaked, f"logged: {leaked}"
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert len(lines) == len(logs.splitlines())  # every line is one JSON object
    assert sum(line.get("request_id") == "ops-secrets-1" for line in lines) >= 6  # the paths above did log
    assert any(line.get("level") == "warning" and line.get("request_id") == "ops-secrets-1" for line in lines)


# --- readiness --------------------------------------------------------------------------------
def test_readiness_flips_when_redis_stops_and_recovers_without_a_restart(ops_sandbox, restartable_redis):
    serve = Serve(service_env(ops_sandbox, restartable_redis.url))
    try:
        ready = requests.get(serve.base + "/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["checks"]["redis"] == "ok"
        restartable_redis.stop()
        down = wait_until(lambda: [r for r in [requests.get(serve.base + "/readyz", timeout=10)]
                                   if r.status_code == 503], 30, "/readyz to answer 503")[0]
        assert down.json()["error"]["type"] == "not_ready" and "Redis" in down.json()["error"]["message"]
        assert requests.get(serve.base + "/healthz", timeout=10).status_code == 200  # alive, just not ready
        refused = requests.post(serve.base + "/admin/api-keys", json={"tenant": "t"}, timeout=30,
                                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert refused.status_code == 503 and refused.json()["error"]["type"] == "unavailable"
        restartable_redis.start()
        # both workers must come back: several answers in a row, each 200
        wait_until(lambda: all(requests.get(serve.base + "/readyz", timeout=10).status_code == 200
                               for _ in range(6)), 30, "/readyz to answer 200 again")
        assert new_tenant(serve.base, "after-outage").api_key.startswith("ut_")
    finally:
        serve.stop()


def test_a_frozen_redis_fails_requests_within_seconds_and_readyz_at_once(ops_sandbox, restartable_redis):
    """A Redis that accepts connections but never answers (SIGSTOP) used to hold every request for a minute
    (15 s socket timeout x 4 attempts); now a request gets its 503 after one timeout, /readyz in half a second."""
    serve = Serve(service_env(ops_sandbox, restartable_redis.url))
    pid = restartable_redis.server._process.pid
    try:
        key = new_tenant(serve.base, "before-freeze").api_key
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        ready = requests.get(serve.base + "/readyz", timeout=30)
        ready_seconds = time.monotonic() - started
        assert ready.status_code == 503 and ready.json()["error"]["type"] == "not_ready"
        assert "127.0.0.1" not in ready.text and str(restartable_redis.port) not in ready.text  # no address leak
        started = time.monotonic()
        listed = requests.get(serve.base + "/integrated-accounts", headers={"Authorization": f"Bearer {key}"},
                              timeout=60)
        request_seconds = time.monotonic() - started
        assert listed.status_code == 503, listed.text
        assert ready_seconds < 3 and request_seconds < 10, (ready_seconds, request_seconds)
        os.kill(pid, signal.SIGCONT)
        wait_until(lambda: requests.get(serve.base + "/readyz", timeout=10).status_code == 200, 30,
                   "/readyz to answer 200 after the freeze")
    finally:
        os.kill(pid, signal.SIGCONT)
        serve.stop()


def test_a_page_whose_next_state_cannot_be_saved_is_a_503_while_a_lost_log_entry_is_not(sandbox, restartable_redis):
    """Redis goes away while a request waits on the helpdesk. A tickets page's next_cursor needs the traversal
    state written in the request's last pipeline: without it the cursor would be dead, so the page is a 503.
    A ticket's answer needs nothing from that pipeline but its account-log entry: it is answered."""
    serve = Serve(service_env(sandbox, restartable_redis.url))

    def while_redis_stops(path: str, **params) -> requests.Response:
        client = new_tenant(serve.base, "lost-writes")  # (a restarted Redis has forgotten the last one)
        account = connect_pat(client, sandbox)
        sandbox.admin("POST", "config", json={"latency_ms": 1500})
        try:
            with ThreadPoolExecutor(1) as pool:
                answer = pool.submit(client.get, path, integrated_account_id=account, **params)
                time.sleep(0.7)  # the request has read its key and account, and waits on the helpdesk
                restartable_redis.stop()
                return answer.result()
        finally:
            sandbox.admin("POST", "config", json={"latency_ms": 0})

    try:
        page = while_redis_stops("/unified/ticketing/tickets", limit=1)
        assert page.status_code == 503 and page.json()["error"]["type"] == "unavailable", page.text
        assert "could not save the request's state" in serve.logs()
        restartable_redis.start()
        wait_until(lambda: requests.get(serve.base + "/readyz", timeout=10).status_code == 200, 30, "/readyz")
        chat = lc_call(sandbox, "list_archives", {"limit": 1}).json()["chats"][0]["id"]
        one = while_redis_stops(f"/unified/ticketing/tickets/{chat}")
        assert one.status_code == 200 and one.json()["id"] == chat, one.text
        assert "could not write account" in serve.logs()
    finally:
        serve.stop()
        if not restartable_redis.server.is_running():
            restartable_redis.start()


def test_forty_slow_clients_do_not_starve_the_service(ops_sandbox, redis_server_url):
    """40 connections trickling a body (a byte every 0.5 s) used to hold every gthread thread (2 x 8), so
    /healthz timed out; the shipped server keeps answering it within a second."""
    import socket

    serve = Serve(service_env(ops_sandbox, redis_server_url), workers=2)
    stop = threading.Event()
    conns = []

    def trickle():
        while not stop.is_set():
            for conn in list(conns):
                try:
                    conn.send(b"a")
                except OSError:
                    conns.remove(conn)
            stop.wait(0.5)

    try:
        for _ in range(40):
            conn = socket.create_connection(("127.0.0.1", serve.port), timeout=5)
            conn.sendall(b"POST /webhook-subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100000\r\nAuthorization: Bearer ut_slow\r\n\r\n{")
            conns.append(conn)
        threading.Thread(target=trickle, daemon=True).start()
        time.sleep(1)  # every slow request has reached a worker
        seconds = []
        for _ in range(30):
            started = time.monotonic()
            try:
                ok = requests.get(serve.base + "/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                ok = False
            seconds.append(time.monotonic() - started if ok else 5.0)
        assert len(conns) == 40  # the slow clients were still being served, not dropped
        assert sorted(seconds)[-1] < 1.0, sorted(seconds)[-5:]  # p99 of 30 = the slowest
    finally:
        stop.set()
        for conn in conns:
            conn.close()
        serve.stop()


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and its children (gunicorn's master and workers): a crash, no cleanup."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    for victim in [pid, *children]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def test_a_write_cut_off_by_a_crash_settles_on_retry_within_seconds(sandbox, redis_server_url):
    """The holder of an Idempotency-Key's lock dies mid-write: the key used to stay locked for 300 s (a retry
    waited 60 s for a 409); its lease now lapses in seconds and the retry reconciles: one comment."""
    env = service_env(sandbox, redis_server_url)
    first = Serve(env, workers=1)
    client = new_tenant(first.base, "crash-co")
    account = connect_pat(client, sandbox)
    ticket = lc_call(sandbox, "list_chats", {"limit": 1}).json()["chats_summary"][0]["id"]
    key, body = "crash-retry-1", {"ticket_id": ticket, "body": "written once, whatever happens"}
    sandbox.admin("POST", "config", json={"latency_ms": 3000})

    def write_then_crash():
        with contextlib.suppress(requests.RequestException):  # the server dies under it
            requests.post(f"{first.base}/unified/ticketing/comments?integrated_account_id={account}", json=body,
                          headers={"Authorization": f"Bearer {client.api_key}", "Idempotency-Key": key}, timeout=30)

    threading.Thread(target=write_then_crash, daemon=True).start()
    time.sleep(1.5)  # the write holds the key's lock and waits on the slow upstream
    assert [k for k in redis.Redis.from_url(redis_server_url).scan_iter("ut:*idem:*:lock")], "no lock was taken"
    _kill_tree(first.proc.pid)
    first.proc.wait(timeout=10)
    sandbox.admin("POST", "config", json={"latency_ms": 0})
    second = Serve(env, workers=1)
    try:
        started = time.monotonic()
        resp = requests.post(f"{second.base}/unified/ticketing/comments?integrated_account_id={account}", json=body,
                             headers={"Authorization": f"Bearer {client.api_key}", "Idempotency-Key": key}, timeout=90)
        seconds = time.monotonic() - started
        assert resp.status_code == 201, resp.text
        assert seconds < 20, seconds  # the lease (10 s) lapsed; not the old 60 s wait
        chat = lc_call(sandbox, "get_chat", {"chat_id": ticket}).json()
        texts = [e.get("text") for e in chat["thread"]["events"]]
        assert texts.count(body["body"]) == 1
    finally:
        second.stop()
        first.log_path.unlink(missing_ok=True)


def test_the_servers_own_errors_have_the_json_shape(served):
    """A request gunicorn refuses before the app sees it (URI or headers over its limits) used to get an
    HTML page; it is the service's JSON error too."""
    long_uri = requests.get(served.base + "/unified/ticketing/tickets?q=" + "a" * 9000, timeout=30)
    many_headers = requests.get(served.base + "/healthz", timeout=30,
                                headers={f"X-Filler-{i}": "x" for i in range(120)})
    for resp, status in ((long_uri, 414), (many_headers, 431)):
        assert resp.status_code == status, resp.text
        assert resp.headers["Content-Type"] == "application/json"
        err = resp.json()["error"]
        assert err["status"] == status and err["type"] and err["message"]


# --- graceful stop ----------------------------------------------------------------------------
def test_sigterm_during_a_slow_upstream_call_still_completes_that_request(ops_sandbox, redis_server_url, sandbox):
    serve = Serve(service_env(ops_sandbox, redis_server_url), workers=1)
    try:
        client = new_tenant(serve.base, "sigterm-co")
        account = connect_pat(client, sandbox)
        expected = client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=2).json()["result"]
        sandbox.admin("POST", "config", json={"latency_ms": 3000})
        sandbox.admin("POST", "stats/reset")
        answer = {}
        slow = threading.Thread(target=lambda: answer.update(resp=client.get(
            "/unified/ticketing/tickets", integrated_account_id=account, limit=2)))
        slow.start()
        wait_until(lambda: sandbox.admin("GET", "stats")["total_calls"] >= 1, 30, "the upstream call to start")
        serve.proc.send_signal(signal.SIGTERM)  # LiveChat is still "thinking" for about 3 s
        slow.join(timeout=60)
        assert answer["resp"].status_code == 200, answer["resp"].text
        assert answer["resp"].json()["result"] == expected and expected
        assert serve.proc.wait(timeout=60) == 0
        with pytest.raises(requests.ConnectionError):
            requests.get(serve.base + "/healthz", timeout=5)
        assert "Handling signal: term" in serve.logs()
    finally:
        serve.stop()


# --- production settings ----------------------------------------------------------------------
REDIS = {"REDIS_URL": "redis://127.0.0.1:1"}  # never reached: the check comes first


@pytest.mark.parametrize(("env", "named"), [
    ({}, "REDIS_URL"),
    (REDIS, "UNIFIED_SECRET_KEY"),
    ({**REDIS, "UNIFIED_SECRET_KEY": config.DEV_SECRET}, "UNIFIED_SECRET_KEY"),
    ({**REDIS, "UNIFIED_SECRET_KEY": "s3cret"}, "UNIFIED_ADMIN_TOKEN"),
    ({**REDIS, "UNIFIED_SECRET_KEY": "s3cret", "UNIFIED_ADMIN_TOKEN": config.DEV_ADMIN_TOKEN}, "UNIFIED_ADMIN_TOKEN"),
])
@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["worker"]])
def test_production_refuses_to_start_on_development_settings(env, named, command):
    base = {k: v for k, v in os.environ.items()
            if k not in ("REDIS_URL", "UNIFIED_SECRET_KEY", "UNIFIED_ADMIN_TOKEN")}
    done = subprocess.run([*CLI, *command], env={**base, "UNIFIED_ENV": "production", **env}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and named in done.stderr, done.stderr
    overrides = {"ENV": "production", "REDIS_URL": env.get("REDIS_URL"),
                 "SECRET_KEY": env.get("UNIFIED_SECRET_KEY", config.DEV_SECRET),
                 "ADMIN_TOKEN": env.get("UNIFIED_ADMIN_TOKEN", config.DEV_ADMIN_TOKEN)}
    with pytest.raises(RuntimeError, match=named):
        create_app(overrides)


def test_production_starts_with_its_own_secrets(redis_server_url):
    app = create_app({"ENV": "production", "REDIS_URL": redis_server_url, "SECRET_KEY": "s3cret",
                      "ADMIN_TOKEN": "adm1n"})
    assert app.test_client().get("/readyz").status_code == 200
    app.extensions["unified"].redis.close()


def test_metric_labels_never_carry_the_callers_text(redis_server_url):
    """Routes are templates, methods and integrations a closed set: a caller cannot grow the series."""
    app = create_app({"REDIS_URL": redis_server_url})
    client = app.test_client()
    client.get("/no/such/route-junk1")
    client.open("/healthz", method="JUNKMETHOD2")
    client.get("/connect/junk3?redirect_uri=https://a.example/")
    client.post("/proxy/livechat/v3.5/agent/action/junk4", headers={"Authorization": "Bearer junk5"})
    page = client.get("/metrics").get_data(as_text=True)
    assert 'route="<unmatched>"' in page and 'method="other"' in page and 'route="/connect/<integration>"' in page
    assert not re.search(r"junk\d", page)
    app.extensions["unified"].redis.close()


def test_metric_labels_never_carry_the_upstreams_text(redis_server_url):
    """A helpdesk server is the tenant's (Rocket.Chat): the error types it invents are labelled "other"."""
    import string

    def answer(hit: int) -> tuple[int, bytes]:
        if hit == 1:  # the credentials check passes, then every answer is a new error type
            return 200, b'{"success": true, "rooms": [], "count": 0, "offset": 0, "total": 0}'
        code = string.ascii_lowercase[hit % 26] + string.ascii_lowercase[hit // 26 % 26]
        return 400, json.dumps({"success": False, "error": "junk-" + code}).encode()

    server = FakeServer(answer=answer)
    app = create_app({"REDIS_URL": redis_server_url, "ADMIN_TOKEN": ADMIN_TOKEN})
    try:
        client = app.test_client()
        key = client.post("/admin/api-keys", json={"tenant": "hostile"},
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).get_json()["api_key"]
        auth = {"Authorization": f"Bearer {key}"}
        created = client.post("/integrated-accounts", headers=auth, json={"integration": "rocketchat", "credentials": {
            "type": "personal_access_token", "server_url": server.url,
            "user_id": "u", "auth_token": "t"}})
        assert created.status_code == 201, created.get_data(as_text=True)
        for _ in range(12):
            resp = client.get(f"/unified/ticketing/tickets?integrated_account_id={created.get_json()['id']}",
                              headers=auth)
            assert resp.status_code == 502 and "junk-" in resp.get_json()["error"]["message"]
        assert server.hits > 12
        page = client.get("/metrics").get_data(as_text=True)
        assert 'error_type="other"' in page and "junk-" not in page
    finally:
        server.close()
        for engine in app.extensions["unified"].engines.values():
            engine.upstream.close()
        app.extensions["unified"].redis.close()


"""`unified-ticketing events listen` against the service: a Rocket.Chat visitor writes (`sandbox say`, or
the visitor API itself), the command prints the unified events or forwards them with their signature,
refuses forged deliveries, and removes its subscription when stopped."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from helpdesk_sandboxes.process import start_sandbox
from tests.conftest import connect_rocketchat, new_tenant, running_service
from tests.service.test_webhooks import Receiver, verify
from unified_ticketing.worker import Worker


@pytest.fixture(scope="module")
def rc_listen():
    proc = start_sandbox("--integration", "rocketchat", "--rooms", "8", "--seed", "41")
    yield proc
    proc.stop()


@pytest.fixture
def stack(rc_listen, redis_server_url):
    """The service (registering its receiver when an account connects), a worker thread, a connected tenant."""
    overrides = {"REDIS_URL": redis_server_url, "SECRET_KEY": "test-secret", "ADMIN_TOKEN": "test-admin-token",
                 "UPSTREAM_ENV": {}, "UPSTREAM_VERIFY_TLS": False, "WEBHOOKS_REGISTER": True,
                 "WEBHOOK_BACKOFF_BASE": 0.1}
    with running_service(overrides) as (app, base):
        app.config["PUBLIC_URL"] = base
        client = new_tenant(base, f"listen-{time.monotonic_ns()}")
        account = connect_rocketchat(client, rc_listen)
        stop = threading.Event()
        threading.Thread(target=Worker(app, "listen-worker").run, args=(stop,), daemon=True).start()
        yield {"base": base, "client": client, "account": account, "sandbox": rc_listen}
        stop.set()
        client.delete(f"/integrated-accounts/{account}")


class Listen:
    """`events listen` as a child process; its output lines as they come."""

    def __init__(self, stack, *extra: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "unified_ticketing.cli", "events", "listen", "--api-url", stack["base"],
             "--api-key", stack["client"].api_key, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")), daemon=True).start()

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            exited = self.proc.poll() is not None
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            if exited:
                break
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r}; got:\n{''.join(self.lines)}")

    def stop(self) -> int:
        self.proc.terminate()
        code = self.proc.wait(30)
        self.proc.stdout.close()
        return code


def visitor_writes(sandbox, token: str, text: str) -> str:
    """Rocket.Chat's visitor API, as the livechat widget uses it; the room's id."""
    api = f"{sandbox.base_url}/api/v1/livechat"
    requests.post(f"{api}/visitor", json={"visitor": {"token": token, "name": "Listen Visitor"}},
                  timeout=10).raise_for_status()
    room = requests.get(f"{api}/room", params={"token": token}, timeout=10).json()["room"]["_id"]
    requests.post(f"{api}/message", json={"token": token, "rid": room, "msg": text}, timeout=10).raise_for_status()
    return room


def test_listen_prints_each_event_and_removes_its_subscription_when_stopped(stack):
    listen = Listen(stack)
    try:
        listen.wait_for("Listening for \\* on every account")
        said = subprocess.run([sys.executable, "-m", "unified_ticketing.cli", "sandbox", "say", "--integration",
                               "rocketchat", "--sandbox", stack["sandbox"].base_url,
                               "My parcel never arrived, can you check?"], capture_output=True, text=True, timeout=60)
        room = re.search(r"the customer wrote into ticket (\S+) \(Rocket.Chat\)", said.stdout).group(1)
        listen.wait_for(rf"ticket:created\s+ticket {room}\s+open")
        line = listen.wait_for(rf"comment:created\s+ticket {room}\s+contact: (.*)  \((\w+) account (\S+)\)")
        assert line.groups() == ("My parcel never arrived, can you check?", "rocketchat", stack["account"])
    finally:
        assert listen.stop() == 0
    assert stack["client"].get("/webhook-subscriptions").json()["result"] == []


def test_listen_forwards_deliveries_unchanged_with_a_signature_the_receiver_can_check(stack):
    receiver = Receiver()
    listen = Listen(stack, "--forward-to", receiver.url, "--events", "comment:created", "--account", stack["account"])
    try:
        secret = listen.wait_for(r"signing secret: (\S+)").group(1)
        visitor_writes(stack["sandbox"], "listen-2", "Hello?")
        events = receiver.wait_for(lambda ev: len(ev) >= 1)
        assert [e["event"] for e in events] == ["comment:created"]
        assert events[0]["payload"]["body"] == "Hello?" and events[0]["integrated_account_id"] == stack["account"]
        headers = receiver.headers[0]
        assert verify(secret, headers["X-Unified-Signature"], receiver.bodies[0])
        assert headers["X-Unified-Delivery-Id"] == events[0]["id"]
        listen.wait_for(rf"comment:created\s+→ {re.escape(receiver.url)} \[200\]")
    finally:
        listen.stop()
        receiver.server.shutdown()
        receiver.server.server_close()


def test_a_delivery_not_signed_with_the_subscriptions_secret_is_refused(stack):
    receiver = Receiver()
    listen = Listen(stack, "--forward-to", receiver.url)
    try:
        url = listen.wait_for(r"receiving at (\S+)").group(1)
        body = json.dumps({"id": "forged", "event": "comment:created", "payload": {}})
        forged = requests.post(url, data=body, timeout=10, headers={
            "X-Unified-Signature": f"t={int(time.time())},v1={'0' * 64}"})
        unsigned = requests.post(url, data=body, timeout=10)
        assert (forged.status_code, unsigned.status_code) == (400, 400)
        listen.wait_for("refused a delivery: signature does not match")
        listen.wait_for("refused a delivery: no X-Unified-Signature header")
        time.sleep(0.5)
        assert receiver.bodies == []
    finally:
        listen.stop()
        receiver.server.shutdown()
        receiver.server.server_close()


def test_an_unknown_account_or_event_type_is_refused_before_listening(stack):
    unknown = subprocess.run([sys.executable, "-m", "unified_ticketing.cli", "events", "listen", "--api-url",
                              stack["base"], "--api-key", stack["client"].api_key, "--account", "nope"],
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 1 and "--account nope:" in unknown.stderr
    typo = subprocess.run([sys.executable, "-m", "unified_ticketing.cli", "events", "listen", "--api-url",
                           stack["base"], "--api-key", stack["client"].api_key, "--events", "comment:new"],
                          capture_output=True, text=True, timeout=60)
    assert typo.returncode == 1 and "unknown event 'comment:new'" in typo.stderr
    assert stack["client"].get("/webhook-subscriptions").json()["result"] == []


def test_without_a_running_demo_the_commands_say_what_to_start(tmp_path):
    """No `make run` (an empty data folder) and nothing to reach: a message naming the fix, no traceback."""
    env = {**os.environ, "UNIFIED_DATA_DIR": str(tmp_path)}
    env.pop("UNIFIED_API_KEY", None)
    cli = [sys.executable, "-m", "unified_ticketing.cli"]
    say = subprocess.run([*cli, "sandbox", "say", "--integration", "rocketchat", "Hi"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert say.returncode == 2 and "start `make run`, or pass --sandbox URL" in say.stderr
    listen = subprocess.run([*cli, "events", "listen"], capture_output=True, text=True, env=env, timeout=60)
    assert listen.returncode == 2 and "pass --api-key" in listen.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = subprocess.run([*cli, "events", "listen", "--api-url", closed, "--api-key", "ut_x"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert down.returncode == 1 and f"cannot reach the service at {closed}" in down.stderr
    assert "Traceback" not in say.stderr + listen.stderr + down.stderr


def test_a_killed_listeners_subscription_is_removed_by_the_next_listener(stack):
    killed = Listen(stack)
    killed.wait_for("Listening for")
    killed.proc.kill()  # no chance to unsubscribe
    killed.stop()
    assert len(stack["client"].get("/webhook-subscriptions").json()["result"]) == 1
    other = stack["client"].post("/webhook-subscriptions", json={"url": "http://127.0.0.1:9/hooks", "events": ["*"]})
    listen = Listen(stack)
    try:
        listen.wait_for("removed 1 subscription")
        listen.wait_for("Listening for")
        urls = sorted(s["url"] for s in stack["client"].get("/webhook-subscriptions").json()["result"])
        assert urls == sorted(["http://127.0.0.1:9/hooks", listen.wait_for(r"receiving at (\S+)").group(1)])
    finally:
        listen.stop()
        stack["client"].delete(f"/webhook-subscriptions/{other.json()['id']}")

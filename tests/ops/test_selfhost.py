"""One machine without REDIS_URL: every command finds the same embedded Valkey in UNIFIED_DATA_DIR, which keeps
its data across restarts; `serve` delivers webhooks itself; commands run beside `make run` use its stack."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from helpdesk_sandboxes.process import start_sandbox
from tests.conftest import ADMIN_TOKEN, ServiceClient
from tests.ops.conftest import CLI, Process, Serve, free_port, wait_until
from tests.service.test_webhooks import Receiver, app_env, connect_oauth, customer_id
from unified_ticketing import cli as cli_module
from unified_ticketing.state.redis_server import running_shared


@pytest.fixture
def data_dir():
    """A short path (the Valkey listens on a Unix socket inside it); its server is shut down afterwards."""
    path = Path(tempfile.mkdtemp(prefix="ut-"))
    yield path
    shutdown(path)
    shutil.rmtree(path, ignore_errors=True)


def shutdown(path: Path) -> None:
    """Stop the data directory's shared Valkey, as a reboot would (it writes its append-only file first)."""
    if shared := running_shared(path):
        shared.shutdown()


def local_env(data: Path, **extra: str) -> dict:
    """No REDIS_URL: the embedded default of `data`."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REDIS_CLUSTER", "PROMETHEUS_MULTIPROC_DIR")}
    return {**env, "UNIFIED_DATA_DIR": str(data), "UNIFIED_SECRET_KEY": "test-secret",
            "UNIFIED_ADMIN_TOKEN": ADMIN_TOKEN, "UNIFIED_LOG_FORMAT": "json", **extra}


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def test_commands_started_at_once_share_one_embedded_server_that_keeps_its_data(data_dir):
    env = local_env(data_dir)
    with ThreadPoolExecutor(4) as pool:  # four commands race to start the server
        created = list(pool.map(lambda i: run(env, "api-keys", "create", "--tenant", "racers"), range(4)))
    assert [c.returncode for c in created] == [0] * 4, [c.stderr for c in created]
    assert all("shared embedded Valkey in" in c.stderr for c in created)
    listed = run(env, "api-keys", "list", "--tenant", "racers")
    assert len(listed.stdout.splitlines()) == 4, listed  # two servers would each have kept some of the keys
    shutdown(data_dir)
    again = run(env, "api-keys", "list", "--tenant", "racers")
    assert again.returncode == 0 and len(again.stdout.splitlines()) == 4, again  # restarted on its append-only file
    assert (data_dir / "valkey.log").read_text().count("Ready to accept connections") == 2  # one server per start


def test_a_restart_keeps_tenants_keys_accounts_subscriptions_and_undelivered_events(data_dir):
    sandbox = start_sandbox("--chats", "15", "--seed", "23", "--licenses", "2")
    sandbox.admin("POST", "config", json={"webhook_retry_delays": [0.2, 0.2, 0.2]})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = local_env(data_dir, **app_env(sandbox), UNIFIED_PUBLIC_URL=base, UNIFIED_WEBHOOK_BACKOFF="0.2")
    receiver, serve = Receiver(), None
    try:
        serve = Serve(env, workers=2, port=port)
        assert "shared embedded Valkey" in serve.logs()
        registered = run(env, "webhooks", "register")  # beside `serve`, on its Redis
        assert registered.returncode == 0, registered.stderr
        made = run(env, "api-keys", "create", "--tenant", "restart-co")
        assert made.returncode == 0, made.stderr
        client = ServiceClient(base, made.stdout.strip())  # a key made by another process works on `serve`
        sub = client.post("/webhook-subscriptions", json={"url": receiver.url, "events": ["*"]}).json()
        account = connect_oauth(client, sandbox.admin("GET", "credentials")["licenses"][0]["agent_id"])
        first = sandbox.admin("POST", "customer-messages", json={"customer_id": customer_id(sandbox),
                                                                 "text": "before the restart"})
        # no `worker` runs: serve's own workers deliver, each event once (two gunicorn workers share the work)
        events = receiver.wait_for(lambda ev: {"ticket:created", "comment:created"} <= {e["event"] for e in ev})
        assert any(e["payload"].get("id") == first["chat_id"] for e in events)
        exported = run(env, "export", "--account", account, "--no-with-comments")
        assert exported.returncode == 0 and len(exported.stdout.splitlines()) >= 15, exported.stderr

        receiver.status = 503  # the subscriber is down: the next events stay undelivered
        sandbox.admin("POST", "customer-messages", json={"customer_id": customer_id(sandbox),
                                                         "text": "while it was down"})
        wait_until(lambda: any(d["state"] == "retrying" for d in client.get(
            f"/webhook-subscriptions/{sub['id']}/deliveries").json()["result"]), 30, "a failed delivery")
        serve.stop()
        shutdown(data_dir)  # everything is down, as after a reboot

        receiver.status = 200
        serve = Serve(env, workers=1, port=port)
        assert client.get("/integrated-accounts").json()["result"][0]["id"] == account
        tickets = client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=2)
        assert tickets.status_code == 200 and len(tickets.json()["result"]) == 2, tickets.text
        assert [s["id"] for s in client.get("/webhook-subscriptions").json()["result"]] == [sub["id"]]
        events = receiver.wait_for(lambda ev: any(e["event"] == "comment:created" and e["payload"].get("body") ==
                                                  "while it was down" for e in ev))
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids)), ids  # nothing delivered twice
    finally:
        if serve:
            serve.stop()
        receiver.server.shutdown()
        receiver.server.server_close()
        sandbox.stop()


def test_commands_beside_make_run_use_its_stack(data_dir):
    port = free_port()
    env = local_env(data_dir)
    dev = subprocess.Popen([*CLI, "dev", "--port", "0", "--chats", "20", "--rooms", "10", "--service-port",
                            str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(dev.stdout.readline, "")), daemon=True).start()
    try:
        wait_until(lambda: any("Press Ctrl-C" in line for line in lines), 120, "dev to print its demo accounts")
        stack = json.loads((data_dir / "stack.json").read_text())
        assert stack["service_url"] == f"http://127.0.0.1:{port}" and stack["pid"] == dev.pid
        assert stack["api_key"] in "".join(lines) and set(stack["accounts"]) == {"livechat", "rocketchat"}
        keys = run(env, "api-keys", "list", "--tenant", "demo")  # no settings: the demo stack's Redis
        assert keys.returncode == 0 and "make run" in keys.stderr, keys.stderr
        assert len(keys.stdout.splitlines()) == 1
        exported = run(env, "export", "--account", stack["accounts"]["livechat"], "--no-with-comments")
        assert exported.returncode == 0, exported.stderr  # the sandbox's address comes from the stack too
        assert len(exported.stdout.splitlines()) == 20
        found = asyncio.run(mcp_search(env))  # no --api-url, --api-key or --account: the stack's
        assert len(found) == 2 and all(t["id"] for t in found), found
        assert not (data_dir / "valkey.json").exists()  # the shared server was never needed
    finally:
        dev.terminate()
        dev.wait(30)
        dev.stdout.close()
    assert not (data_dir / "stack.json").exists()
    after = run(env, "api-keys", "list", "--tenant", "demo")  # the demo's throwaway Redis is gone with it
    assert after.returncode == 0 and after.stdout == "" and "shared embedded Valkey" in after.stderr


async def mcp_search(env: dict) -> list[dict]:
    """`unified-ticketing mcp` with no options, driven by the MCP SDK's client: two tickets from search_tickets."""
    env = {k: v for k, v in env.items() if not k.startswith("UNIFIED_API") and k != "UNIFIED_ACCOUNT_ID"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "unified_ticketing.cli", "mcp"], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("search_tickets", {"limit": 2})
    assert not result.is_error, result.content
    return result.structured_content.get("result", result.structured_content)


@pytest.mark.parametrize(("environment", "json_lines"), [("development", False), ("production", True)])
def test_logs_are_for_people_in_development_and_json_in_production(environment, json_lines, redis_server_url):
    env = {k: v for k, v in os.environ.items() if k not in ("UNIFIED_LOG_FORMAT", "PROMETHEUS_MULTIPROC_DIR")}
    worker = Process(["worker", "--threads", "1"], {**env, "REDIS_URL": redis_server_url, "UNIFIED_ENV": environment,
                                                    "UNIFIED_SECRET_KEY": "s3cret", "UNIFIED_ADMIN_TOKEN": "adm1n"})
    try:
        line = wait_until(lambda: next((ln for ln in worker.logs().splitlines() if "started" in ln), None), 60,
                          "the worker's first log line")
    finally:
        worker.stop()
    if json_lines:
        assert json.loads(line)["event"].endswith("started") and json.loads(line)["level"] == "info"
    else:
        assert not line.startswith("{") and "[info" in line and "unified_ticketing.worker" in line


NEEDS = {"serve": ["REDIS_URL", "UNIFIED_DATA_DIR", "UNIFIED_SECRET_KEY", "worker"],
         "api-keys create": ["REDIS_URL", "UNIFIED_DATA_DIR", "make run"], "api-keys": ["REDIS_URL", "make run"],
         "worker": ["REDIS_URL", "UNIFIED_SECRET_KEY"], "export": ["REDIS_URL", "UNIFIED_SECRET_KEY"],
         "webhooks register": ["REDIS_URL", "UNIFIED_PUBLIC_URL"], "webhooks sync": ["REDIS_URL", "UNIFIED_SECRET_KEY"],
         "mcp": ["UNIFIED_API_KEY", "UNIFIED_ACCOUNT_ID", "make run"]}


@pytest.mark.parametrize("command", sorted(NEEDS))
def test_each_commands_help_says_what_it_needs(command, capsys):
    with pytest.raises(SystemExit) as done:
        cli_module.main([*command.split(), "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert done.value.code == 0
    assert [need for need in NEEDS[command] if need not in text] == []


def test_version_is_the_packages():
    done = run(dict(os.environ), "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"unified-ticketing {version('unified-ticketing')}"

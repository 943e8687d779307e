"""Bulk export: NDJSON of every ticket with its transcript, equal to the read API, resumable."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpdesk_sandboxes.process import start_sandbox
from tests.conftest import connect_pat, new_tenant, running_service, service_overrides, traverse


@pytest.fixture(scope="module")
def export_sandbox():
    proc = start_sandbox("--chats", "2000", "--seed", "33", "--latency-ms", "2")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def export_service(export_sandbox, redis_server_url):
    with running_service(service_overrides(export_sandbox, redis_server_url)) as (_, base):
        client = new_tenant(base, "exporter")
        yield client, connect_pat(client, export_sandbox)


def run_export(redis_url: str, sandbox, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "REDIS_URL": redis_url, "UNIFIED_SECRET_KEY": "test-secret",
           "LIVECHAT_API_URL": sandbox.base_url, "UNIFIED_UPSTREAM_VERIFY_TLS": "false"}
    return subprocess.run([sys.executable, "-m", "unified_ticketing.cli", "export", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_http_export_streams_every_ticket_like_the_read_api(export_service):
    client, account = export_service
    resp = client.request("GET", "/unified/ticketing/export", params={"integrated_account_id": account,
                                                                      "with_comments": "false"}, stream=True)
    assert resp.headers["Content-Type"].startswith("application/x-ndjson")
    exported = [json.loads(line) for line in resp.iter_lines() if line]
    listed = [t for p in traverse(client, "tickets", integrated_account_id=account, limit=100,
                                  include_remote_data="false") for t in p]
    assert [t["id"] for t in exported] == [t["id"] for t in listed]
    assert len(exported) == 2000 and exported == listed  # record for record


def test_cli_export_with_comments_resumes_after_a_kill(export_service, export_sandbox, redis_server_url, tmp_path):
    client, account = export_service
    out = tmp_path / "tickets.ndjson"
    env = {**os.environ, "REDIS_URL": redis_server_url, "UNIFIED_SECRET_KEY": "test-secret",
           "LIVECHAT_API_URL": export_sandbox.base_url, "UNIFIED_UPSTREAM_VERIFY_TLS": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "unified_ticketing.cli", "export", "--account", account,
                             "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cursor_file = tmp_path / "tickets.ndjson.cursor"
    deadline = time.monotonic() + 120
    while not (cursor_file.exists() and json.loads(cursor_file.read_text() or "{}").get("exported", 0) >= 150):
        assert time.monotonic() < deadline and proc.poll() is None, "export made no progress"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    done = run_export(redis_server_url, export_sandbox, "--account", account, "--out", str(out), "--resume")
    assert done.returncode == 0, done.stderr
    assert "exported 2000 tickets" in done.stderr
    assert not cursor_file.exists()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    # a kill between writing a page and saving its cursor may repeat that page; nothing is lost
    ids = [t["id"] for t in lines]
    assert set(ids) == {t["id"] for p in traverse(client, "tickets", integrated_account_id=account, limit=100,
                                                  include_remote_data="false") for t in p}
    assert len(ids) - len(set(ids)) <= 100
    sample = next(t for t in lines if t["id"] == ids[1234])
    transcript = [c for p in traverse(client, "comments", integrated_account_id=account, ticket_id=sample["id"],
                                      limit=100, include_remote_data="false") for c in p]
    assert sample["comments"] == transcript


def test_export_rejects_bad_input(export_service, export_sandbox, redis_server_url):
    client, account = export_service
    resp = client.get("/unified/ticketing/export", integrated_account_id=account, since="last week")
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "since"
    assert client.get("/unified/ticketing/export", integrated_account_id=account, color="red").status_code == 400
    bad = run_export(redis_server_url, export_sandbox, "--account", "nope")
    assert bad.returncode == 1 and "no integrated account" in bad.stderr

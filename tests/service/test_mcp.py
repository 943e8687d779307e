"""The MCP server, driven by the official SDK's own client over stdio, against the service and sandbox."""
from __future__ import annotations

import asyncio
import json
import os
import sys

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.conftest import lc_call


def mcp_session(base: str, api_key: str, account: str, *extra: str):
    params = StdioServerParameters(command=sys.executable, args=[
        "-m", "unified_ticketing.cli", "mcp", "--api-url", base, "--api-key", api_key, "--account", account, *extra],
        env={**os.environ})
    return stdio_client(params)


async def _run(base, api_key, account, calls, *extra):
    async with mcp_session(base, api_key, account, *extra) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = sorted(t.name for t in (await session.list_tools()).tools)
        results = []
        for name, arguments in calls:
            result = await session.call_tool(name, arguments)
            text = "".join(c.text for c in result.content if getattr(c, "text", None))
            if result.is_error:
                results.append((True, text))
            else:
                structured = result.structured_content
                value = structured.get("result", structured) if structured else json.loads(text)
                results.append((False, value))
        return tools, results


def run(*args, **kwargs):
    return asyncio.run(_run(*args, **kwargs))


def test_read_only_agent_searches_reads_transcripts_and_only_drafts(service, tenant, account_id, sandbox):
    first = tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id, status="closed",
                       limit=1).json()["result"][0]
    tools, results = run(service, tenant.api_key, account_id, [
        ("search_tickets", {"status": "closed", "limit": 3}),
        ("get_ticket_transcript", {"ticket_id": first["id"]}),
        ("list_contact_tickets", {"contact_id": first["contact"]["id"], "limit": 5}),
        ("reply", {"ticket_id": first["id"], "body": "Thanks!", "send": True}),
    ])
    assert tools == ["get_ticket_transcript", "list_contact_tickets", "reply", "search_tickets"]
    (e1, found), (e2, transcript), (e3, contact_tickets), (e4, draft) = results
    assert not (e1 or e2 or e3 or e4)
    assert len(found) == 3 and all(t["status"] == "closed" for t in found)
    comments = [c for page in [tenant.get("/unified/ticketing/comments", integrated_account_id=account_id,
                                          ticket_id=first["id"], limit=100, include_remote_data="false").json()]
                for c in page["result"]]
    assert transcript["ticket"]["id"] == first["id"] and transcript["comments"][:len(comments)] == comments
    assert first["id"] in [t["id"] for t in contact_tickets]
    assert draft["draft"] is True and draft["sent"] is False


def test_write_tools_send_close_and_tag_when_enabled(writable_service, writer, writable_sandbox):
    client, account = writer
    open_ticket = client.get("/unified/ticketing/tickets", integrated_account_id=account, status="open",
                             limit=100).json()["result"][0]
    tools, results = run(writable_service, client.api_key, account, [
        ("reply", {"ticket_id": open_ticket["id"], "body": "We are on it.", "send": True}),
        ("tag_ticket", {"ticket_id": open_ticket["id"], "tags": ["urgent"]}),
        ("close_ticket", {"ticket_id": open_ticket["id"]}),
    ], "--enable-writes")
    assert {"close_ticket", "tag_ticket"} <= set(tools)
    (e1, sent), (e2, tagged), (e3, closed) = results
    assert not (e1 or e2 or e3), results
    assert sent["sent"] is True and sent["comment"]["body"] == "We are on it."
    assert "urgent" in [t["name"] for t in tagged["tags"]]
    assert closed["status"] == "closed"
    chat = lc_call(writable_sandbox, "get_chat", {"chat_id": open_ticket["id"]}).json()
    assert chat["thread"]["active"] is False and "urgent" in chat["thread"]["tags"]
    assert any(e.get("text") == "We are on it." for e in chat["thread"]["events"])


def test_tool_errors_are_reported_not_crashing(service, tenant, account_id):
    _, results = run(service, tenant.api_key, account_id, [("get_ticket_transcript", {"ticket_id": "NOPE"})])
    is_error, text = results[0]
    assert is_error and "404" in text


def test_streamable_http_transport_serves_the_same_tools(service, tenant, account_id):
    import socket
    import subprocess
    import time

    from mcp.client.streamable_http import streamable_http_client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "unified_ticketing.cli", "mcp", "--api-url", service, "--api-key",
                             tenant.api_key, "--account", account_id, "--transport", "streamable-http", "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def session():
        async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as streams, \
                ClientSession(streams[0], streams[1]) as client:
            await client.initialize()
            tools = sorted(t.name for t in (await client.list_tools()).tools)
            found = await client.call_tool("search_tickets", {"limit": 2})
            return tools, found.structured_content["result"]

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "MCP HTTP server did not start"
                time.sleep(0.1)
        tools, found = asyncio.run(session())
        assert "search_tickets" in tools and "close_ticket" not in tools
        assert len(found) == 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)

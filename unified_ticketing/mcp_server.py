"""A Model Context Protocol server over the unified API, for AI agents (the official `mcp` SDK).

Every tool call goes through the unified API with one tenant's API key and one integrated
account, so an agent sees exactly what that tenant may see. Write tools (sending a reply,
closing, tagging) exist only when the server is started with writes enabled; without them,
`reply` returns a draft and sends nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

import requests
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError


class UnifiedApiError(ToolError):
    """The unified API refused a call; the agent sees its status and message."""


@dataclass
class UnifiedApi:
    base_url: str
    api_key: str
    account_id: str

    def __post_init__(self):
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.api_key}"

    def call(self, method: str, path: str, params: dict | None = None, body: dict | None = None):
        query = {"integrated_account_id": self.account_id, "include_remote_data": "false", **(params or {})}
        resp = self.session.request(method, self.base_url.rstrip("/") + path, params=query, json=body, timeout=60)
        data = resp.json() if resp.content else {}
        if resp.status_code >= 400:
            err = data.get("error", {}) if isinstance(data, dict) else {}
            raise UnifiedApiError(f"{resp.status_code} {err.get('type', 'error')}: {err.get('message', resp.text)}")
        return data

    def all_pages(self, path: str, params: dict, cap: int) -> list[dict]:
        out, cursor = [], None
        while len(out) < cap:
            page = self.call("GET", path, {"next_cursor": cursor} if cursor else params)
            out += page["result"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return out[:cap]


def build_server(api: UnifiedApi, enable_writes: bool = False) -> MCPServer:
    server = MCPServer(name="unified-ticketing", instructions=(
        "Helpdesk tickets (conversations), their transcripts and contacts through one unified API. "
        + ("Write tools are enabled." if enable_writes else "Read-only: reply returns drafts.")))

    @server.tool(description="Search tickets. Any of: q (full text), status (open|closed), tag, contact_id.")
    def search_tickets(q: str | None = None, status: str | None = None, tag: str | None = None,
                       contact_id: str | None = None, limit: int = 10) -> list[dict]:
        params = {k: v for k, v in {"q": q, "status": status, "tag": tag, "contact_id": contact_id}.items() if v}
        return api.all_pages("/unified/ticketing/tickets", {**params, "limit": min(max(limit, 1), 100)}, limit)

    @server.tool(description="A ticket with its full transcript (every comment, oldest first).")
    def get_ticket_transcript(ticket_id: str) -> dict:
        ticket = api.call("GET", f"/unified/ticketing/tickets/{ticket_id}")
        comments = api.all_pages("/unified/ticketing/comments", {"ticket_id": ticket_id, "limit": 100}, 10_000)
        return {"ticket": ticket, "comments": comments}

    @server.tool(description="Tickets of one contact, newest first.")
    def list_contact_tickets(contact_id: str, limit: int = 10) -> list[dict]:
        return search_tickets(contact_id=contact_id, limit=limit)

    @server.tool(description="Reply to a ticket. Without send=true (or with writes disabled) returns a draft only.")
    def reply(ticket_id: str, body: str, send: bool = False, is_private: bool = False) -> dict:
        if not (send and enable_writes):
            return {"draft": True, "ticket_id": ticket_id, "body": body, "is_private": is_private,
                    "sent": False, "why": "writes are disabled" if send else "send was not requested"}
        comment = api.call("POST", "/unified/ticketing/comments",
                           body={"ticket_id": ticket_id, "body": body, "is_private": is_private})
        return {"draft": False, "sent": True, "comment": comment}

    if enable_writes:
        @server.tool(description="Close a ticket.")
        def close_ticket(ticket_id: str) -> dict:
            return api.call("PATCH", f"/unified/ticketing/tickets/{ticket_id}", body={"status": "closed"})

        @server.tool(description="Add tags to a ticket (keeps its existing tags).")
        def tag_ticket(ticket_id: str, tags: list[str]) -> dict:
            current = [t["name"] for t in api.call("GET", f"/unified/ticketing/tickets/{ticket_id}")["tags"]]
            wanted = current + [t for t in tags if t not in current]
            return api.call("PATCH", f"/unified/ticketing/tickets/{ticket_id}", body={"tags": wanted})

    return server

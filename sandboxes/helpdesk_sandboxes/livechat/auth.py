"""Credentials the sandbox accepts: OAuth access tokens (Bearer) and personal access tokens (Basic).

Scopes follow LiveChat's names. A `:rw` scope also grants the matching `:ro`, and `chats--all`
also grants `chats--access`. Each method lists the scopes any one of which lets it run.
"""
from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field

from .errors import LiveChatError

ALL_SCOPES = (
    "chats--all:ro", "chats--all:rw", "chats--access:ro", "chats--access:rw",
    "customers:ro", "customers:rw", "agents--all:ro", "agents--all:rw", "groups--all:ro", "groups--all:rw",
    "tags--all:ro", "tags--all:rw", "webhooks--all:ro", "webhooks--all:rw", "webhooks.configuration:rw",
    "webhooks.state:ro", "webhooks.state:rw",
    "accounts--my:ro",
)


def new_token(region: str | None = "dal") -> str:
    """An access token or PAT starts with its license's data center, "dal:" or "fra:" (docs: Agent Chat
    API "Data centers", until commit c91d7891); refresh tokens carry no prefix (region=None; docs:
    src/pages/authorization/oauth-authorization/index.mdx)."""
    return (f"{region}:" if region else "") + secrets.token_urlsafe(27)


def expand(scopes) -> set[str]:
    granted = set(scopes)
    for s in list(granted):
        if s.endswith(":rw"):
            granted.add(s[:-3] + ":ro")
    for s in list(granted):
        if s.startswith("chats--all:"):
            granted.add(s.replace("chats--all:", "chats--access:"))
    return granted


@dataclass
class Principal:
    """Who is calling: the agent (LiveChat account) behind a token, and what it may do."""
    account_id: str
    agent_id: str
    scopes: set[str]
    client_id: str | None = None
    organization_id: str | None = None  # the license the account belongs to


@dataclass
class AccessToken:
    token: str
    account_id: str
    client_id: str
    scopes: list[str]
    expires_at: float
    refresh_token: str | None = None


@dataclass
class RefreshToken:
    token: str
    account_id: str
    client_id: str
    scopes: list[str]
    created_at: float


@dataclass
class Registry:
    """Accounts (of every license), PATs, OAuth clients and live tokens."""
    accounts: dict[str, str] = field(default_factory=dict)  # account_id -> agent id (email)
    pats: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (account_id, token) -> scopes
    clients: dict[str, dict] = field(default_factory=dict)  # client_id -> {secret, rotating}
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    codes: dict[str, dict] = field(default_factory=dict)
    licenses: dict[str, str] = field(default_factory=dict)  # account_id -> its license's organization_id

    def principal(self, header: str | None, now: float) -> Principal:
        if not header:
            raise LiveChatError("authentication", "Missing Authorization header")
        scheme, _, cred = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            tok = self.access.get(cred.strip())
            if tok is None:
                raise LiveChatError("authentication", "Invalid access token")
            if tok.expires_at <= now:
                raise LiveChatError("authentication", "Access token expired")
            return Principal(tok.account_id, self.accounts[tok.account_id], expand(tok.scopes), tok.client_id,
                             self.licenses.get(tok.account_id))
        if scheme == "basic":
            try:
                account_id, _, pat = base64.b64decode(cred.strip(), validate=True).decode().partition(":")
            except Exception:
                raise LiveChatError("authentication", "Malformed Basic credentials") from None
            scopes = self.pats.get((account_id, pat))
            if scopes is None:
                raise LiveChatError("authentication", "Invalid personal access token")
            return Principal(account_id, self.accounts[account_id], expand(scopes),
                             organization_id=self.licenses.get(account_id))
        raise LiveChatError("authentication", "Unsupported authorization scheme; use Bearer or Basic")


def require(principal: Principal, any_of: tuple[str, ...], method: str) -> None:
    if not any_of or principal.scopes.intersection(any_of):
        return
    raise LiveChatError("authorization", f"Scope {any_of[0]} is required to call {method}",
                        {"required_scopes": list(any_of)})

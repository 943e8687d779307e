"""Redis round trips per unified page (part of figure 3): the service's app, in this process against
the same sandbox and Redis, with every request's round trips counted where redis-py sends them
(`Connection.send_packed_command`: once per command, once per pipeline)."""
from __future__ import annotations

from contextlib import contextmanager

from redis.connection import Connection

from unified_ticketing.app import create_app

from .common import ADMIN_TOKEN, SECRET_KEY, Context


@contextmanager
def counting():
    """Round trips this process sends inside the block (from any thread: a service under test may serve in
    another): `with counting() as n: ...; n()`."""
    original, sent = Connection.send_packed_command, []

    def send(self, command, check_health=True):
        sent.append(1)
        return original(self, command, check_health)

    Connection.send_packed_command = send
    try:
        yield lambda: len(sent)
    finally:
        Connection.send_packed_command = original


def per_page(ctx: Context, cases: list[tuple[str, int, dict]], pages: int = 3) -> dict[str, list[int]]:
    """Round trips of the first `pages` unified pages of each (resource, limit, filters) case, after one
    page of it to warm the process: {resource: [trips of each page]}."""
    creds = ctx.sandbox.admin("GET", "credentials")
    env = {"LIVECHAT_API_URL": ctx.sandbox.base_url, "LIVECHAT_ACCOUNTS_URL": ctx.sandbox.base_url}
    app = create_app({"REDIS_URL": ctx.redis_url, "SECRET_KEY": SECRET_KEY, "ADMIN_TOKEN": ADMIN_TOKEN,
                      "UPSTREAM_ENV": env, "UPSTREAM_VERIFY_TLS": False})
    client = app.test_client()
    key = client.post("/admin/api-keys", json={"tenant": "bench-redis"},
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).get_json()["api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    account = client.post("/integrated-accounts", headers=auth, json={"integration": "livechat", "credentials": {
        "type": "personal_access_token", "account_id": creds["account_id"],
        "token": creds["personal_access_token"]}}).get_json()["id"]
    try:
        return {resource: _pages(client, auth, f"/unified/ticketing/{resource}",
                                 {"integrated_account_id": account, "limit": limit, **filters}, pages)
                for resource, limit, filters in cases}
    finally:
        app.extensions["unified"].redis.close()


def _pages(client, auth: dict, path: str, first: dict, pages: int) -> list[int]:
    client.get(path, query_string=first, headers=auth)  # warm: scripts, scope
    counts, query = [], first
    for _ in range(pages):
        with counting() as trips:
            resp = client.get(path, query_string=query, headers=auth)
            counts.append(trips())
        if resp.status_code != 200:
            raise RuntimeError(f"redis round trips: {path} failed: {resp.status_code} "
                               f"{resp.get_data(as_text=True)[:300]}")
        cursor = resp.get_json()["next_cursor"]
        if not cursor:
            break
        query = {"integrated_account_id": first["integrated_account_id"], "next_cursor": cursor}
    return counts

"""Figure 8: paging. Counts, not times, all from the sandboxes' own call counters.

- upstream calls per 100 tickets delivered, and records per page, over a whole LiveChat traversal at
  `limit=100` (the bench's 300-chat sandbox); the least a traversal can cost is one call per upstream
  page, ⌈threads / 100⌉ (list_archives lists a chat once per thread);
- "what changed in the last day" (`updated_at[gte]`) on a 10 000-chat LiveChat sandbox and a 10 000-room
  Rocket.Chat sandbox, against a whole traversal of the same sandbox at the same page size. On LiveChat,
  a few chats active for days get a new message first: v3.6 (the default) must return them (list_chats'
  active chats, read by thread id), and the details say what v3.5, which cannot list active chats alone,
  costs and returns.

    python -m bench --only 8
"""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import requests

from helpdesk_sandboxes.process import SandboxProcess, start_sandbox

from .common import Client, Context, Figure, Upstream, connect_pat, new_tenant, reset_stats, start_service, stats

LIMIT = 100
BIG = 10_000
TOUCHED = 5  # LiveChat chats active for days that get a new message before the incremental pull
MAX_PAGES = 1_000


def run(ctx: Context) -> list[Figure]:
    with ctx.bar("8. paging", 3) as advance:
        figures = _full_pages(ctx)
        advance()
        lc = start_sandbox("--chats", str(BIG), "--seed", "7")
        rc = start_sandbox("--integration", "rocketchat", "--rooms", str(BIG), "--seed", "7")
        service = None
        try:
            service = start_service(lc, ctx.redis_url, workers=1, env={"UNIFIED_ALLOW_PRIVATE_UPSTREAMS": "true"})
            client = new_tenant(service, "bench-paging")
            since = _lc_since(lc)
            account = connect_pat(client, lc)
            touched = _comment_long_running_active_chats(client, account, lc, since, TOUCHED)
            figure = _changed_last_day(client, account, lc, "LiveChat", since, touched)
            reset_stats(lc)
            v35 = _ids(_traverse(client, connect_pat(client, lc, "3.5"), **{"updated_at[gte]": since}))
            figure.details["v3_5"] = {"incremental_calls": stats(lc)["total_calls"], "changed": len(v35),
                                      "long_running_active_returned": len(set(touched) & set(v35))}
            figures.append(figure)
            advance()
            figures.append(_changed_last_day(client, _connect_rocketchat(client, rc), rc, "Rocket.Chat",
                                             _rc_since(rc), []))
            advance()
        finally:
            if service:
                service.stop()
            lc.stop()
            rc.stop()
    return figures


def _traverse(client: Client, account: str, **params) -> list[list[str]]:
    """The ticket ids of each page of a whole traversal."""
    query = {"integrated_account_id": account, "limit": LIMIT, "include_remote_data": "false", **params}
    sizes = []
    for _ in range(MAX_PAGES):
        resp = client.get("/unified/ticketing/tickets", **query)
        if resp.status_code != 200:
            raise RuntimeError(f"figure 8: a tickets page failed: {resp.status_code} {resp.text[:300]}")
        body = resp.json()
        sizes.append([t["id"] for t in body["result"]])
        if not body["next_cursor"]:
            return sizes
        query = {"integrated_account_id": account, "next_cursor": body["next_cursor"], "include_remote_data": "false"}
    raise RuntimeError(f"figure 8: the traversal did not end in {MAX_PAGES} pages")


def _full_pages(ctx: Context) -> list[Figure]:
    threads = ctx.upstream.call("list_archives", {"limit": 1}).json()["found_chats"]
    minimum = math.ceil(threads / LIMIT)
    reset_stats(ctx.sandbox)
    sizes = [len(page) for page in _traverse(ctx.client, ctx.account_id)]
    calls = stats(ctx.sandbox)["calls"].get("list_archives", 0)
    tickets = sum(sizes)
    full = sizes[:-1]
    return [
        Figure(key="paging_calls_per_100_tickets", title="8. Upstream calls per 100 tickets delivered (LiveChat)",
               value=round(calls * 100 / tickets, 2), unit="calls",
               baseline=f"{tickets} tickets from {threads} threads: at least ⌈{threads}/100⌉ = {minimum} calls; "
                        f"this traversal made {calls}",
               goal=f"{minimum * 100 / tickets:.2f} (the minimum)", met=calls == minimum,
               details={"threads": threads, "tickets": tickets, "calls": calls, "minimum": minimum}),
        Figure(key="paging_records_per_page", title="8. Records per page at limit=100 (LiveChat)",
               value=round(sum(full) / len(full), 1) if full else sizes[0], unit="records",
               baseline=f"{len(sizes)} pages; the last holds {sizes[-1]}",
               goal="100 on every page but the last", met=all(n == LIMIT for n in full),
               details={"pages": sizes}),
    ]


def _ids(pages: list[list[str]]) -> list[str]:
    return [i for page in pages for i in page]


def _changed_last_day(client: Client, account: str, sb: SandboxProcess, title: str, since: str,
                      touched: list[str]) -> Figure:
    """`touched`: tickets changed since `since` that the pull must return (else the figure is not met)."""
    reset_stats(sb)
    found = _ids(_traverse(client, account, **{"updated_at[gte]": since}))
    changed, returned = len(found), len(set(touched) & set(found))
    incremental = stats(sb)["total_calls"]
    reset_stats(sb)
    total = len(_ids(_traverse(client, account)))
    full = stats(sb)["total_calls"]
    return Figure(
        key=f"paging_changed_last_day_{title.lower().replace('.', '')}",
        title=f"8. Calls for what changed in the last day, {BIG:,} chats ({title})".replace("0,0", "0 0"),
        value=incremental, unit="calls",
        baseline=f"a whole traversal: {full} calls for {total} tickets; {changed} changed since {since}",
        goal="in proportion to what changed (≤ 10 % of a whole traversal), each changed ticket once",
        met=incremental <= full / 10 and returned == len(touched) and len(set(found)) == changed,
        details={"since": since, "changed": changed, "incremental_calls": incremental, "full_calls": full,
                 "tickets": total, "long_running_active": len(touched), "long_running_active_returned": returned})


def _day_before(stamp: str) -> str:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) - timedelta(days=1)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _lc_since(sb: SandboxProcess) -> str:
    """A day before the newest thread's last event (the seeded timeline ends in the past)."""
    newest = Upstream(sb).call("list_archives", {"limit": 1}).json()["chats"][0]["thread"]
    return _day_before(newest["events"][-1]["created_at"] if newest.get("events") else newest["created_at"])


def _comment_long_running_active_chats(client: Client, account: str, sb: SandboxProcess, since: str,
                                      n: int) -> list[str]:
    """Up to `n` active chats whose latest thread started over a day before `since` get a comment now."""
    upstream, bound = Upstream(sb), _day_before(since)
    chats, page_id = [], None
    while len(chats) < n:
        body = {"page_id": page_id} if page_id else {"limit": 100, "filters": {"active": True}}
        answer = upstream.call("list_chats", body, version="3.6").json()
        chats += [c["id"] for c in answer["chats_summary"] if c["last_thread_summary"]["created_at"] < bound]
        page_id = answer.get("next_page_id")
        if not page_id:
            break
    for chat_id in chats[:n]:
        sent = client.post(f"/unified/ticketing/comments?integrated_account_id={account}",
                           {"ticket_id": chat_id, "body": "Any update on this?"})
        if sent.status_code != 201:
            raise RuntimeError(f"figure 8: a comment failed: {sent.status_code} {sent.text[:300]}")
    return chats[:n]


def _rc_since(sb: SandboxProcess) -> str:
    creds = sb.admin("GET", "credentials")
    rooms = requests.get(creds["server_url"] + "/api/v1/livechat/rooms", headers=creds["headers"], timeout=60,
                         params={"count": 1, "sort": '{"_updatedAt": -1}'}).json()["rooms"]
    return _day_before(rooms[0]["_updatedAt"])


def _connect_rocketchat(client: Client, sb: SandboxProcess) -> str:
    creds = sb.admin("GET", "credentials")
    resp = client.post("/integrated-accounts", {"integration": "rocketchat", "credentials": {
        "type": "personal_access_token", "server_url": creds["server_url"], "user_id": creds["user_id"],
        "auth_token": creds["auth_token"]}})
    if resp.status_code != 201:
        raise RuntimeError(f"connecting a Rocket.Chat account failed: {resp.status_code} {resp.text}")
    return resp.json()["id"]

"""Figure 3: upstream calls per unified page, counted by the sandbox while paging to the end; and the
Redis round trips of tickets, contacts and comments pages (`redis_trips.py`)."""
from __future__ import annotations

from collections import Counter

from . import redis_trips
from .common import Context, Figure, reset_stats, stats

MAX_PAGES = 50
TRIPS_GOAL = 3  # Redis round trips per page (issue 16), for each of these resources
TRIPS_OF = ("tickets", "contacts", "comments")


def run(ctx: Context) -> list[Figure]:
    busiest, most_files = _sample_chats(ctx)
    cases = [("tickets", 100, {}), ("contacts", 100, {}), ("comments", 20, {"ticket_id": busiest}),
             ("attachments", 20, {"ticket_id": most_files})]
    figures = []
    with ctx.bar("3. upstream calls per page", len(cases)) as advance:
        for resource, limit, filters in cases:
            reset_stats(ctx.sandbox)
            pages, records = _traverse(ctx, resource, limit, filters)
            counted = stats(ctx.sandbox)
            calls = counted["total_calls"]
            # Pages are full (issue 16): a page may read several upstream pages, so calls per page is a report;
            # figure 8 checks that a whole traversal reads each upstream page once (the minimum of calls).
            figures.append(Figure(
                key=f"calls_per_page_{resource}", title=f"3. Upstream calls per page, {resource}",
                value=round(calls / pages, 2), unit="calls",
                baseline=f"{pages} unified pages of ≤ {limit} ({records} records), {calls} upstream calls",
                goal="report", met=None,
                details={"pages": pages, "records": records, "upstream_calls": calls,
                         "by_method": counted["calls"], "filters": filters}))
            advance()
    trip_cases = [case for case in cases if case[0] in TRIPS_OF]
    trips = redis_trips.per_page(ctx, trip_cases)
    for resource, limit, _ in trip_cases:
        counts = trips[resource]
        figures.append(Figure(
            key=f"redis_round_trips_per_page_{resource}", title=f"3. Redis round trips per page, {resource}",
            value=max(counts), unit="round trips", baseline=f"{len(counts)} unified pages of ≤ {limit} (the first, "
            f"then with next_cursor): {', '.join(map(str, counts))}", goal=f"≤ {TRIPS_GOAL}",
            met=max(counts) <= TRIPS_GOAL, details={"per_page": counts}))
    return figures


def _traverse(ctx: Context, resource: str, limit: int, filters: dict) -> tuple[int, int]:
    params = {"integrated_account_id": ctx.account_id, "limit": limit, **filters}
    pages = records = 0
    for _ in range(MAX_PAGES):
        resp = ctx.client.get(f"/unified/ticketing/{resource}", **params)
        if resp.status_code != 200:
            raise RuntimeError(f"figure 3: {resource} page failed: {resp.status_code} {resp.text[:300]}")
        body = resp.json()
        pages += 1
        records += body["result_count"]
        if not body["next_cursor"]:
            break
        params = {"integrated_account_id": ctx.account_id, "next_cursor": body["next_cursor"]}
    return pages, records


def _sample_chats(ctx: Context) -> tuple[str, str]:
    """On the first archive page: the chat with the most events, and the one with the most files."""
    chats = ctx.upstream.call("list_archives", {"limit": 100, "sort_order": "desc", "filters": {}}).json()["chats"]
    events, files = Counter(), Counter()
    for chat in chats:
        for event in chat["thread"].get("events") or []:
            events[chat["id"]] += 1
            files[chat["id"]] += event.get("type") == "file"
    return events.most_common(1)[0][0], files.most_common(1)[0][0]

"""Paging the way clients page, the same tests for every helpdesk: full pages, a whole traversal at the
fewest upstream calls, cursors sent with their query or a new limit, and incremental pulls (`updated_at[gte]`)
whose upstream calls follow what changed. Calls are the sandbox's own counts."""
import math
from datetime import UTC, datetime, timedelta

import pytest

from bench.redis_trips import counting
from tests.conftest import connect_pat, error
from tests.unified.helpdesks import Helpdesk, LiveChatOracle


def _ids(page) -> list[str]:
    return [t["id"] for t in page["result"]]


@pytest.mark.parametrize("limit", [100, 7])
def test_pages_are_full_and_a_traversal_reads_each_upstream_page_once(helpdesk, limit):
    entries, expected = helpdesk.oracle.ticket_entries(), helpdesk.oracle.ticket_ids()
    assert entries > len(expected) or helpdesk.name != "livechat"  # LiveChat lists a chat once per thread
    helpdesk.sandbox.admin("POST", "stats/reset")
    pages = helpdesk.pages("tickets", limit=limit, include_remote_data="false")
    assert helpdesk.stats_calls() == math.ceil(entries / limit)  # each upstream page read once
    assert [len(p) for p in pages[:-1]] == [limit] * (len(pages) - 1)  # full while records remain
    assert [t["id"] for p in pages for t in p] == expected


def test_a_cursor_sent_with_its_original_query_gives_the_next_page(helpdesk):
    query = {"limit": 10, "status": "closed", "include_remote_data": "false"}
    first = helpdesk.ok("tickets", **query)
    repeated = helpdesk.ok("tickets", next_cursor=first["next_cursor"], **query)
    alone = helpdesk.ok("tickets", next_cursor=first["next_cursor"], include_remote_data="false")
    assert repeated["result"] == alone["result"] and len(repeated["result"]) == 10
    closed = [t["id"] for t in helpdesk.all("tickets", limit=50, status="closed", include_remote_data="false")]
    assert _ids(first) + _ids(repeated) == closed[:20]
    back = helpdesk.ok("tickets", prev_cursor=repeated["prev_cursor"], **query)
    assert _ids(back) == _ids(first)


def test_a_different_limit_with_a_cursor_is_honoured(helpdesk):
    expected = helpdesk.oracle.ticket_ids()
    first = helpdesk.ok("tickets", limit=5, include_remote_data="false")
    bigger = helpdesk.ok("tickets", limit=12, next_cursor=first["next_cursor"], include_remote_data="false")
    smaller = helpdesk.ok("tickets", limit=3, next_cursor=bigger["next_cursor"], include_remote_data="false")
    assert (len(bigger["result"]), len(smaller["result"])) == (12, 3)
    assert _ids(first) + _ids(bigger) + _ids(smaller) == expected[:20]


def test_going_back_with_a_larger_limit_reads_on_over_later_pages(helpdesk):
    expected = helpdesk.oracle.ticket_ids()
    first = helpdesk.ok("tickets", limit=5, include_remote_data="false")
    second = helpdesk.ok("tickets", limit=5, next_cursor=first["next_cursor"], include_remote_data="false")
    back = helpdesk.ok("tickets", limit=60, prev_cursor=second["prev_cursor"], include_remote_data="false")
    assert _ids(back) == expected[:60]  # what the second page read upstream is no loop


def test_a_filter_that_differs_from_the_cursors_query_is_refused_naming_it(helpdesk):
    first = helpdesk.ok("tickets", limit=5, status="closed")
    tag = helpdesk.oracle.used_tag()
    helpdesk.sandbox.admin("POST", "stats/reset")
    changed = error(helpdesk.get("tickets", status="open", next_cursor=first["next_cursor"]), 400, "status")
    assert "status=closed" in changed["message"]
    added = error(helpdesk.get("tickets", status="closed", tag=tag, next_cursor=first["next_cursor"]), 400, "tag")
    assert "no tag" in added["message"]
    dropped = error(helpdesk.get("tickets", tag=tag, next_cursor=first["next_cursor"]), 400)
    assert dropped["param"] in ("status", "tag")
    assert helpdesk.stats_calls() == 0  # refused before reaching the helpdesk


def test_every_page_of_a_traversal_costs_at_most_three_redis_round_trips(helpdesk):
    """The API key with its account (and a cursor's state), one check of what a later page read against the
    traversal's earlier pages, and the traversal's next state with the account-log entry. LiveChat lists a chat
    once per thread, so later pages meet chats the earlier ones delivered: they are skipped as the page reads,
    not found after a check (which would leave the page short, to read and check again)."""
    query = {"limit": 100, "include_remote_data": "false"}
    trips, ids = [], []
    while True:
        with counting() as sent:  # where redis-py sends: one per command, one per pipeline
            page = helpdesk.ok("tickets", **query)
        trips.append(sent())
        ids += _ids(page)
        if not page["next_cursor"]:
            break
        query = {"next_cursor": page["next_cursor"], "include_remote_data": "false"}
    assert len(trips) >= 2 and max(trips) <= 3, trips
    assert ids == helpdesk.oracle.ticket_ids()


def test_meta_says_whether_each_ticket_filter_is_upstream_and_exact(helpdesk):
    filters = {f["name"]: f for f in helpdesk.client.get(
        "/unified/ticketing/tickets/meta/list", integration=helpdesk.name).json()["filters"]}
    updated = filters["updated_at"]
    assert updated["upstream"] is True and updated["upstream_how"]  # bounded upstream, checked after mapping
    assert updated["applied"] == "after_mapping"
    if updated["exact"]:
        assert "misses" not in updated
    else:
        assert updated["misses"]  # what the upstream bound can leave out, in words
    assert filters["created_at"] == {**filters["created_at"], "upstream": True, "exact": True}


def test_changed_since_costs_upstream_calls_for_what_changed_not_the_archive(writable_helpdesk):
    """Comments on two tickets (LiveChat: reopening closed ones starts new threads; Rocket.Chat: open rooms),
    then `updated_at[gte]` from just before: exactly those two, in one upstream call, where the whole list
    at the same page size costs one call per page of the archive."""
    hd, oracle = writable_helpdesk, writable_helpdesk.oracle
    state = "closed" if oracle.can_reopen else "open"
    changed = sorted(oracle.ticket_ids_where(status=state))[:2]
    since = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for ticket in changed:
        assert hd.send("POST", "comments", json={"ticket_id": ticket, "body": "any news?"}).status_code == 201
    entries = oracle.ticket_entries()

    hd.sandbox.admin("POST", "stats/reset")
    found = hd.all("tickets", limit=5, include_remote_data="false", **{"updated_at[gte]": since})
    assert sorted(t["id"] for t in found) == changed and all(t["updated_at"] >= since for t in found)
    assert hd.stats_calls() == 1

    hd.sandbox.admin("POST", "stats/reset")
    everything = hd.all("tickets", limit=5, include_remote_data="false")
    assert hd.stats_calls() == math.ceil(entries / 5) >= 8
    assert {t["id"] for t in everything if t["updated_at"] >= since} == set(changed)


# --- LiveChat: the active chats that the archive window cannot see -------------------------------------
@pytest.fixture
def livechat_writable(writer, writable_sandbox):
    """(v3.5 Helpdesk, v3.6 Helpdesk) on the writable LiveChat sandbox, reset, without rate limits or faults."""
    client, account = writer
    writable_sandbox.admin("POST", "reset")
    writable_sandbox.admin("POST", "config", json={"rate_limit": 0, "rate_burst": 0, "latency_ms": 0,
                                                   "fault_rate": 0, "error_status": "http"})
    v36 = connect_pat(client, writable_sandbox, "3.6")
    return tuple(Helpdesk("livechat", client, acct, writable_sandbox, LiveChatOracle(writable_sandbox, static=False))
                 for acct in (account, v36))


def _long_running_active_chats(oracle, before: datetime) -> list[str]:
    """Active chats whose latest thread started before `before` (so list_archives' window leaves them out)."""
    return sorted(c["id"] for c in oracle.chats() if c["last_thread_summary"]["active"]
                  and c["last_thread_summary"]["created_at"] < before.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def test_changed_since_returns_long_running_active_chats_on_livechat_v36(livechat_writable):
    """A new message on a chat active for days, and a reopened closed chat: v3.6's `updated_at[gte]` returns both
    (list_chats for the active chats, their threads by id, the archive window), each once, in three calls."""
    v35, v36 = livechat_writable
    now = datetime.now(UTC)
    active = _long_running_active_chats(v36.oracle, now - timedelta(days=2))[:2]
    assert active  # the seed has chats active for days
    closed = sorted(v36.oracle.ticket_ids_where(status="closed"))[:1]
    since = (now - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for ticket in active + closed:
        assert v36.send("POST", "comments", json={"ticket_id": ticket, "body": "still there?"}).status_code == 201

    v36.sandbox.admin("POST", "stats/reset")
    found = v36.all("tickets", limit=5, include_remote_data="false", **{"updated_at[gte]": since})
    ids = [t["id"] for t in found]
    assert sorted(ids) == sorted(active + closed) and all(t["updated_at"] >= since for t in found)  # each once
    assert all(t["status"] == "open" for t in found)
    # list_chats (the active chats fit one page), list_archives by thread ids, the archive window
    assert v36.stats_calls() == 3

    # the same on the v3.5 account: list_chats cannot list active chats alone there, so they stay missed
    # (meta says so), and the pull costs the one call it did
    v35.sandbox.admin("POST", "stats/reset")
    old = v35.all("tickets", limit=5, include_remote_data="false", **{"updated_at[gte]": since})
    assert [t["id"] for t in old] == closed and v35.stats_calls() == 1


def test_changed_since_on_livechat_v36_keeps_the_other_filters_and_pages_without_duplicates(livechat_writable):
    """With a filter besides `updated_at[gte]`, the active chats are checked against it too; with limit 1 the
    traversal pages through them once each, and going back to the first page gives it again."""
    _, v36 = livechat_writable
    now = datetime.now(UTC)
    active = _long_running_active_chats(v36.oracle, now - timedelta(days=2))
    since = (now - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for ticket in active:
        assert v36.send("POST", "comments", json={"ticket_id": ticket, "body": "anything else?"}).status_code == 201
    chats = {c["id"]: c for c in LiveChatOracle(v36.sandbox, static=False).chats()}
    contact = next(u["id"] for u in chats[active[0]]["users"] if u["type"] == "customer")

    pages = v36.pages("tickets", limit=1, include_remote_data="false", **{"updated_at[gte]": since})
    assert [len(p) for p in pages[:len(active)]] == [1] * len(active)
    assert sorted(t["id"] for p in pages for t in p) == sorted(active)
    first = v36.ok("tickets", limit=1, include_remote_data="false", **{"updated_at[gte]": since})
    second = v36.ok("tickets", next_cursor=first["next_cursor"], include_remote_data="false")
    back = v36.ok("tickets", prev_cursor=second["prev_cursor"], include_remote_data="false")
    assert _ids(back) == _ids(first) != _ids(second)  # the first page, read again, reads the active chats again
    mine = v36.all("tickets", include_remote_data="false", contact_id=contact, **{"updated_at[gte]": since})
    assert [t["id"] for t in mine] == [c for c in active if contact in
                                       [u["id"] for u in chats[c]["users"] if u["type"] == "customer"]]


def test_meta_names_list_chats_for_livechat_v36_updated_at(livechat_writable):
    """Capabilities per version: v3.6's updated_at reads the active chats, v3.5's cannot, and each says what
    it still misses."""
    v35, _ = livechat_writable
    meta = {version: {f["name"]: f for f in v35.client.get(
        "/unified/ticketing/tickets/meta/list", integration="livechat", api_version=version).json()["filters"]}
        for version in ("3.5", "3.6")}
    old, new = meta["3.5"]["updated_at"], meta["3.6"]["updated_at"]
    assert "list_chats" in new["upstream_how"] and "list_chats" not in old["upstream_how"]
    assert "still active" in old["misses"] and "closed before the request" in new["misses"]

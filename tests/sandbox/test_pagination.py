"""Pagination of list_archives, list_chats, list_threads and list_customers over the 300-chat sandbox.

LiveChat's rules: `limit`/`sort_order`/`filters` on the first call, then `page_id` alone;
`next_page_id`/`previous_page_id` only when such a page exists; documented default/max limits.
"""
from __future__ import annotations

import pytest

from tests.conftest import lc_call

from .chat_api_helpers import Api, archive_key, error_of, flat, traverse

PAGE = 25


@pytest.fixture(scope="module")
def api(sandbox):
    with Api(sandbox) as client:
        yield client


@pytest.fixture(scope="module")
def archives(api):
    """The whole archive, oldest thread first, read with the largest page."""
    return flat(traverse(api, "list_archives", {"limit": 100, "sort_order": "asc"}), "chats")


@pytest.fixture(scope="module")
def chats_by_id(archives):
    """chat id -> its threads in creation order, rebuilt from the archive."""
    out: dict[str, list[dict]] = {}
    for entry in archives:
        out.setdefault(entry["id"], []).append(entry["thread"])
    return out


def _check_page_links(pages: list[dict], key: str, limit: int) -> None:
    assert len(pages) > 2
    for i, p in enumerate(pages):
        first, last = i == 0, i == len(pages) - 1
        assert ("previous_page_id" in p) is not first, f"page {i}"
        assert ("next_page_id" in p) is not last, f"page {i}"
        if last:
            assert 1 <= len(p[key]) <= limit
        else:
            assert len(p[key]) == limit, f"page {i}"


# --- list_archives ---------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_archives_pages_through_every_thread_exactly_once(api, archives, chats_by_id, order):
    pages = traverse(api, "list_archives", {"limit": PAGE, "sort_order": order})
    _check_page_links(pages, "chats", PAGE)
    entries = flat(pages, "chats")
    keys = [archive_key(e) for e in entries]
    assert len(keys) == len(set(keys)) == pages[0]["found_chats"]
    thread_ids = [t for _, t in keys]
    assert len(set(thread_ids)) == len(thread_ids)
    # Same entries as the 100-per-page read, each chat once per thread, in thread creation order.
    expected = [archive_key(e) for e in archives]
    assert keys == (expected if order == "asc" else expected[::-1])
    stamps = [e["thread"]["created_at"] for e in entries]
    assert stamps == sorted(stamps, reverse=order == "desc")
    multi = [c for c, threads in chats_by_id.items() if len(threads) >= 3]
    assert multi, "the seed should have chats with three or more threads"
    for chat_id in multi:
        assert sum(1 for c, _ in keys if c == chat_id) == len(chats_by_id[chat_id])


def test_archive_thread_chains_are_complete(archives, chats_by_id):
    """Every thread's previous/next links point at threads of the same chat, in creation order."""
    assert len(chats_by_id) == 300
    for threads in chats_by_id.values():
        assert "previous_thread_id" not in threads[0]
        assert "next_thread_id" not in threads[-1]
        for older, newer in zip(threads, threads[1:], strict=False):
            assert older["next_thread_id"] == newer["id"]
            assert newer["previous_thread_id"] == older["id"]
            assert older["created_at"] < newer["created_at"]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_archives_previous_page_id_returns_the_previous_page_exactly(api, order):
    pages = traverse(api, "list_archives", {"limit": PAGE, "sort_order": order})
    for i in range(1, len(pages)):
        back = api.ok("list_archives", {"page_id": pages[i]["previous_page_id"]})
        assert [archive_key(e) for e in back["chats"]] == [archive_key(e) for e in pages[i - 1]["chats"]]
        assert ("previous_page_id" in back) is (i - 1 > 0)
        assert "next_page_id" in back
    # Going back then forward again lands on the same page.
    back = api.ok("list_archives", {"page_id": pages[3]["previous_page_id"]})
    again = api.ok("list_archives", {"page_id": back["next_page_id"]})
    assert [archive_key(e) for e in again["chats"]] == [archive_key(e) for e in pages[3]["chats"]]


def test_previous_pages_keep_the_filters_of_the_first_call(api, archives):
    body = {"limit": 7, "sort_order": "asc", "filters": {"tags": {"values": ["billing"]}}}
    pages = traverse(api, "list_archives", body)
    expected = [archive_key(e) for e in archives if "billing" in e["thread"]["tags"]]
    assert [archive_key(e) for e in flat(pages, "chats")] == expected
    back = api.ok("list_archives", {"page_id": pages[-1]["previous_page_id"]})
    assert [archive_key(e) for e in back["chats"]] == [archive_key(e) for e in pages[-2]["chats"]]


# --- list_chats ------------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_chats_pages_through_every_chat_exactly_once(api, chats_by_id, order):
    pages = traverse(api, "list_chats", {"limit": PAGE, "sort_order": order})
    _check_page_links(pages, "chats_summary", PAGE)
    summaries = flat(pages, "chats_summary")
    ids = [s["id"] for s in summaries]
    assert len(ids) == len(set(ids)) == len(chats_by_id) == pages[0]["found_chats"]
    assert set(ids) == set(chats_by_id)
    stamps = [s["last_thread_summary"]["created_at"] for s in summaries]
    assert stamps == sorted(stamps, reverse=order == "desc")
    for s in summaries:
        last = chats_by_id[s["id"]][-1]
        assert s["last_thread_summary"]["id"] == last["id"]
        assert s["last_thread_summary"]["created_at"] == last["created_at"]
        assert s["last_thread_summary"]["active"] == last["active"]
    back = api.ok("list_chats", {"page_id": pages[2]["previous_page_id"]})
    assert [s["id"] for s in back["chats_summary"]] == [s["id"] for s in pages[1]["chats_summary"]]


def test_list_chats_include_active_false_drops_active_chats(api, chats_by_id):
    every = flat(traverse(api, "list_chats", {"limit": 100}), "chats_summary")
    closed = flat(traverse(api, "list_chats", {"limit": 100, "filters": {"include_active": False}}),
                  "chats_summary")
    active = {c for c, threads in chats_by_id.items() if threads[-1]["active"]}
    assert active, "the seed should have a few active chats"
    assert {s["id"] for s in closed} == {s["id"] for s in every} - active


def test_list_chats_v36_active_filter_replaces_include_active(api, chats_by_id):
    """v3.6 replaced include_active with active: true only active, false only inactive, absent both."""
    active = {c for c, threads in chats_by_id.items() if threads[-1]["active"]}
    with Api(api.sandbox, version="3.6") as api36:
        only = flat(traverse(api36, "list_chats", {"limit": 100, "filters": {"active": True}}), "chats_summary")
        assert {s["id"] for s in only} == active
        closed = flat(traverse(api36, "list_chats", {"limit": 100, "filters": {"active": False}}), "chats_summary")
        assert {s["id"] for s in closed} == set(chats_by_id) - active
    _, err = api.error("list_chats", {"filters": {"include_active": False}}, version="3.6")
    assert err["type"] == "validation" and "include_active" in err["message"]
    _, err = api.error("list_chats", {"filters": {"active": False}})  # v3.5 has no `active`
    assert err["type"] == "validation"


# --- list_threads ----------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_threads_pages_through_a_chats_threads(api, chats_by_id, order):
    chats = [c for c, threads in chats_by_id.items() if len(threads) >= 3][:8]
    for chat_id in chats:
        pages = traverse(api, "list_threads", {"chat_id": chat_id, "limit": 1, "sort_order": order}, chat_id=chat_id)
        expected = [t["id"] for t in chats_by_id[chat_id]]
        assert [t["id"] for t in flat(pages, "threads")] == (expected if order == "asc" else expected[::-1])
        assert pages[0]["found_threads"] == len(expected)
        assert "previous_page_id" not in pages[0] and "next_page_id" not in pages[-1]
        back = api.ok("list_threads", {"chat_id": chat_id, "page_id": pages[-1]["previous_page_id"]})
        assert [t["id"] for t in back["threads"]] == [t["id"] for t in pages[-2]["threads"]]


def test_list_threads_returns_full_threads(api, chats_by_id):
    chat_id = next(c for c, threads in chats_by_id.items() if len(threads) >= 2)
    body = api.ok("list_threads", {"chat_id": chat_id, "sort_order": "asc"})
    assert body["threads"] == chats_by_id[chat_id][:3]


def test_list_threads_page_id_is_bound_to_its_chat(api, chats_by_id):
    a, b = [c for c, threads in chats_by_id.items() if len(threads) >= 2][:2]
    first = api.ok("list_threads", {"chat_id": a, "limit": 1})
    status, err = api.error("list_threads", {"chat_id": b, "page_id": first["next_page_id"]})
    assert err["type"] == "validation"


def test_list_threads_min_events_count_returns_enough_latest_threads(api, chats_by_id):
    chat_id = next(c for c, threads in chats_by_id.items() if len(threads) >= 3)
    threads = chats_by_id[chat_id]
    need = len(threads[-1]["events"]) + 1  # more than the latest thread alone holds
    body = api.ok("list_threads", {"chat_id": chat_id, "min_events_count": need})
    got = [t["id"] for t in body["threads"]]
    assert got == [threads[-1]["id"], threads[-2]["id"]]
    assert sum(len(t["events"]) for t in body["threads"]) >= need
    assert "next_page_id" in body  # older threads remain
    oldest_first = api.ok("list_threads", {"chat_id": chat_id, "min_events_count": need, "sort_order": "asc"})
    assert [t["id"] for t in oldest_first["threads"]] == got[::-1]
    assert "next_page_id" not in oldest_first and "previous_page_id" in oldest_first
    one = api.ok("list_threads", {"chat_id": chat_id, "min_events_count": 1})
    assert [t["id"] for t in one["threads"]] == [threads[-1]["id"]]
    for clash in ({"limit": 5}, {"filters": {"from": "2020-01-01T00:00:00.000000Z"}}, {"min_events_count": 101}):
        _, err = api.error("list_threads", {"chat_id": chat_id, "min_events_count": need, **clash})
        assert err["type"] == "validation"


# --- list_customers --------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_customers_pages_through_every_customer_once(api, archives, order):
    pages = traverse(api, "list_customers", {"limit": PAGE, "sort_order": order})
    _check_page_links(pages, "customers", PAGE)
    customers = flat(pages, "customers")
    ids = [c["id"] for c in customers]
    assert len(ids) == len(set(ids)) == pages[0]["total_customers"]
    stamps = [c["created_at"] for c in customers]
    assert stamps == sorted(stamps, reverse=order == "desc")
    in_chats = {u["id"] for e in archives for u in e["users"] if u["type"] == "customer"}
    assert in_chats <= set(ids)
    for c in customers:
        assert c["type"] == "customer" and not any(k.startswith("_") for k in c)
    back = api.ok("list_customers", {"page_id": pages[2]["previous_page_id"]})
    assert [c["id"] for c in back["customers"]] == [c["id"] for c in pages[1]["customers"]]


def test_list_customers_sort_by_threads_count_is_kept_across_pages(api):
    pages = traverse(api, "list_customers", {"limit": 40, "sort_by": "threads_count", "sort_order": "asc"})
    counts = [c["statistics"]["threads_count"] for c in flat(pages, "customers")]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    _, err = api.error("list_customers", {"page_id": pages[0]["next_page_id"], "sort_by": "created_at"})
    assert err["type"] == "validation"


# --- limits and page_id rules ------------------------------------------------------------------
LIMITS = [("list_chats", "chats_summary", 10), ("list_archives", "chats", 10),
          ("list_customers", "customers", 10), ("list_threads", "threads", 3)]


@pytest.mark.parametrize(("method", "key", "default"), LIMITS)
def test_default_and_maximum_limits(api, chats_by_id, method, key, default):
    base = {}
    if method == "list_threads":
        chat_id = max(chats_by_id, key=lambda c: len(chats_by_id[c]))
        assert len(chats_by_id[chat_id]) > default
        base = {"chat_id": chat_id}
    assert len(api.ok(method, base)[key]) == default
    biggest = api.ok(method, {**base, "limit": 100})
    if method == "list_threads":
        assert len(biggest[key]) == len(chats_by_id[base["chat_id"]])
    else:
        assert len(biggest[key]) == 100 and "next_page_id" in biggest
    for bad in (101, 0, -1, "10", 2.5):
        status, err = api.error(method, {**base, "limit": bad})
        assert status == 400 and err["type"] == "validation", bad


@pytest.mark.parametrize(("method", "key", "default"), LIMITS)
@pytest.mark.parametrize("extra", [{"limit": 5}, {"sort_order": "asc"}, {"filters": {}}],
                         ids=["limit", "sort_order", "filters"])
def test_page_id_with_limit_filters_or_sort_order_is_a_validation_error(api, chats_by_id, method, key, default,
                                                                         extra):
    base = {"chat_id": max(chats_by_id, key=lambda c: len(chats_by_id[c]))} if method == "list_threads" else {}
    first = api.ok(method, {**base, "limit": 1})
    assert first["next_page_id"]
    ok = api.ok(method, {**base, "page_id": first["next_page_id"]})
    assert len(ok[key]) == 1  # the page remembers limit 1
    status, err = api.error(method, {**base, "page_id": first["next_page_id"], **extra})
    assert status == 400 and err["type"] == "validation"


@pytest.mark.parametrize("page_id", ["not-a-page", "", 42])
def test_garbage_page_id_is_a_validation_error(api, page_id):
    status, err = api.error("list_archives", {"page_id": page_id})
    assert status == 400 and err["type"] == "validation"


def test_page_id_of_another_method_is_rejected(api):
    chats_page = api.ok("list_chats", {"limit": 1})["next_page_id"]
    _, err = api.error("list_archives", {"page_id": chats_page})
    assert err["type"] == "validation"


def test_bad_sort_order_is_a_validation_error(sandbox):
    resp = lc_call(sandbox, "list_archives", {"sort_order": "newest"})
    assert resp.status_code == 400 and error_of(resp)["type"] == "validation"


# --- pagination while the license changes ----------------------------------------------------------
def test_traversal_is_stable_while_new_chats_arrive(fresh_sandbox):
    with Api(fresh_sandbox) as api:
        before = flat(traverse(api, "list_archives", {"limit": 100, "sort_order": "desc"}), "chats")
        customer = before[0]["users"][0]["id"]
        first = api.ok("list_archives", {"limit": 10, "sort_order": "desc"})
        started = api.ok("start_chat", {"chat": {"users": [{"id": customer, "type": "customer"}]}})
        pages = [first]
        while "next_page_id" in pages[-1]:
            pages.append(api.ok("list_archives", {"page_id": pages[-1]["next_page_id"]}))
        seen = [archive_key(e) for e in flat(pages, "chats")]
        assert seen == [archive_key(e) for e in before]  # no duplicates, nothing skipped
        newest = api.ok("list_archives", {"limit": 1})["chats"][0]
        assert archive_key(newest) == (started["chat_id"], started["thread_id"])
        # Going back from page two still gives the old first page, which now has a previous page: the new thread.
        back = api.ok("list_archives", {"page_id": pages[1]["previous_page_id"]})
        assert [archive_key(e) for e in back["chats"]] == [archive_key(e) for e in first["chats"]]
        newer = api.ok("list_archives", {"page_id": back["previous_page_id"]})
        assert [archive_key(e) for e in newer["chats"]] == [(started["chat_id"], started["thread_id"])]
        assert "previous_page_id" not in newer


# --- customers per version -------------------------------------------------------------------
def test_customers_carry_last_visit_in_v35_and_visit_and_phone_number_in_v36(api):
    """v3.6 renamed last_visit to visit and added phone_number (Agent Chat API changelog, v3.6)."""
    listed = api.ok("list_customers", {"limit": 100})["customers"]
    with_phone = [c for c in listed if api.ok("get_customer", {"id": c["id"]}, version="3.6").get("phone_number")]
    assert with_phone and len(with_phone) < len(listed)
    old = api.ok("get_customer", {"id": with_phone[0]["id"]})
    new = api.ok("get_customer", {"id": with_phone[0]["id"]}, version="3.6")
    assert "last_visit" in old and "visit" not in old and "phone_number" not in old
    assert "visit" in new and "last_visit" not in new and new["visit"] == old["last_visit"]
    assert new["phone_number"].startswith("+")
    chat_id = old["chat_ids"][0]
    for version, visit, other in (("3.5", "last_visit", "visit"), ("3.6", "visit", "last_visit")):
        (user,) = [u for u in api.ok("get_chat", {"chat_id": chat_id}, version=version)["users"]
                   if u["type"] == "customer"]
        assert visit in user and other not in user


def test_chat_ids_come_only_with_get_customer(api):
    """chat_ids is a field of Get Customer's answer; the Customer structure in lists and chat users has none."""
    listed = api.ok("list_customers", {"limit": 100})["customers"]
    assert all("chat_ids" not in c for c in listed)
    one = api.ok("get_customer", {"id": listed[0]["id"]})
    assert one["chat_ids"]
    for version in ("3.5", "3.6"):
        users = api.ok("get_chat", {"chat_id": one["chat_ids"][0]}, version=version)["users"]
        summary = api.ok("list_chats", {"limit": 5}, version=version)["chats_summary"]
        assert all("chat_ids" not in u for u in users + [u for s in summary for u in s["users"]])


# --- configuration fields --------------------------------------------------------------------
def test_job_title_and_routing_status_come_only_when_asked_for_in_fields(api):
    for method in ("list_agents", "get_agent"):
        body = {} if method == "list_agents" else {"id": "owner@helpdesk.example"}
        plain = api.ok(method, body, api="configuration")
        asked = api.ok(method, {**body, "fields": ["job_title", "groups"]}, api="configuration")
        for a in plain if method == "list_agents" else [plain]:
            assert "job_title" not in a and "groups" not in a and {"id", "name", "role"} <= set(a)
        for a in asked if method == "list_agents" else [asked]:
            assert a["job_title"] and a["groups"]
    groups = api.ok("list_groups", {}, api="configuration")
    assert groups and all("routing_status" not in g for g in groups)
    with_status = api.ok("list_groups", {"fields": ["routing_status"]}, api="configuration")
    assert all(g["routing_status"] in ("accepting_chats", "not_accepting_chats", "offline") for g in with_status)
    one = api.ok("get_group", {"id": 1, "fields": ["routing_status"]}, api="configuration")
    assert one["routing_status"] == with_status[1]["routing_status"]
    assert "routing_status" not in api.ok("get_group", {"id": 1}, api="configuration")
    _, err = api.error("list_agents", {"fields": ["job_titel"]}, api="configuration")
    assert err["type"] == "validation" and "job_titel" in err["message"]

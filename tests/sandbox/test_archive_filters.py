"""list_archives filters, each checked against what an unfiltered traversal of the 300-chat archive says."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from .chat_api_helpers import TIMESTAMP, Api, archive_key, flat, traverse


@pytest.fixture(scope="module")
def api(sandbox):
    with Api(sandbox) as client:
        yield client


@pytest.fixture(scope="module")
def archives(api):
    """Every archive entry (one per thread), oldest first, read without filters."""
    entries = flat(traverse(api, "list_archives", {"limit": 100, "sort_order": "asc"}), "chats")
    assert len(entries) > 500
    return entries


@pytest.fixture(scope="module")
def agent_ids(api):
    return [a["id"] for a in api.ok("list_agents", api="configuration")]


def run(api, filters: dict, limit: int = 100, order: str = "asc") -> list[tuple[str, str]]:
    """The (chat id, thread id) of every entry list_archives returns for `filters`, across all pages."""
    pages = traverse(api, "list_archives", {"limit": limit, "sort_order": order, "filters": filters})
    keys = [archive_key(e) for e in flat(pages, "chats")]
    assert pages[0]["found_chats"] == len(keys)
    return keys


def expect(archives, predicate) -> list[tuple[str, str]]:
    return [archive_key(e) for e in archives if predicate(e)]


def agents_of(e, agent_ids) -> set[str]:
    return {u for u in e["thread"]["user_ids"] if u in agent_ids}


def event_types(e) -> set[str]:
    return {ev["type"] for ev in e["thread"]["events"]}


def country(e) -> str:
    customer = next(u for u in e["users"] if u["type"] == "customer")
    return customer["last_visit"]["geolocation"]["country_code"]


def _check(got, want, *, nonempty=True, partial=True, total=None):
    assert got == want
    if nonempty:
        assert want, "filter should match something in the seeded archive"
    if partial and total is not None:
        assert len(want) < total, "filter should leave something out"


# --- from / to -----------------------------------------------------------------------------------
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_from_and_to_are_inclusive_bounds_on_thread_creation(api, archives, fraction):
    cut = archives[int(len(archives) * fraction)]["thread"]["created_at"]
    n = len(archives)
    _check(run(api, {"from": cut}), expect(archives, lambda e: e["thread"]["created_at"] >= cut), total=n)
    _check(run(api, {"to": cut}), expect(archives, lambda e: e["thread"]["created_at"] <= cut), total=n)
    # The thread created exactly at the cut is in both.
    at_cut = expect(archives, lambda e: e["thread"]["created_at"] == cut)
    assert at_cut and set(at_cut) <= set(run(api, {"from": cut, "to": cut}))


def test_from_to_window_and_other_rfc3339_spellings(api, archives):
    lo = archives[len(archives) // 4]["thread"]["created_at"]
    hi = archives[len(archives) // 2]["thread"]["created_at"]
    want = expect(archives, lambda e: lo <= e["thread"]["created_at"] <= hi)
    _check(run(api, {"from": lo, "to": hi}), want, total=len(archives))
    # The same instants written with a +02:00 offset.
    def shifted(stamp: str) -> str:
        dt = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return dt.astimezone(timezone(timedelta(hours=2))).isoformat(timespec="microseconds")
    assert shifted(lo).endswith("+02:00")
    assert run(api, {"from": shifted(lo), "to": shifted(hi)}) == want
    # One microsecond past the window's edges drops the edge threads.
    def plus(stamp: str, us: int) -> str:
        dt = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ") + timedelta(microseconds=us)
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    inner = run(api, {"from": plus(lo, 1), "to": plus(hi, -1)})
    assert inner == expect(archives, lambda e: lo < e["thread"]["created_at"] < hi)


def test_from_after_everything_finds_nothing(api, archives):
    last = archives[-1]["thread"]["created_at"]
    body = api.ok("list_archives", {"filters": {"from": "2099-01-01T00:00:00.000000Z"}})
    assert body["chats"] == [] and body["found_chats"] == 0 and "next_page_id" not in body
    assert run(api, {"to": "2000-01-01T00:00:00.000000Z"}) == []
    assert run(api, {"from": last}) == [archive_key(archives[-1])]


# --- query ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["REFUND", "charged twice", "Chrome on macOS"])
def test_query_matches_event_text_case_insensitively(api, archives, query):
    needle = query.lower()
    want = expect(archives, lambda e: any(needle in ev.get("text", "").lower() for ev in e["thread"]["events"]))
    _check(run(api, {"query": query}), want, total=len(archives))


def test_query_without_match(api):
    body = api.ok("list_archives", {"filters": {"query": "xylophone quartz"}})
    assert body["chats"] == [] and body["found_chats"] == 0


# --- agents ----------------------------------------------------------------------------------------
def test_agents_values_and_exclude_values(api, archives, agent_ids):
    n = len(archives)
    a, b = agent_ids[1], agent_ids[2]
    _check(run(api, {"agents": {"values": [a]}}), expect(archives, lambda e: a in agents_of(e, agent_ids)), total=n)
    both = run(api, {"agents": {"values": [a, b]}})
    _check(both, expect(archives, lambda e: {a, b} & agents_of(e, agent_ids)), total=n)
    assert len(both) > len(run(api, {"agents": {"values": [a]}}))
    _check(run(api, {"agents": {"exclude_values": [a, b]}}),
           expect(archives, lambda e: not {a, b} & agents_of(e, agent_ids)), total=n)
    _check(run(api, {"agents": {"values": [a, b], "require_every_value": True}}),
           expect(archives, lambda e: {a, b} <= agents_of(e, agent_ids)), nonempty=False)
    _check(run(api, {"agents": {"values": [a], "require_every_value": True}}),
           expect(archives, lambda e: a in agents_of(e, agent_ids)))


@pytest.mark.parametrize("exists", [True, False])
def test_agents_exists(api, archives, agent_ids, exists):
    want = expect(archives, lambda e: bool(agents_of(e, agent_ids)) == exists)
    assert run(api, {"agents": {"exists": exists}}) == want
    assert len(want) == (len(archives) if exists else 0)  # every seeded thread was assigned


# --- tags ----------------------------------------------------------------------------------------
def test_tags_values_exclude_values_and_require_every_value(api, archives):
    n = len(archives)
    tags = lambda e: set(e["thread"]["tags"])  # noqa: E731
    pairs = {}
    for e in archives:
        t = sorted(tags(e))
        if len(t) == 2:
            pairs[tuple(t)] = pairs.get(tuple(t), 0) + 1
    (x, y), _ = max(pairs.items(), key=lambda kv: kv[1])
    _check(run(api, {"tags": {"values": [x]}}), expect(archives, lambda e: x in tags(e)), total=n)
    _check(run(api, {"tags": {"values": [x, y]}}), expect(archives, lambda e: {x, y} & tags(e)), total=n)
    every = run(api, {"tags": {"values": [x, y], "require_every_value": True}})
    _check(every, expect(archives, lambda e: {x, y} <= tags(e)), total=n)
    assert len(every) < len(run(api, {"tags": {"values": [x]}}))
    _check(run(api, {"tags": {"exclude_values": [x]}}), expect(archives, lambda e: x not in tags(e)), total=n)
    _check(run(api, {"tags": {"values": ["no-such-tag"]}}), [], nonempty=False)


@pytest.mark.parametrize("exists", [True, False])
def test_tags_exists(api, archives, exists):
    _check(run(api, {"tags": {"exists": exists}}), expect(archives, lambda e: bool(e["thread"]["tags"]) == exists),
           total=len(archives))


# --- group_ids -----------------------------------------------------------------------------------
@pytest.mark.parametrize("groups", [[1], [3], [1, 3], [0]])
def test_group_ids(api, archives, groups):
    want = expect(archives, lambda e: set(groups) & set(e["thread"]["access"]["group_ids"]))
    assert run(api, {"group_ids": groups}) == want
    assert want
    if groups != [0]:
        assert len(want) < len(archives)
    for e in archives:  # the chat's access and its threads' access agree in the seed
        assert e["access"]["group_ids"] == e["thread"]["access"]["group_ids"]


# --- event_types ---------------------------------------------------------------------------------
def test_event_types(api, archives):
    n = len(archives)
    _check(run(api, {"event_types": {"values": ["file"]}}), expect(archives, lambda e: "file" in event_types(e)),
           total=n)
    _check(run(api, {"event_types": {"values": ["file", "rich_message"]}}),
           expect(archives, lambda e: {"file", "rich_message"} & event_types(e)), total=n)
    _check(run(api, {"event_types": {"values": ["file", "rich_message"], "require_every_value": True}}),
           expect(archives, lambda e: {"file", "rich_message"} <= event_types(e)), total=n)
    _check(run(api, {"event_types": {"exclude_values": ["filled_form"]}}),
           expect(archives, lambda e: "filled_form" not in event_types(e)), total=n)
    assert run(api, {"event_types": {"values": ["message"]}}) == [archive_key(e) for e in archives]


def test_event_types_filter_survives_small_pages_in_both_orders(api, archives):
    want = expect(archives, lambda e: "rich_message" in event_types(e))
    assert run(api, {"event_types": {"values": ["rich_message"]}}, limit=4) == want
    assert run(api, {"event_types": {"values": ["rich_message"]}}, limit=4, order="desc") == want[::-1]


# --- thread_ids ----------------------------------------------------------------------------------
def test_thread_ids(api, archives):
    picked = archives[:: len(archives) // 20][:20]
    assert len(picked) == 20
    ids = [e["thread"]["id"] for e in picked]
    # no limit (thread_ids takes no pagination): all 20 in one page, past the default limit of 10
    whole = api.ok("list_archives", {"sort_order": "asc", "filters": {"thread_ids": ids}})
    assert [archive_key(e) for e in whole["chats"]] == [archive_key(e) for e in picked]
    assert "next_page_id" not in whole and whole["found_chats"] == 20
    some = api.ok("list_archives", {"sort_order": "asc", "filters": {"thread_ids": ids[:3] + ["ZZZZZZZZZZ"]}})
    assert [archive_key(e) for e in some["chats"]] == [archive_key(e) for e in picked[:3]]
    entry = api.ok("list_archives", {"filters": {"thread_ids": [ids[5]]}})["chats"][0]
    assert entry == picked[5]


def test_thread_ids_limits(api, archives):
    ids = [e["thread"]["id"] for e in archives[:21]]
    _, err = api.error("list_archives", {"filters": {"thread_ids": ids}})
    assert err["type"] == "validation"  # at most 20
    _, err = api.error("list_archives", {"filters": {"thread_ids": ids[:2], "tags": {"exists": True}}})
    assert err["type"] == "validation"  # cannot be combined with other filters
    # nor with pagination: "Cannot be used with other filters or pagination" (List Archives)
    status, err = api.error("list_archives", {"limit": 1, "filters": {"thread_ids": ids[:1]}})
    assert (status, err["type"]) == (400, "validation") and "thread_ids" in err["message"]


# --- customer_countries and combinations -----------------------------------------------------------
def test_customer_countries(api, archives):
    _check(run(api, {"customer_countries": {"values": ["PL", "JP"]}}),
           expect(archives, lambda e: country(e) in ("PL", "JP")), total=len(archives))
    _check(run(api, {"customer_countries": {"exclude_values": ["PL"]}}),
           expect(archives, lambda e: country(e) != "PL"), total=len(archives))


def test_filters_combine_with_and(api, archives, agent_ids):
    cut = archives[len(archives) // 3]["thread"]["created_at"]
    agent = agent_ids[3]
    filters = {"from": cut, "group_ids": [0], "event_types": {"values": ["message"]},
               "agents": {"exclude_values": [agent]}, "tags": {"exists": True}}
    want = expect(archives, lambda e: e["thread"]["created_at"] >= cut and agent not in agents_of(e, agent_ids)
                  and bool(e["thread"]["tags"]))
    _check(run(api, filters, limit=13), want, total=len(archives))


# --- malformed filters -----------------------------------------------------------------------------
@pytest.mark.parametrize("filters", [
    {"tags": {"values": ["sales"], "exclude_values": ["bug"]}},
    {"tags": {"values": []}},
    {"tags": ["sales"]},
    {"tags": {"exists": "yes"}},
    {"agents": {"valuez": ["x"]}},
    {"from": "yesterday"},
    {"to": 1700000000},
    {"query": ""},
    {"group_ids": ["1"]},
    {"thread_ids": "ABC"},
    {"no_such_filter": True},
    ["tags"],
], ids=lambda f: str(f)[:40])
def test_malformed_filters_are_validation_errors(api, filters):
    status, err = api.error("list_archives", {"filters": filters})
    assert status == 400 and err["type"] == "validation"


# --- timestamps ------------------------------------------------------------------------------------
def _stamps(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if (k.endswith("_at") or k == "events_seen_up_to") and not isinstance(v, (dict, list)):
                yield f"{path}.{k}", v
            else:
                yield from _stamps(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _stamps(v, f"{path}[{i}]")


def test_every_timestamp_has_six_fractional_digits_and_z(api, archives):
    chat_id = archives[0]["id"]
    customer_id = next(u["id"] for u in archives[0]["users"] if u["type"] == "customer")
    responses = [archives, api.ok("list_chats", {"limit": 100}), api.ok("list_customers", {"limit": 100}),
                 api.ok("get_chat", {"chat_id": chat_id}), api.ok("get_customer", {"id": customer_id}),
                 api.ok("list_threads", {"chat_id": chat_id}), api.ok("list_tags", api="configuration")]
    found = [s for r in responses for s in _stamps(r)]
    assert len(found) > 5000
    bad = [(p, v) for p, v in found if not isinstance(v, str) or not TIMESTAMP.match(v)]
    assert not bad, bad[:5]
    kinds = {p.rsplit(".", 1)[-1] for p, _ in found}
    assert {"created_at", "events_seen_up_to", "started_at", "ended_at", "opened_at",
            "agent_last_event_created_at", "thread_created_at"} <= kinds


# --- v3.6: customer_id, customer_email, chat_ids --------------------------------------------------
def test_v36_customer_filters_find_that_customers_threads(api, archives):
    customer = next(u for u in archives[len(archives) // 2]["users"] if u["type"] == "customer")
    want = [archive_key(e) for e in archives
            if any(u["type"] == "customer" and u["id"] == customer["id"] for u in e["users"])]
    with Api(api.sandbox, version="3.6") as api36:
        for filters in ({"customer_id": customer["id"]}, {"customer_email": customer["email"].upper()}):
            pages = traverse(api36, "list_archives", {"limit": 2, "sort_order": "asc", "filters": filters})
            assert [archive_key(e) for e in flat(pages, "chats")] == want and pages[0]["found_chats"] == len(want)
        chat_id = archives[7]["id"]
        found = flat(traverse(api36, "list_archives", {"limit": 100, "sort_order": "asc",
                                                       "filters": {"chat_ids": [chat_id]}}), "chats")
    assert [archive_key(e) for e in found] == [archive_key(e) for e in archives if e["id"] == chat_id]
    # v3.5 has none of them
    _, err = api.error("list_archives", {"filters": {"customer_id": customer["id"]}}, version="3.5")
    assert err["type"] == "validation" and "customer_id" in err["message"]

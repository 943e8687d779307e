"""The repeat guard: an upstream whose cursor points back at a page already read (the sandbox's
`repeat_page_id` fault) stops the listing and the export with a 502 naming the helpdesk, after a few
upstream calls, instead of reading the same records forever."""
from __future__ import annotations

import time

import pytest

from helpdesk_sandboxes.process import start_sandbox
from tests.conftest import connect_pat, error, lc_call, new_tenant, running_service, service_overrides


@pytest.fixture(scope="module")
def looping(redis_server_url):
    """(client, account, sandbox): a 150-chat sandbox (more than one upstream page of 100) and its service."""
    sandbox = start_sandbox("--chats", "150", "--seed", "3")
    try:
        with running_service(service_overrides(sandbox, redis_server_url)) as (_, base):
            client = new_tenant(base, "looping")
            yield client, connect_pat(client, sandbox), sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def repeating(looping):
    """The sandbox answers every page_id it is sent as the next one, from now until the test ends."""
    client, account, sandbox = looping
    sandbox.admin("POST", "config", json={"repeat_page_id": True})
    sandbox.admin("POST", "stats/reset")
    yield client, account, sandbox
    sandbox.admin("POST", "config", json={"repeat_page_id": False})


def _list_calls(sandbox) -> int:
    return sandbox.admin("GET", "stats")["calls"].get("list_archives", 0)


def test_a_cursor_that_repeats_is_a_502_naming_the_helpdesk_not_an_endless_page(repeating):
    client, account, sandbox = repeating
    resp = client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=20)
    err = error(resp, 502)
    assert err["type"] == "upstream_repeated_page" and err["message"].startswith("LiveChat ")
    assert "Start again without a cursor" in err["message"]
    assert _list_calls(sandbox) == 2  # the first page, then the next one, which names itself as next: stop


def test_a_cursor_that_starts_repeating_later_stops_that_page_and_spares_the_traversal(looping):
    client, account, sandbox = looping
    first = client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=5).json()
    assert first["next_cursor"] and len(first["result"]) == 5
    sandbox.admin("POST", "config", json={"repeat_page_id": True})
    try:
        sandbox.admin("POST", "stats/reset")
        error(client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=100,
                         next_cursor=first["next_cursor"]), 502)
        assert _list_calls(sandbox) == 1  # the page it resumed from named itself as the next one
    finally:
        sandbox.admin("POST", "config", json={"repeat_page_id": False})
    again = client.get("/unified/ticketing/tickets", integrated_account_id=account, next_cursor=first["next_cursor"])
    assert again.status_code == 200, again.text[:300]  # the traversal is intact once the upstream behaves
    assert {t["id"] for t in again.json()["result"]}.isdisjoint(t["id"] for t in first["result"])


def test_the_export_stops_at_a_repeating_cursor_without_retrying_it(repeating):
    client, account, sandbox = repeating
    resp = client.get("/unified/ticketing/export", integrated_account_id=account, with_comments="false")
    err = error(resp, 502)  # its first page (100 tickets, two upstream pages) already met the loop
    assert err["type"] == "upstream_repeated_page" and "LiveChat" in err["message"]
    assert _list_calls(sandbox) == 2  # no retries of a loop that no retry mends


def test_a_rate_limit_met_mid_page_answers_the_records_read_with_a_cursor(redis_server_url):
    """The helpdesk refuses the page's second upstream call (too_many_requests): the page holds what the
    first call gave, and its cursor reads on from the refused position once the limit clears."""
    sandbox = start_sandbox("--chats", "150", "--seed", "3")
    try:
        with running_service(service_overrides(sandbox, redis_server_url, RATE_LIMIT_WAIT=0)) as (_, base):
            client = new_tenant(base, "paced")
            account = connect_pat(client, sandbox)
            expected = [t["id"] for t in client.get("/unified/ticketing/tickets", integrated_account_id=account,
                                                    limit=100, include_remote_data="false").json()["result"]]
            chats = [e["id"] for e in lc_call(sandbox, "list_archives", {"limit": 100}).json()["chats"]]
            limit = next(n for n in range(2, 100) if len(set(chats[:n])) < n)  # a chat twice in n threads
            sandbox.admin("POST", "config", json={"rate_limit": 0.5, "rate_burst": 1})
            sandbox.admin("POST", "stats/reset")
            page = client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=limit,
                              include_remote_data="false")
            assert page.status_code == 200, page.text[:300]
            body = page.json()
            assert body["result_count"] == limit - 1 and body["next_cursor"]  # the first upstream page's chats
            assert sandbox.admin("GET", "stats")["rate_limited"] == 1
            sandbox.admin("POST", "config", json={"rate_limit": 0, "rate_burst": 0})
            for _ in range(20):  # the service holds calls until the helpdesk's Retry-After (2 s) has passed
                rest = client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=100,
                                  next_cursor=body["next_cursor"], include_remote_data="false")
                if rest.status_code != 429:
                    break
                time.sleep(0.5)
            assert rest.status_code == 200, rest.text[:300]
            got = [t["id"] for t in body["result"]] + [t["id"] for t in rest.json()["result"]]
            n = min(len(got), len(expected))
            assert got[:n] == expected[:n] and len(set(got)) == len(got) > limit  # nothing lost, nothing twice
    finally:
        sandbox.stop()

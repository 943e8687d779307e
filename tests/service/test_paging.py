"""The repeat guard: an upstream whose cursor points back at a page already read (the sandbox's
`repeat_page_id` fault) stops the listing and the export with a 502 naming the helpdesk, after a few
upstream calls, instead of reading the same records forever."""
from __future__ import annotations

import pytest

from tests.conftest import connect_pat, error, new_tenant, running_service, service_overrides
from unified_ticketing.sandbox.process import start_sandbox


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

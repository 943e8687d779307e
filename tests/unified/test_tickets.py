"""Tickets through the unified API, the same tests for every helpdesk: every ticket once, newest first,
cursors both ways, filters that return exactly what they say (full pages and their upstream calls: test_paging.py)."""
import json

import pytest


@pytest.fixture(scope="session")
def all_tickets(helpdesk):
    return helpdesk.all("tickets", limit=100, include_remote_data="false")


def test_paging_returns_every_ticket_exactly_once_newest_first(helpdesk):
    pages = helpdesk.pages("tickets", limit=25)
    ids = [t["id"] for page in pages for t in page]
    assert len(ids) == len(set(ids))
    assert ids == helpdesk.oracle.ticket_ids()
    assert len(pages) > 1 and all(len(page) == 25 for page in pages[:-1]) and len(pages[-1]) <= 25


def test_prev_cursor_returns_the_previous_page(helpdesk):
    p1 = helpdesk.ok("tickets", limit=10)
    assert p1["prev_cursor"] is None
    p2 = helpdesk.client.get("/unified/ticketing/tickets", integrated_account_id=helpdesk.account_id,
                             next_cursor=p1["next_cursor"]).json()
    assert {t["id"] for t in p2["result"]}.isdisjoint(t["id"] for t in p1["result"])
    back = helpdesk.client.get("/unified/ticketing/tickets", integrated_account_id=helpdesk.account_id,
                               prev_cursor=p2["prev_cursor"])
    assert back.status_code == 200, back.text
    assert back.json()["result"] == p1["result"]


def test_a_ticket_reads_the_same_alone_as_in_the_list(helpdesk):
    for ticket in helpdesk.ok("tickets", limit=5)["result"]:
        single = helpdesk.ok(f"tickets/{ticket['id']}")
        assert single["remote_data"]
        single.pop("remote_data")
        assert single == {k: v for k, v in ticket.items() if k != "remote_data"}


def _filtered(helpdesk, **params) -> list[dict]:
    tickets = helpdesk.all("tickets", limit=50, include_remote_data="false", **params)
    assert tickets, f"the seeded sandbox has tickets matching {params}"
    assert len({t["id"] for t in tickets}) == len(tickets), "a ticket came twice"
    return tickets


@pytest.mark.parametrize("status", ["open", "closed"])
def test_status_filter_returns_exactly_the_tickets_in_that_state(helpdesk, status):
    tickets = _filtered(helpdesk, status=status)
    assert all(t["status"] == status for t in tickets)
    assert {t["id"] for t in tickets} == helpdesk.oracle.ticket_ids_where(status=status)


def test_tag_filter_returns_exactly_the_tagged_tickets(helpdesk):
    tag = helpdesk.oracle.used_tag()
    tickets = _filtered(helpdesk, tag=tag)
    assert all(tag in [x["name"] for x in t["tags"]] for t in tickets)
    assert {t["id"] for t in tickets} == helpdesk.oracle.ticket_ids_where(tag=tag)


def test_assignee_filter_returns_exactly_the_agents_tickets(helpdesk):
    agent = helpdesk.oracle.serving_agent()
    tickets = _filtered(helpdesk, assignee_id=agent)
    assert all(agent in [a["id"] for a in t["assignees"]] for t in tickets)
    assert {t["id"] for t in tickets} == helpdesk.oracle.ticket_ids_where(assignee=agent)


def test_contact_filter_returns_exactly_the_contacts_tickets(helpdesk):
    contact = helpdesk.oracle.busy_contact()
    tickets = _filtered(helpdesk, contact_id=contact)
    assert all(t["contact"]["id"] == contact for t in tickets)
    assert {t["id"] for t in tickets} == helpdesk.oracle.ticket_ids_where(contact=contact)


@pytest.mark.parametrize("field,op", [("created_at", "gte"), ("created_at", "lte"), ("updated_at", "gte")])
def test_date_filters_return_only_tickets_in_range(helpdesk, all_tickets, field, op):
    values = sorted(t[field] for t in all_tickets)
    cutoff = values[len(values) * 2 // 3] if op == "gte" else values[len(values) // 3]
    tickets = _filtered(helpdesk, **{f"{field}[{op}]": cutoff})
    inside = (lambda v: v >= cutoff) if op == "gte" else (lambda v: v <= cutoff)
    assert all(inside(t[field]) for t in tickets)
    if field == "updated_at":  # checked on the mapped ticket: exactly those of the full list
        assert {t["id"] for t in tickets} == {t["id"] for t in all_tickets if inside(t[field])}


def test_include_remote_data_false_and_raw_format(helpdesk):
    lean = helpdesk.ok("tickets", limit=3, include_remote_data="false")["result"]
    assert lean and all("remote_data" not in t for t in lean)
    raw = helpdesk.ok("tickets", limit=3, format="raw")["result"]
    assert [r[helpdesk.oracle.raw_id_key] for r in raw] == [t["id"] for t in lean]
    full = helpdesk.ok("tickets", limit=3)["result"]
    assert raw == [t["remote_data"] for t in full]  # the helpdesk's own records, unmapped


def test_export_streams_every_ticket_with_its_comments_like_the_read_api(helpdesk):
    resp = helpdesk.client.request("GET", "/unified/ticketing/export", stream=True,
                                   params={"integrated_account_id": helpdesk.account_id})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/x-ndjson")
    exported = [json.loads(line) for line in resp.iter_lines() if line]
    assert [t["id"] for t in exported] == helpdesk.oracle.ticket_ids()
    busy = helpdesk.oracle.busy_ticket()
    record = next(t for t in exported if t["id"] == busy)
    listed = helpdesk.all("comments", ticket_id=busy, limit=100, include_remote_data="false")
    assert record["comments"] == listed

"""Tickets over HTTP against the sandbox: every chat once, filters, one upstream call per page."""
import pytest

from tests.conftest import lc_call, sandbox_all, traverse


@pytest.fixture(scope="module")
def archives(sandbox):
    return sandbox_all(sandbox, "list_archives", "chats", {"limit": 100})


def latest_first_chat_order(archives) -> list[str]:
    seen, order = set(), []
    for entry in sorted(archives, key=lambda e: (e["thread"]["created_at"], e["thread"]["id"]), reverse=True):
        if entry["id"] not in seen:
            seen.add(entry["id"])
            order.append(entry["id"])
    return order


def test_paging_tickets_returns_each_chat_exactly_once_newest_first(tenant, account_id, archives):
    pages = traverse(tenant, "tickets", integrated_account_id=account_id, limit=25)
    ids = [t["id"] for page in pages for t in page]
    assert len(ids) == len(set(ids)) == 300
    assert ids == latest_first_chat_order(archives)
    assert all(len(page) <= 25 for page in pages)


def test_ticket_maps_latest_thread(tenant, account_id, sandbox):
    page = tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id, limit=5).json()
    ticket = page["result"][0]
    chat = lc_call(sandbox, "get_chat", {"chat_id": ticket["id"]}).json()
    assert ticket["status"] == ("open" if chat["thread"]["active"] else "closed")
    assert ticket["created_at"] == chat["thread"]["created_at"]
    assert [t["name"] for t in ticket["tags"]] == chat["thread"]["tags"]
    customer = next(u for u in chat["users"] if u["type"] == "customer")
    assert ticket["contact"]["id"] == customer["id"]
    agents = {u["id"] for u in chat["users"] if u["type"] == "agent"}
    assert [a["id"] for a in ticket["assignees"]] == [u for u in chat["thread"]["user_ids"] if u in agents]
    assert ticket["remote_data"]["id"] == ticket["id"]
    single = tenant.get(f"/unified/ticketing/tickets/{ticket['id']}", integrated_account_id=account_id).json()
    assert single.pop("remote_data")["is_followed"] is False  # get_chat's own shape
    assert single == {k: v for k, v in ticket.items() if k != "remote_data"}


def test_a_page_of_tickets_costs_one_upstream_call(tenant, account_id, sandbox):
    first = tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id, limit=10).json()
    sandbox.admin("POST", "stats/reset")
    resp = tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id,
                      next_cursor=first["next_cursor"])
    assert resp.status_code == 200
    assert sandbox.admin("GET", "stats")["total_calls"] == 1


def test_prev_cursor_returns_the_previous_page(tenant, account_id):
    p1 = tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id, limit=10).json()
    assert p1["prev_cursor"] is None
    p2 = tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id,
                    next_cursor=p1["next_cursor"]).json()
    back = tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id, prev_cursor=p2["prev_cursor"])
    assert back.json()["result"] == p1["result"]


@pytest.mark.parametrize("params,check", [
    ({"status": "open"}, lambda t: t["status"] == "open"),
    ({"status": "closed"}, lambda t: t["status"] == "closed"),
    ({"tag": "billing"}, lambda t: "billing" in [x["name"] for x in t["tags"]]),
    ({"assignee_id": "li.wei@helpdesk.example"},
     lambda t: "li.wei@helpdesk.example" in [a["id"] for a in t["assignees"]]),
    ({"created_at[gte]": "2026-09-01T00:00:00Z"}, lambda t: t["created_at"] >= "2026-09-01T00:00:00"),
    ({"created_at[lte]": "2026-03-01T00:00:00Z"}, lambda t: t["created_at"] <= "2026-03-01T00:00:00"),
    ({"updated_at[gte]": "2026-10-01T00:00:00+00:00"}, lambda t: t["updated_at"] >= "2026-10-01T00:00:00"),
])
def test_ticket_filters_return_only_matching_tickets_once(tenant, account_id, params, check):
    pages = traverse(tenant, "tickets", integrated_account_id=account_id, limit=50, include_remote_data="false",
                     **params)
    tickets = [t for p in pages for t in p]
    assert tickets, "the seeded sandbox has matching tickets"
    assert all(check(t) for t in tickets)
    assert len({t["id"] for t in tickets}) == len(tickets)


def test_tag_filter_finds_chats_whose_older_thread_is_tagged(tenant, account_id, archives):
    expected = {e["id"] for e in archives if "refund" in e["thread"]["tags"]}
    pages = traverse(tenant, "tickets", integrated_account_id=account_id, limit=100, tag="refund")
    assert {t["id"] for p in pages for t in p} == expected


def test_contact_id_and_q_filters(tenant, account_id, archives):
    customer = next(u["id"] for u in archives[0]["users"] if u["type"] == "customer")
    expected = {e["id"] for e in archives if any(u["id"] == customer for u in e["users"])}
    got = traverse(tenant, "tickets", integrated_account_id=account_id, limit=100, contact_id=customer)
    assert {t["id"] for p in got for t in p} == expected
    q = traverse(tenant, "tickets", integrated_account_id=account_id, limit=100, q="refund")
    expected_q = {e["id"] for e in archives if any("refund" in (ev.get("text") or "").lower()
                                                   for ev in e["thread"]["events"])}
    assert {t["id"] for p in q for t in p} == expected_q


def test_include_remote_data_false_and_raw_format(tenant, account_id):
    lean = tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id, limit=3,
                      include_remote_data="false").json()
    assert all("remote_data" not in t for t in lean["result"])
    raw = tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id, limit=3, format="raw").json()
    assert all("thread" in t and "users" in t for t in raw["result"])

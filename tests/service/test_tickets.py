"""LiveChat-only ticket behaviour: a ticket maps the latest thread; filters match older threads; `q` searches
message text. The unified ticket contract (paging, cursors, filters) is tested for every helpdesk in tests/unified."""
import pytest

from tests.conftest import lc_call, sandbox_all, traverse


@pytest.fixture(scope="module")
def archives(sandbox):
    return sandbox_all(sandbox, "list_archives", "chats", {"limit": 100})


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

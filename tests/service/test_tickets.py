"""LiveChat-only ticket behaviour: a ticket maps the latest thread; filters match older threads; `q` searches
message text. The unified ticket contract (paging, cursors, filters) is tested for every helpdesk in tests/unified."""
import time
from collections import Counter

import pytest

from tests.conftest import connect_pat, lc_call, sandbox_all, traverse
from tests.service.test_webhooks import hook_sandbox, stack  # noqa: F401  (fixtures used by name)


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


def test_contact_id_on_a_v36_account_is_sent_upstream_as_customer_id(tenant, sandbox, archives):
    """v3.6 list_archives filters by customer_id: pages are full, not what is left after mapping."""
    account = connect_pat(tenant, sandbox, api_version="3.6")
    per = Counter(next(u["id"] for u in e["users"] if u["type"] == "customer") for e in archives)
    customer, n = per.most_common(1)[0]
    assert n >= 3
    expected = [e["id"] for e in sorted(archives, key=lambda e: (e["thread"]["created_at"], e["thread"]["id"]),
                                        reverse=True)
                if any(u["id"] == customer for u in e["users"])]
    sandbox.admin("POST", "stats/reset")
    first = tenant.get("/unified/ticketing/tickets", integrated_account_id=account, contact_id=customer,
                       limit=2).json()
    chats = list(dict.fromkeys(expected))
    assert [t["id"] for t in first["result"]] == chats[:2]  # one per chat (dedupe_by), and a full page
    second_at = expected.index(chats[1])  # its thread's place among the customer's threads, newest first
    assert sandbox.admin("GET", "stats")["calls"] == {"list_archives": second_at // 2 + 1}  # upstream pages of 2
    pages = traverse(tenant, "tickets", integrated_account_id=account, contact_id=customer, limit=2)
    assert [t["id"] for p in pages for t in p] == list(dict.fromkeys(expected))


def test_a_ticket_created_off_hours_starts_a_continuous_chat(writer, fresh_sandbox):
    """Without continuous: true LiveChat refuses a chat while its group is offline (groups_offline)."""
    client, account = writer
    for agent in lc_call(fresh_sandbox, "list_agents", {}, api="configuration").json():
        fresh_sandbox.admin("POST", "agent-app", json={"agent_id": agent["id"], "routing_status": "offline"})
    customer = lc_call(fresh_sandbox, "list_customers", {"limit": 1}).json()["customers"][0]
    resp = client.request("POST", "/unified/ticketing/tickets", params={"integrated_account_id": account},
                          json={"contact_id": customer["id"], "body": "Written at 3 a.m., nobody online"})
    assert resp.status_code == 201, resp.text
    chat = lc_call(fresh_sandbox, "get_chat", {"chat_id": resp.json()["id"]}).json()
    assert chat["properties"]["routing"]["continuous"] is True
    assert chat["thread"]["events"][0]["text"] == "Written at 3 a.m., nobody online"


def test_a_closed_chat_takes_a_reply_and_reopens_off_hours(writer, fresh_sandbox):
    """Replying to (or reopening) a closed chat resumes it; a plain resume is refused while the chat's group
    is offline (groups_offline), so the service resumes continuous chats."""
    client, account = writer
    closed = [c for c in lc_call(fresh_sandbox, "list_chats", {"limit": 100}).json()["chats_summary"]
              if not c["last_thread_summary"]["active"]][:2]
    for agent in lc_call(fresh_sandbox, "list_agents", {}, api="configuration").json():
        fresh_sandbox.admin("POST", "agent-app", json={"agent_id": agent["id"], "routing_status": "offline"})
    reply = client.request("POST", "/unified/ticketing/comments", params={"integrated_account_id": account},
                           json={"ticket_id": closed[0]["id"], "body": "Answered at 3 a.m."})
    assert reply.status_code == 201, reply.text
    reopened = client.request("PATCH", f"/unified/ticketing/tickets/{closed[1]['id']}",
                              params={"integrated_account_id": account}, json={"status": "open"})
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "open"
    chat = lc_call(fresh_sandbox, "get_chat", {"chat_id": closed[0]["id"]}).json()
    assert chat["thread"]["active"] and chat["thread"]["events"][-1]["text"] == "Answered at 3 a.m."


def test_a_resumed_chat_is_ticket_updated_not_a_second_ticket_created(request):
    """incoming_chat comes for start_chat and resume_chat alike; a resumed chat's thread has a previous one."""
    hooks = request.getfixturevalue("stack")  # test_webhooks.py: service + worker + subscriber
    hooks["worker"].start()
    sandbox, receiver = hooks["sandbox"], hooks["receiver"]
    customer = lc_call(sandbox, "list_customers", {"limit": 1}).json()["customers"][0]["id"]
    chat_id = sandbox.admin("POST", "customer-messages", json={"customer_id": customer, "text": "Hi"})["chat_id"]
    receiver.wait_for(lambda ev: any(e["event"] == "ticket:created" for e in ev))
    lc_call(sandbox, "deactivate_chat", {"id": chat_id})
    receiver.wait_for(lambda ev: any(e["event"] == "ticket:updated" and e["payload"]["status"] == "closed"
                                     for e in ev))
    resumed = lc_call(sandbox, "resume_chat", {"chat": {"id": chat_id}}).json()
    events = receiver.wait_for(lambda ev: any(e["event"] == "ticket:updated" and e["payload"]["status"] == "open"
                                              for e in ev))
    reopened = next(e for e in events if e["event"] == "ticket:updated" and e["payload"]["status"] == "open")
    assert reopened["payload"]["id"] == chat_id
    assert reopened["payload"]["remote_data"]["thread"]["id"] == resumed["thread_id"]
    time.sleep(0.5)  # a wrong second ticket:created would have come with it
    assert [e["payload"]["id"] for e in receiver.events() if e["event"] == "ticket:created"] == [chat_id]


def test_an_event_deleted_in_livechat_updates_its_ticket(request):
    """v3.6's event_deleted webhook (only ids): the ticket is read back and sent as ticket:updated."""
    hooks = request.getfixturevalue("stack")  # test_webhooks.py: service + worker + subscriber
    hooks["worker"].start()
    sandbox, receiver = hooks["sandbox"], hooks["receiver"]
    customer = lc_call(sandbox, "list_customers", {"limit": 1}).json()["customers"][0]["id"]
    said = sandbox.admin("POST", "customer-messages", json={"customer_id": customer, "text": "My card is 4111..."})
    receiver.wait_for(lambda ev: any(e["event"] == "comment:created" for e in ev))
    sandbox.admin("POST", "agent-app", json={"chat_id": said["chat_id"], "thread_id": said["thread_id"],
                                             "event_id": said["event_id"]})
    events = receiver.wait_for(lambda ev: any(e["event"] == "ticket:updated" for e in ev))
    updated = next(e for e in events if e["event"] == "ticket:updated")
    assert updated["payload"]["id"] == said["chat_id"]


def test_a_ticket_tag_in_another_case_is_the_existing_tag(writer, fresh_sandbox):
    """LiveChat tag names are unique whatever the case: "VIP" is the tag "vip", not a missing one."""
    client, account = writer
    customer = lc_call(fresh_sandbox, "list_customers", {"limit": 1}).json()["customers"][0]
    for create_missing in (False, True):
        resp = client.request("POST", "/unified/ticketing/tickets", params={"integrated_account_id": account},
                              json={"contact_id": customer["id"], "body": "Tagged in capitals",
                                    "tags": ["VIP", "Refund", "vip"], "create_missing_tags": create_missing})
        assert resp.status_code == 201, resp.text
        assert [t["name"] for t in resp.json()["tags"]] == ["vip", "refund"]
    names = [t["name"] for t in lc_call(fresh_sandbox, "list_tags", {}, api="configuration").json()]
    assert "VIP" not in names and "Refund" not in names

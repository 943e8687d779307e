"""LiveChat-only comment and contact behaviour: events mapped field by field, contacts from list_customers
(v3.5) or derived from chats (v3.6). The unified contract is tested for every helpdesk in tests/unified."""
import pytest

from tests.conftest import connect_pat, lc_call, sandbox_all, traverse


@pytest.fixture(scope="module")
def chats(sandbox):
    return sandbox_all(sandbox, "list_chats", "chats_summary", {"limit": 100})


def threads_of(sandbox, chat_id: str) -> list[dict]:
    return sandbox_all(sandbox, "list_threads", "threads", {"chat_id": chat_id, "sort_order": "asc", "limit": 100})


@pytest.fixture(scope="module")
def busy_chat(sandbox, chats):
    """The chat with the most threads, and among those the most events."""
    best = max(chats[:80], key=lambda c: (len(threads_of(sandbox, c["id"])), c["id"]))
    return best["id"]


def test_comment_fields_follow_the_event(tenant, account_id, sandbox, busy_chat):
    events = [e for t in threads_of(sandbox, busy_chat) for e in t["events"]]
    customer = next(u["id"] for u in lc_call(sandbox, "get_chat", {"chat_id": busy_chat}).json()["users"]
                    if u["type"] == "customer")
    comments = [c for p in traverse(tenant, "comments", integrated_account_id=account_id, ticket_id=busy_chat,
                                    limit=100) for c in p]
    for event, comment in zip(events, comments, strict=True):
        assert comment["remote_data"] == event
        assert comment["ticket_id"] == busy_chat
        assert comment["created_at"] == event["created_at"]
        assert comment["is_private"] == (event["visibility"] == "agents")
        if event["type"] == "system_message":
            assert comment["type"] == "system" and comment["author"] is None
        if event["type"] == "message":
            assert comment["body"] == event["text"]
            # agents and bots (32-hex ids, no "@") are users; only the chat's customer is a contact
            assert comment["author"]["type"] == ("contact" if event["author_id"] == customer else "user")
    one = comments[1]
    got = tenant.get(f"/unified/ticketing/comments/{one['id']}", integrated_account_id=account_id).json()
    assert got == one


def test_contacts_are_every_customer_once(tenant, account_id, sandbox):
    customers = sandbox_all(sandbox, "list_customers", "customers", {"limit": 100})
    pages = traverse(tenant, "contacts", integrated_account_id=account_id, limit=40)
    ids = [c["id"] for p in pages for c in p]
    assert ids == [c["id"] for c in customers]
    first = pages[0][0]
    source = customers[0]
    assert first["email_addresses"] == [{"email": source["email"], "type": "primary"}]
    assert first["custom_fields"] == {k: v for f in source["session_fields"] for k, v in f.items()}
    alone = tenant.get(f"/unified/ticketing/contacts/{first['id']}", integrated_account_id=account_id).json()
    assert {k: v for k, v in alone.items() if k not in ("ticket_ids", "remote_data")} == {
        k: v for k, v in first.items() if k not in ("ticket_ids", "remote_data")}


def test_contact_ticket_ids_come_only_with_one_contact(tenant, account_id, sandbox):
    """chat_ids is in get_customer's answer only: a listed contact has no ticket_ids, one read alone has
    its chats."""
    listed = tenant.get("/unified/ticketing/contacts", integrated_account_id=account_id, limit=20).json()["result"]
    assert all(c["ticket_ids"] == [] and "chat_ids" not in c["remote_data"] for c in listed)
    busy = next(c for c in listed if lc_call(sandbox, "get_customer", {"id": c["id"]}).json().get("chat_ids"))
    chat_ids = lc_call(sandbox, "get_customer", {"id": busy["id"]}).json()["chat_ids"]
    alone = tenant.get(f"/unified/ticketing/contacts/{busy['id']}", integrated_account_id=account_id).json()
    assert alone["ticket_ids"] == chat_ids


def test_a_page_of_contacts_costs_one_upstream_call(tenant, account_id, sandbox):
    sandbox.admin("POST", "stats/reset")
    assert tenant.get("/unified/ticketing/contacts", integrated_account_id=account_id).status_code == 200
    assert sandbox.admin("GET", "stats")["calls"] == {"list_customers": 1}


def test_contact_filters(tenant, account_id, sandbox):
    customers = sandbox_all(sandbox, "list_customers", "customers", {"limit": 100})
    target = customers[5]
    by_email = tenant.get("/unified/ticketing/contacts", integrated_account_id=account_id,
                          email=target["email"]).json()["result"]
    assert [c["id"] for c in by_email] == [c["id"] for c in customers if c.get("email") == target["email"]]
    cutoff = customers[50]["created_at"]
    newer = [c for p in traverse(tenant, "contacts", integrated_account_id=account_id, limit=100,
                                 **{"created_at[gte]": cutoff}) for c in p]
    assert [c["id"] for c in newer] == [c["id"] for c in customers if c["created_at"] >= cutoff]


def test_contacts_on_a_v36_account_are_derived_from_chats(tenant, sandbox, chats):
    account = connect_pat(tenant, sandbox, api_version="3.6")
    resp = lc_call(sandbox, "list_customers", {"limit": 1}, version="3.6")
    assert resp.json()["error"]["type"] == "not_found"  # v3.6 has no list_customers
    expected = []
    for chat in chats:
        cid = next(u["id"] for u in chat["users"] if u["type"] == "customer")
        if cid not in expected:
            expected.append(cid)
    pages = traverse(tenant, "contacts", integrated_account_id=account, limit=30)
    assert [c["id"] for p in pages for c in p] == expected
    target = pages[0][0]
    by_email = tenant.get("/unified/ticketing/contacts", integrated_account_id=account,
                          email=target["email_addresses"][0]["email"].upper()).json()
    assert target["id"] in [c["id"] for c in by_email["result"]]


def test_v36_contacts_read_visit_and_phone_number(tenant, sandbox, chats):
    """v3.6 customers carry `visit` (v3.5: last_visit) and `phone_number`."""
    account = connect_pat(tenant, sandbox, api_version="3.6")
    contacts = [c for p in traverse(tenant, "contacts", integrated_account_id=account, limit=100) for c in p]
    with_phone = [c for c in contacts if c["phone_numbers"]]
    assert with_phone and all(c["location"] and c["location"]["country_code"] for c in contacts)
    source = lc_call(sandbox, "get_customer", {"id": with_phone[0]["id"]}, version="3.6").json()
    assert with_phone[0]["phone_numbers"] == [{"number": source["phone_number"], "type": "phone"}]
    alone = tenant.get(f"/unified/ticketing/contacts/{with_phone[0]['id']}", integrated_account_id=account).json()
    assert alone["location"]["city"] == source["visit"]["geolocation"]["city"]
    assert alone["last_activity_at"] and alone["phone_numbers"] == with_phone[0]["phone_numbers"]


def test_a_bots_message_is_a_users_comment(tenant, account_id, sandbox, chats):
    """Bots (32-hex ids) are agents among the chat's users: their comments are by a user, not a contact."""
    def bot_events(chat_id):
        return [(t["id"], e) for t in threads_of(sandbox, chat_id) for e in t["events"]
                if len(e.get("author_id", "")) == 32]
    chat_id, found = next((c["id"], found) for c in chats if (found := bot_events(c["id"])))
    comments = {c["id"]: c for p in traverse(tenant, "comments", integrated_account_id=account_id,
                                             ticket_id=chat_id, limit=100) for c in p}
    for thread_id, event in found:
        comment_id = f"{thread_id}:{event['id']}"
        assert comments[comment_id]["author"] == {"id": event["author_id"], "type": "user"}
        alone = tenant.get(f"/unified/ticketing/comments/{comment_id}", integrated_account_id=account_id).json()
        assert alone["author"] == {"id": event["author_id"], "type": "user"}


def test_a_deleted_event_is_no_comment(writer, writable_sandbox, fresh_sandbox):
    """v3.6 keeps deleted events in the thread with `deleted: true`; they are not comments (v3.5 leaves them
    out)."""
    client, v35 = writer
    v36 = connect_pat(client, fresh_sandbox, api_version="3.6")
    customer = lc_call(fresh_sandbox, "list_customers", {"limit": 1}).json()["customers"][0]["id"]
    said = fresh_sandbox.admin("POST", "customer-messages", json={"customer_id": customer, "text": "Oops, my PIN"})
    kept = fresh_sandbox.admin("POST", "customer-messages", json={"chat_id": said["chat_id"], "text": "Ignore that"})
    fresh_sandbox.admin("POST", "agent-app", json={"chat_id": said["chat_id"], "thread_id": said["thread_id"],
                                                   "event_id": said["event_id"]})
    gone = f"{said['thread_id']}:{said['event_id']}"
    for account in (v35, v36):
        comments = [c for p in traverse(client, "comments", integrated_account_id=account,
                                        ticket_id=said["chat_id"]) for c in p]
        assert [c["body"] for c in comments] == ["Ignore that"]
        resp = client.get(f"/unified/ticketing/comments/{gone}", integrated_account_id=account)
        assert resp.status_code == 404, resp.text
        ticket = client.get(f"/unified/ticketing/tickets/{said['chat_id']}", integrated_account_id=account).json()
        assert ticket["description"] == "Ignore that"
    assert kept["chat_id"] == said["chat_id"]

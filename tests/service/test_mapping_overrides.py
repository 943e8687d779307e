"""Mapping overrides over HTTP (issue 17): field-level edits at tenant and account scope on top of the
shipped mapping, list default filters, write inputs, validation, versions, rollback and preview, on
LiveChat and Rocket.Chat sandboxes. Each test uses tenants of its own: overrides reach every account
of a tenant, and the shared tenant's records must stay as shipped."""
from __future__ import annotations

import itertools
import json

import pytest
import requests

from tests.conftest import (
    ADMIN_TOKEN,
    ServiceClient,
    connect_pat,
    connect_rocketchat,
    error,
    lc_call,
    new_tenant,
    running_service,
    service_overrides,
)
from tests.service.test_webhooks_rocketchat import new_visitor, rc_hooks, stack  # noqa: F401  (fixtures)

_names = itertools.count()


def tenant_on(service, sandbox, prefix: str = "ovr") -> tuple[ServiceClient, str]:
    name = f"{prefix}-{next(_names)}"
    client = new_tenant(service, name)
    client.tenant = name
    return client, connect_pat(client, sandbox, "3.5")


def put(client, path: str, body):
    return client.request("PUT", f"/mapping-overrides/{path}", json=body)


def ok(resp) -> dict:
    assert resp.status_code == 200, resp.text
    return resp.json()


def contacts(client, account: str, **params) -> list[dict]:
    return ok(client.get("/unified/ticketing/contacts", integrated_account_id=account, limit=20, **params))["result"]


def plan_of(contact: dict) -> str | None:
    return next((f["plan"] for f in contact["remote_data"]["session_fields"] if "plan" in f), None)


# --- field-level edits -------------------------------------------------------------------------------
def test_an_account_override_adds_replaces_and_removes_single_fields(service, sandbox):
    client, account = tenant_on(service, sandbox)
    shipped = contacts(client, account)
    entry = ok(put(client, f"account/{account}/contacts/read", {"fields": {
        "custom_fields.tier": "$uppercase(session_fields.plan)", "name": "'Customer ' & name",
        "avatar_url": None, "custom_fields.company": None}}))
    assert entry["version"] == 1 and entry["action"] == "put"
    listed = contacts(client, account)
    assert [c["id"] for c in listed] == [c["id"] for c in shipped]
    for before, after in zip(shipped, listed, strict=True):
        plan = plan_of(before)
        assert after["custom_fields"].get("tier") == (plan.upper() if plan else None)
        assert "company" not in after["custom_fields"]
        assert after["name"] == (f"Customer {before['name']}" if before["name"] else after["name"])
        assert after["avatar_url"] is None
        # every other field as shipped, and remote_data stays the raw helpdesk object
        same = {k for k in before if k not in ("name", "avatar_url", "custom_fields")}
        assert {k: after[k] for k in same} == {k: before[k] for k in same}
        assert after["remote_data"] == before["remote_data"]
    one = ok(client.get(f"/unified/ticketing/contacts/{listed[0]['id']}", integrated_account_id=account))
    assert one["name"] == listed[0]["name"] and one["custom_fields"].get("tier") == listed[0]["custom_fields"].get(
        "tier")


def test_precedence_is_shipped_then_tenant_then_account_and_tenants_are_isolated(service, sandbox):
    client, first = tenant_on(service, sandbox)
    second = connect_pat(client, sandbox, "3.5")
    other, theirs = tenant_on(service, sandbox)
    shipped = contacts(other, theirs)
    ok(put(client, "tenant/livechat/contacts/read", {"fields": {
        "custom_fields.source": "'tenant'", "custom_fields.seen": "'yes'"}}))
    ok(put(client, f"account/{first}/contacts/read", {"fields": {"custom_fields.source": "'account'"}}))
    on_first, on_second = contacts(client, first), contacts(client, second)
    assert {(c["custom_fields"]["source"], c["custom_fields"]["seen"]) for c in on_first} == {("account", "yes")}
    assert {(c["custom_fields"]["source"], c["custom_fields"]["seen"]) for c in on_second} == {("tenant", "yes")}
    # another tenant on the same helpdesk account sees the shipped mapping
    assert contacts(other, theirs) == shipped
    assert all("source" not in c["custom_fields"] for c in shipped)
    # and cannot read or change this tenant's account overrides
    error(other.get(f"/mapping-overrides/account/{first}/contacts/read"), 404)
    error(put(other, f"account/{first}/contacts/read", {"fields": {"name": "id"}}), 404)
    assert ok(other.get("/mapping-overrides"))["result"] == []


def test_an_override_reaches_lists_and_the_export(service, sandbox):
    client, account = tenant_on(service, sandbox)
    ok(put(client, "tenant/livechat/tickets/read", {"fields": {"custom_fields.first_tag": "thread.tags[0]"}}))
    page = ok(client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=30))["result"]
    resp = client.session.get(f"{service}/unified/ticketing/export", params={
        "integrated_account_id": account, "with_comments": "false", "include_remote_data": "true"},
        headers={"Authorization": f"Bearer {client.api_key}"}, timeout=120)
    assert resp.status_code == 200, resp.text
    exported = [json.loads(line) for line in resp.text.splitlines()]
    assert [t["id"] for t in exported[:len(page)]] == [t["id"] for t in page]
    tagged = [t for t in exported if t["remote_data"]["thread"].get("tags")]
    assert tagged and len(tagged) < len(exported), "the seed has tagged and untagged chats"
    for ticket in exported:
        tags = ticket["remote_data"]["thread"].get("tags")
        assert ticket["custom_fields"] == ({"first_tag": tags[0]} if tags else {})
    assert [t["custom_fields"] for t in page] == [t["custom_fields"] for t in exported[:len(page)]]


def test_a_change_reaches_every_worker_on_its_next_request(sandbox, redis_server_url):
    """Two apps on one Redis stand for two workers: each keeps its own compiled overrides."""
    config = service_overrides(sandbox, redis_server_url)
    with running_service(config) as (_, first), running_service(config) as (_, second):
        client, account = tenant_on(first, sandbox)
        there = ServiceClient(second, client.api_key)
        slot = f"account/{account}/contacts/read"
        for version, value in ((1, "one"), (2, "two")):
            assert ok(put(client, slot, {"fields": {"custom_fields.v": f"'{value}'"}}))["version"] == version
            assert {c["custom_fields"]["v"] for c in contacts(there, account)} == {value}
            assert {c["custom_fields"]["v"] for c in contacts(client, account)} == {value}
        ok(there.delete(f"/mapping-overrides/{slot}"))
        assert all("v" not in c["custom_fields"] for c in contacts(client, account))


# --- validation ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fields, param, words", [
    ({"custom_fields.plan": "session_fields[plan"}, "fields.custom_fields.plan", ["position 19"]),
    ({"name": "$secret & name"}, "fields.name", ["$secret", "$base_url"]),
    ({"plan": "session_fields.plan"}, "fields.plan", ["no field 'plan'", "custom_fields.<name>"]),
    ({"id": "email"}, "fields.id", ["no field 'id'"]),
    ({"custom_fields.": "email"}, "fields.custom_fields.", ["custom_fields.<name>"]),
    ({"name": 42}, "fields.name", ["JSONata expression"]),
])
def test_a_bad_override_is_a_422_naming_the_key_and_the_position(service, sandbox, fields, param, words):
    client, account = tenant_on(service, sandbox)
    err = error(put(client, f"account/{account}/contacts/read", {"fields": fields}), 422, param)
    assert err["type"] == "invalid_override" and all(w in err["message"] for w in words), err
    error(client.get(f"/mapping-overrides/account/{account}/contacts/read"), 404)  # nothing was stored
    assert ok(client.get(f"/mapping-overrides/account/{account}/contacts/read/versions"))["result"] == []


def test_bad_filters_methods_and_keys_are_refused(service, sandbox):
    client, account = tenant_on(service, sandbox)
    err = error(put(client, "tenant/livechat/tickets/list", {"filters": {"status": "pending"}}), 422,
                "filters.status")
    assert "open, closed" in err["message"]
    error(put(client, "tenant/livechat/tickets/list", {"filters": {"colour": "red"}}), 422, "filters.colour")
    error(put(client, "tenant/livechat/tickets/read", {"filters": {"status": "open"}}), 422, "filters")
    error(put(client, "tenant/livechat/tickets/update", {"inputs": {"colour": "name"}}), 422, "inputs.colour")
    error(put(client, "tenant/livechat/contacts/fetch", {"fields": {"name": "name"}}), 404)
    error(put(client, "tenant/zendesk/contacts/read", {"fields": {"name": "name"}}), 404)
    error(client.request("PUT", "/mapping-overrides/tenant/livechat/contacts/read", data="nope"), 400, "body")
    # a read-only key reads overrides and cannot change them; a key limited to accounts has no tenant scope
    key = requests.post(f"{service}/admin/api-keys", json={"tenant": client.tenant, "scope": "read"},
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30).json()["api_key"]
    reader = ServiceClient(service, key)
    assert error(put(reader, f"account/{account}/contacts/read", {"fields": {"name": "id"}}), 403)["type"] == \
        "read_only_key"
    limited_key = requests.post(f"{service}/admin/api-keys", json={
        "tenant": client.tenant, "integrated_account_ids": [account]},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30).json()["api_key"]
    limited = ServiceClient(service, limited_key)
    error(put(limited, "tenant/livechat/contacts/read", {"fields": {"name": "id"}}), 403)
    assert ok(put(limited, f"account/{account}/contacts/read", {"fields": {"name": "id"}}))["version"] == 1


# --- versions and rollback ------------------------------------------------------------------------------
def test_every_change_is_a_version_that_can_be_rolled_back(service, sandbox):
    client, account = tenant_on(service, sandbox)
    slot = f"account/{account}/contacts/read"
    ok(put(client, slot, {"fields": {"custom_fields.v": "'one'"}, "note": "first try"}))
    ok(put(client, slot, {"fields": {"custom_fields.v": "'two'"}}))
    assert {c["custom_fields"]["v"] for c in contacts(client, account)} == {"two"}
    deleted = ok(client.delete(f"/mapping-overrides/{slot}"))
    assert (deleted["version"], deleted["action"], deleted["override"]) == (3, "delete", None)
    assert all("v" not in c["custom_fields"] for c in contacts(client, account))
    error(client.get(f"/mapping-overrides/{slot}"), 404)
    error(client.delete(f"/mapping-overrides/{slot}"), 404)
    history = ok(client.get(f"/mapping-overrides/{slot}/versions"))["result"]
    assert [(v["version"], v["action"]) for v in history] == [(3, "delete"), (2, "put"), (1, "put")]
    assert history[2]["override"] == {"fields": {"custom_fields.v": "'one'"}, "note": "first try"}
    assert all(v["changed_by"].startswith("key_") and v["changed_at"].endswith("Z") for v in history)
    back = ok(client.post(f"/mapping-overrides/{slot}/rollback", json={"version": 1}))
    assert (back["version"], back["action"], back["rolled_back_to"]) == (4, "rollback", 1)
    assert {c["custom_fields"]["v"] for c in contacts(client, account)} == {"one"}
    assert ok(client.get(f"/mapping-overrides/{slot}"))["version"] == 4
    listed = ok(client.get("/mapping-overrides", integrated_account_id=account))["result"]
    assert [(e["scope"], e["resource"], e["method"], e["version"]) for e in listed] == [
        ("account", "contacts", "read", 4)]
    error(client.post(f"/mapping-overrides/{slot}/rollback", json={"version": 9}), 404)
    error(client.post(f"/mapping-overrides/{slot}/rollback", json={"version": "1"}), 400, "version")
    error(client.post(f"/mapping-overrides/{slot}/rollback", json={"version": 2 ** 70}), 400, "version")


# --- preview ---------------------------------------------------------------------------------------------
def test_preview_runs_on_a_real_page_with_errors_per_record_and_stores_nothing(service, sandbox):
    client, account = tenant_on(service, sandbox)
    ok(put(client, f"account/{account}/contacts/read", {"fields": {"custom_fields.live": "'yes'"}}))
    proposed = {"fields": {"custom_fields.live": None, "custom_fields.n": "$number(session_fields.plan)",
                           "name": "$uppercase(name)"}}
    body = ok(client.post(f"/mapping-overrides/account/{account}/contacts/read/preview",
                          json={"override": proposed, "limit": 5}))
    assert body["stored"] is False and len(body["result"]) == 5
    for row in body["result"]:
        assert row["before"]["custom_fields"]["live"] == "yes" and "live" not in row["after"]["custom_fields"]
        assert row["after"]["name"] == (row["before"]["name"] or "").upper() or row["before"]["name"] is None
        if row["before"]["custom_fields"].get("plan"):  # "team" is not a number
            assert [e["field"] for e in row["errors"]] == ["custom_fields.n"] and "number" in row["errors"][0][
                "message"]
    # nothing changed: the live override is still version 1 and records still have it
    assert ok(client.get(f"/mapping-overrides/account/{account}/contacts/read"))["version"] == 1
    assert {c["custom_fields"]["live"] for c in contacts(client, account)} == {"yes"}


def test_preview_on_a_sample_object_and_on_one_record(service, sandbox):
    client, account = tenant_on(service, sandbox)
    sample = {"id": "c-1", "name": "Ada", "email": "ada@example.com", "session_fields": [{"plan": "team"}]}
    body = ok(client.post("/mapping-overrides/tenant/livechat/contacts/read/preview", json={
        "integrated_account_id": account, "sample": sample,
        "override": {"fields": {"custom_fields.tier": "$uppercase(session_fields.plan)"}}}))
    [row] = body["result"]
    assert row["before"]["custom_fields"] == {"plan": "team"}
    assert row["after"]["custom_fields"] == {"plan": "team", "tier": "TEAM"} and row["errors"] == []
    one = contacts(client, account)[0]
    body = ok(client.post("/mapping-overrides/tenant/livechat/contacts/read/preview", json={
        "integrated_account_id": account, "record_id": one["id"], "override": {"fields": {"name": "id"}}}))
    assert [(r["id"], r["after"]["name"]) for r in body["result"]] == [(one["id"], one["id"])]
    # a bad proposal is the same 422 as a PUT; a tenant preview needs an account to run on
    error(client.post("/mapping-overrides/tenant/livechat/contacts/read/preview",
                      json={"integrated_account_id": account, "override": {"fields": {"name": "name["}}}), 422,
          "fields.name")
    error(client.post("/mapping-overrides/tenant/livechat/contacts/read/preview",
                      json={"override": {"fields": {"name": "id"}}}), 400, "integrated_account_id")


# --- list filters and write inputs ----------------------------------------------------------------------
def test_a_list_override_adds_a_default_filter_the_caller_can_override(service, sandbox):
    client, account = tenant_on(service, sandbox)
    ok(put(client, "tenant/livechat/tickets/list", {"filters": {"status": "closed"}}))
    page = ok(client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=25))["result"]
    assert page and {t["status"] for t in page} == {"closed"}
    asked = ok(client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=25,
                          status="open"))["result"]
    assert asked and {t["status"] for t in asked} == {"open"}
    preview = ok(client.post("/mapping-overrides/tenant/livechat/tickets/list/preview", json={
        "integrated_account_id": account, "override": {"filters": {"status": "open"}}, "limit": 25}))
    assert {t["status"] for t in preview["before"]["result"]} == {"closed"}
    assert {t["status"] for t in preview["after"]["result"]} == {"open"}


def test_a_contact_update_input_writes_a_custom_field_back(writable_service, fresh_sandbox):
    client, account = tenant_on(writable_service, fresh_sandbox, "ovr-writer")
    ok(put(client, "tenant/livechat/contacts/read", {"fields": {
        "custom_fields.tier": "session_fields.plan", "custom_fields.plan": None}}))
    ok(put(client, f"account/{account}/contacts/update", {"inputs": {
        "custom_fields.plan": "custom_fields.tier", "custom_fields.tier": None}}))
    preview = ok(client.post(f"/mapping-overrides/account/{account}/contacts/update/preview", json={
        "sample": {"custom_fields": {"tier": "enterprise"}},
        "override": {"inputs": {"custom_fields.plan": "custom_fields.tier", "custom_fields.tier": None}}}))
    assert preview["result"][0]["after"] == {"custom_fields": {"plan": "enterprise"}}
    customer = lc_call(fresh_sandbox, "list_customers", {"limit": 5}).json()["customers"][0]
    resp = client.request("PATCH", f"/unified/ticketing/contacts/{customer['id']}",
                          params={"integrated_account_id": account}, json={"custom_fields": {"tier": "enterprise"}})
    contact = ok(resp)
    assert contact["custom_fields"]["tier"] == "enterprise" and "plan" not in contact["custom_fields"]
    stored = lc_call(fresh_sandbox, "get_customer", {"id": customer["id"]}).json()
    fields = {k: v for f in stored["session_fields"] for k, v in f.items()}
    assert fields["plan"] == "enterprise" and "tier" not in fields


# --- Rocket.Chat -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rc_writable():
    from helpdesk_sandboxes.process import start_sandbox

    proc = start_sandbox("--integration", "rocketchat", "--rooms", "20", "--seed", "3")
    yield proc
    proc.stop()


def test_rocketchat_overrides_at_both_scopes(service, rc_sandbox):
    client = new_tenant(service, f"ovr-rc-{next(_names)}")
    first, second = connect_rocketchat(client, rc_sandbox), connect_rocketchat(client, rc_sandbox)
    other = new_tenant(service, f"ovr-rc-{next(_names)}")
    theirs = connect_rocketchat(other, rc_sandbox)
    ok(put(client, "tenant/rocketchat/tickets/read", {"fields": {
        "custom_fields.order_id": "livechatData.orderId", "priority": "'normal'"}}))
    ok(put(client, f"account/{first}/tickets/read", {"fields": {"priority": "'high'", "description": None}}))

    def page(c, account):
        return ok(c.get("/unified/ticketing/tickets", integrated_account_id=account, limit=20))["result"]

    on_first, on_second, shipped = page(client, first), page(client, second), page(other, theirs)
    assert [t["id"] for t in on_first] == [t["id"] for t in on_second] == [t["id"] for t in shipped]
    for a, b, s in zip(on_first, on_second, shipped, strict=True):
        order = s["remote_data"].get("livechatData", {}).get("orderId")
        assert a["custom_fields"].get("order_id") == b["custom_fields"].get("order_id") == order
        assert (a["priority"], b["priority"], s["priority"]) == ("high", "normal", None)
        assert a["description"] is None and b["description"] == s["description"]
        assert "custom_fields" not in s
    preview = ok(client.post(f"/mapping-overrides/account/{first}/tickets/read/preview",
                             json={"override": {"fields": {"priority": "'urgent'"}}, "limit": 3}))
    assert [(r["before"]["priority"], r["after"]["priority"]) for r in preview["result"]] == [("high", "urgent")] * 3


def test_rocketchat_contact_create_input_and_list_filter(service, rc_writable):
    client = new_tenant(service, f"ovr-rc-{next(_names)}")
    account = connect_rocketchat(client, rc_writable)
    ok(put(client, f"account/{account}/contacts/create", {"inputs": {"custom_fields.plan": "'trial'"}}))
    resp = client.request("POST", "/unified/ticketing/contacts", params={"integrated_account_id": account},
                          json={"name": "Ada Quinn", "email_addresses": [{"email": "ada@quinn.example"}]})
    assert resp.status_code == 201, resp.text
    assert resp.json()["custom_fields"] == {"plan": "trial"}
    ok(put(client, "tenant/rocketchat/tickets/list", {"filters": {"status": "open"}}))
    page = ok(client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=20))["result"]
    assert page and {t["status"] for t in page} == {"open"}


# --- custom fields ---------------------------------------------------------------------------------------
def test_custom_fields_are_discoverable_on_both_helpdesks(service, sandbox, rc_sandbox):
    client, account = tenant_on(service, sandbox)
    found = ok(client.get("/unified/ticketing/fields", integrated_account_id=account, resource="contacts"))
    by_name = {f["name"]: f for f in found["result"]}
    assert {"plan", "company"} <= set(by_name)  # the seeded customers' session fields
    assert by_name["plan"]["source"] == "session_fields" and by_name["plan"]["type"] == "string"
    # the suggested expression is a valid override that reads the field
    ok(put(client, f"account/{account}/contacts/read", {"fields": {"custom_fields.p": by_name["plan"]["expression"]}}))
    for contact in contacts(client, account):
        assert contact["custom_fields"].get("p") == plan_of(contact)
    tickets = ok(client.get("/unified/ticketing/fields", integrated_account_id=account, resource="tickets"))
    assert [(f["label"], f["type"], f["source"]) for f in tickets["result"]] == [
        ("What are you looking for?", "string", "prechat_form"), ("Country", "enum", "prechat_form")]
    assert tickets["result"][1]["options"] == ["USA", "UK"]

    rc = connect_rocketchat(client, rc_sandbox)
    rc_tickets = ok(client.get("/unified/ticketing/fields", integrated_account_id=rc, resource="tickets"))["result"]
    assert [(f["name"], f["label"], f["expression"]) for f in rc_tickets] == [
        ("orderId", "Order ID", "livechatData.`orderId`")]
    rc_contacts = ok(client.get("/unified/ticketing/fields", integrated_account_id=rc, resource="contacts"))["result"]
    assert [(f["name"], f["type"], f["options"]) for f in rc_contacts] == [
        ("plan", "enum", ["starter", "team", "business"])]
    error(client.get("/unified/ticketing/fields", integrated_account_id=rc, resource="users"), 400, "resource")
    error(client.get("/unified/ticketing/fields", resource="tickets"), 400, "integrated_account_id")
    other, _ = tenant_on(service, sandbox)
    error(other.get("/unified/ticketing/fields", integrated_account_id=rc, resource="tickets"), 404)


# --- webhook events ----------------------------------------------------------------------------------------
def test_webhook_events_carry_the_overridden_record(stack):  # noqa: F811
    sandbox, receiver, client = stack["sandbox"], stack["receiver"], stack["client"]
    account = connect_rocketchat(client, sandbox)
    ok(put(client, f"account/{account}/tickets/read", {"fields": {
        "priority": "'vip'", "custom_fields.visitor_token": "v.token"}}))
    new_visitor(sandbox, "override-token")
    room = requests.get(f"{sandbox.base_url}/api/v1/livechat/room", params={"token": "override-token"},
                        timeout=10).json()["room"]
    requests.post(f"{sandbox.base_url}/api/v1/livechat/message", timeout=10,
                  json={"token": "override-token", "rid": room["_id"], "msg": "Hello?"})
    events = receiver.wait_for(lambda ev: any(e["event"] == "ticket:created" for e in ev))
    ticket = next(e for e in events if e["event"] == "ticket:created")["payload"]
    assert (ticket["id"], ticket["priority"], ticket["custom_fields"]) == (
        room["_id"], "vip", {"visitor_token": "override-token"})
    assert "priority" not in ticket["remote_data"]  # the raw helpdesk object, untouched


def test_filters_after_mapping_see_the_overridden_record_and_a_failing_override_names_itself(service, sandbox):
    client, account = tenant_on(service, sandbox)
    ok(put(client, f"account/{account}/tickets/read", {"fields": {"status": "'closed'"}}))
    assert ok(client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=25,
                         status="open"))["result"] == []
    closed = ok(client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=25, status="closed"))
    assert len(closed["result"]) > 0
    ok(put(client, f"account/{account}/tickets/read", {"fields": {"custom_fields.n": "$number(id)"}}))
    err = error(client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=5), 502)
    assert err["type"] == "override_error" and "custom_fields.n" in err["message"] and "v2" in err["message"]
    ok(client.post(f"/mapping-overrides/account/{account}/tickets/read/rollback", json={"version": 1}))
    assert ok(client.get("/unified/ticketing/tickets", integrated_account_id=account, limit=5))["result"]

"""Field-level overrides without a service: checking one, merging the scopes, applying edits."""
from __future__ import annotations

import pytest

from unified_ticketing.engine.overrides import Invalid, apply_edits, compile_override, merge

RAW = {"id": "c1", "name": "Ada", "session_fields": [{"plan": "team"}, {"company": "Acme"}]}
RECORD = {"id": "c1", "name": "Ada", "avatar_url": "https://a.example/x.png", "email_addresses": [{"email": "a@x"}],
          "custom_fields": {"plan": "team", "company": "Acme"}}


def fields(resource="contacts", **edits):
    return compile_override(resource, "read", {"fields": edits}, "test")


def test_edits_add_replace_and_remove_single_fields_and_leave_the_rest():
    ov = compile_override("contacts", "read", {"fields": {
        "custom_fields.tier": "$uppercase(session_fields.plan)", "name": "name & '!'", "avatar_url": None,
        "email_addresses": None, "custom_fields.company": None}})
    out = apply_edits(ov.edits, "contacts", RAW, RECORD, {})
    assert out == {"id": "c1", "name": "Ada!", "avatar_url": None, "email_addresses": [],
                   "custom_fields": {"plan": "team", "tier": "TEAM"}}
    assert RECORD["custom_fields"] == {"plan": "team", "company": "Acme"}  # the input is not changed


def test_an_edit_value_is_dumped_as_the_model_field():
    ov = fields("attachments", file_size="'42'")
    assert apply_edits(ov.edits, "attachments", {}, {"id": "a"}, {})["file_size"] == 42


def test_the_account_scope_wins_field_by_field():
    tenant = fields(**{"custom_fields.src": "'tenant'", "custom_fields.keep": "'t'"})
    account = fields(**{"custom_fields.src": "'account'"})
    merged = merge([("contacts", tenant), ("contacts", account)])
    assert apply_edits(merged.fields["contacts"], "contacts", RAW, {"id": "c1"}, {})["custom_fields"] == {
        "src": "account", "keep": "t"}
    assert merge([]) is None


@pytest.mark.parametrize("body, param", [
    ({"fields": {"name": "name["}}, "fields.name"),
    ({"fields": {"name": "$input.name"}}, "fields.name"),
    ({"fields": {"remote_data": "$"}}, "fields.remote_data"),
    ({"fields": {}}, "fields"),
    ({"fields": {"name": "name"}, "extra": 1}, "extra"),
    ({"inputs": {"name": "name"}}, "inputs"),
])
def test_invalid_overrides_name_the_key(body, param):
    with pytest.raises(Invalid) as exc:
        compile_override("contacts", "read", body)
    assert exc.value.param == param


def test_record_variables_are_allowed_and_inputs_read_the_body():
    assert fields("tickets", ticket_url="$base_url & '/chats/' & id").edits[0].expr is not None
    ov = compile_override("contacts", "update", {"inputs": {"custom_fields.plan": "custom_fields.tier",
                                                            "custom_fields.tier": None}})
    body = {"name": "Ada", "custom_fields": {"tier": "gold"}}
    assert apply_edits(ov.edits, None, body, body, {}) == {"name": "Ada", "custom_fields": {"plan": "gold"}}
    with pytest.raises(Invalid):
        compile_override("users", "update", {"inputs": {"name": "name"}})


def test_an_input_edit_without_a_value_leaves_the_field_out():
    ov = compile_override("contacts", "update", {"inputs": {"name": None, "avatar_url": "missing"}})
    assert apply_edits(ov.edits, None, {"name": "Ada"}, {"name": "Ada"}, {}) == {}

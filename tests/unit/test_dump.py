"""The models' compiled `dump` (schemas/ticketing.py) gives marshmallow's own `Schema.dump`, for records of
the fields' JSON types and for those a wrong mapping could produce (other types, missing and extra keys)."""
import pytest
from marshmallow import Schema, fields

from unified_ticketing.schemas.ticketing import MODELS, compile_dump

GOOD = {
    "tickets": {"id": "C1", "name": "Help", "description": None, "status": "open", "type": None, "priority": "high",
                "assignees": [{"id": "a@x", "name": "A", "email": "a@x"}], "contact": {"id": "u1", "name": None},
                "tags": [{"id": "t", "name": "t"}], "team_ids": ["0"], "ticket_url": None,
                "created_at": "2026-01-01T00:00:00Z", "updated_at": None, "completed_at": None},
    "comments": {"id": "T:E", "ticket_id": "C1", "type": "file", "body": "a.png", "is_private": False,
                 "author": {"id": "a@x", "type": "user"}, "attachment_ids": ["T:E"], "created_at": "2026"},
    "contacts": {"id": "u1", "name": "N", "email_addresses": [{"email": "n@x", "type": None}], "phone_numbers": [],
                 "avatar_url": None, "custom_fields": {"plan": "gold", "n": 1}, "location": {"city": "Oslo"},
                 "last_activity_at": None, "ticket_ids": ["C1"], "created_at": None},
    "attachments": {"id": "T:E", "file_name": "a.png", "file_url": "https://cdn/a.png", "content_type": "image/png",
                    "file_size": 12, "ticket_id": "C1", "comment_id": "T:E", "uploaded_by": None, "created_at": "2026"},
    "users": {"id": "a@x", "name": "A", "email": "a@x", "role": "owner", "job_title": None, "avatar_url": None,
              "status": "accepting chats", "team_ids": ["0", "1"]},
    "teams": {"id": "0", "name": "General", "language": "en", "status": "online"},
    "tags": {"id": "t", "name": "t", "team_ids": [], "created_by": None, "created_at": None},
}

# values of other types than a field's, as a mapping gone wrong could give them
ODD = [None, 7, 1.5, True, "", "7", [], ["x", 2], [{"id": 1}], {}, {"id": 3, "type": "user", "extra": 1},
       {"a": 1, 2: "b"}]


def marshmallow_dump(schema, obj):
    return Schema.dump(schema, obj)


@pytest.mark.parametrize("resource", sorted(MODELS))
def test_a_well_typed_record_dumps_as_marshmallow_dumps_it(resource):
    model, record = MODELS[resource], GOOD[resource]
    assert set(record) == set(model.dump_fields) - {"remote_data"}
    assert model.dump(record) == marshmallow_dump(model, record)
    assert list(model.dump(record)) == list(marshmallow_dump(model, record))  # the models' order


@pytest.mark.parametrize("resource", sorted(MODELS))
def test_every_field_of_another_type_dumps_as_marshmallow_dumps_it(resource):
    model, record = MODELS[resource], GOOD[resource]
    for name in model.dump_fields:
        for value in ODD:
            odd = {**record, name: value}
            try:
                expected = marshmallow_dump(model, odd)
            except Exception as exc:  # noqa: BLE001 (marshmallow refuses it: so must the compiled dump)
                with pytest.raises(type(exc)):
                    model.dump(odd)
                continue
            assert model.dump(odd) == expected, (resource, name, value)


@pytest.mark.parametrize("resource", sorted(MODELS))
def test_missing_and_extra_keys_dump_as_marshmallow_dumps_them(resource):
    model, record = MODELS[resource], GOOD[resource]
    for name in record:
        fewer = {k: v for k, v in record.items() if k != name}
        assert model.dump(fewer) == marshmallow_dump(model, fewer), (resource, name)
    extra = {**record, "unknown": 1, "remote_data": {"raw": True}}
    assert model.dump(extra) == marshmallow_dump(model, extra)
    assert model.dump({}) == marshmallow_dump(model, {}) == {}


def test_fields_with_defaults_data_keys_and_attributes_go_to_marshmallow():
    class Odd(Schema):
        a = fields.String(dump_default="A")
        b = fields.Integer(data_key="B")
        c = fields.String(attribute="other")
        items = fields.String()  # a dict attribute: marshmallow's accessor falls back to it
        d = fields.Float()
        e = fields.Integer(as_string=True)

    schema = Odd()
    dump = compile_dump(schema)
    for obj in [{}, {"a": "x", "b": 2, "other": "o", "d": 1, "e": 5}, {"a": None, "b": "3", "c": "no", "items": "i"}]:
        assert dump(obj) == Schema.dump(schema, obj), obj


def test_anything_but_a_dict_goes_to_marshmallow():
    class Obj:
        id, ticket_id, type, body, is_private, author, attachment_ids, created_at = (
            "T:E", "C1", "message", "hi", False, None, [], "2026")

    model = MODELS["comments"]
    assert model.dump(Obj()) == marshmallow_dump(model, Obj())

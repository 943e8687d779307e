"""The unified ticketing models, after Truto's and Merge's: optional fields stay optional (None).

`dump` (what the engine calls on every mapped record) is marshmallow's, compiled: the same output,
field by field, with each field's own serializer called only for a value that is not already of
the field's JSON type (mapped records almost never hold one). marshmallow's generic loop costs
~22 µs per ticket; the compiled one ~3 µs (bench/RESULTS.md). Dumping does not validate, in
marshmallow as here: the mapping tests check mapped records with `validate`.
"""
from __future__ import annotations

from collections.abc import Callable

from marshmallow import EXCLUDE, Schema, fields, missing, validate
from marshmallow.decorators import POST_DUMP, PRE_DUMP


def _converter(field: fields.Field, name: str) -> Callable:
    """`(value, obj) -> dumped value` for one field: a shortcut for JSON-typed values, else the field's own."""
    slow = field._serialize
    if isinstance(field, fields.Nested) and not isinstance(field, fields.Pluck) and not field.many:
        schema = field.schema
        if schema.many:
            return lambda value, obj: slow(value, name, obj)
        nested = compile_dump(schema)
        return lambda value, obj: nested(value) if type(value) is dict else slow(value, name, obj)
    if type(field) is fields.List:
        inner = _converter(field.inner, name)
        return lambda value, obj: [inner(v, obj) for v in value] if type(value) is list else slow(value, name, obj)
    if type(field) in (fields.Raw, fields.Boolean):  # both dump a value as it is
        return lambda value, obj: value
    if type(field) is fields.String:
        return lambda value, obj: value if value is None or type(value) is str else slow(value, name, obj)
    if type(field) is fields.Integer and not field.as_string:
        return lambda value, obj: value if value is None or type(value) is int else slow(value, name, obj)
    if type(field) is fields.Dict and field.value_field is None and type(field.key_field) is fields.String:
        return lambda value, obj: dict(value) if type(value) is dict and all(type(k) is str for k in value) \
            else slow(value, name, obj)
    return lambda value, obj: slow(value, name, obj)


def compile_dump(schema: Schema) -> Callable[[dict], dict]:
    """`schema.dump` for one dict, compiled once; any other input, or a schema with hooks, goes to marshmallow."""
    if schema.many or schema._hooks[PRE_DUMP] or schema._hooks[POST_DUMP]:
        return lambda obj: Schema.dump(schema, obj)
    plain = type(schema).get_attribute is Schema.get_attribute
    plan = []
    for name, field in schema.dump_fields.items():
        direct = plain and field.attribute is None and field._CHECK_ATTRIBUTE
        # marshmallow leaves out a key the dict lacks, unless the field has a dump_default (or the
        # name is a dict attribute, which its accessor falls back to)
        skip_absent = direct and field.dump_default is missing and not hasattr(dict, name)
        plan.append((name, field.data_key if field.data_key is not None else name, field,
                     _converter(field, name) if direct else None, skip_absent))

    def dump(obj):
        if type(obj) is not dict:
            return Schema.dump(schema, obj)
        out = {}
        for name, key, field, convert, skip_absent in plan:
            if convert is not None and name in obj:
                out[key] = convert(obj[name], obj)
            elif not skip_absent:  # marshmallow decides
                value = field.serialize(name, obj, accessor=schema.get_attribute)
                if value is not missing:
                    out[key] = value
        return out

    return dump


class _Model(Schema):
    class Meta:
        unknown = EXCLUDE
        ordered = True

    remote_data = fields.Raw(allow_none=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._compiled_dump = compile_dump(self)

    def dump(self, obj, *, many: bool | None = None):
        if many or (many is None and self.many):
            return super().dump(obj, many=many)
        return self._compiled_dump(obj)


class Ref(Schema):
    id = fields.String(required=True)
    name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)


class Person(Schema):
    id = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["user", "contact"]))


class Tag(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)


class Ticket(_Model):
    id = fields.String(required=True)
    name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(["open", "closed"]))
    type = fields.String(allow_none=True)
    priority = fields.String(allow_none=True)
    assignees = fields.List(fields.Nested(Ref), required=True)
    contact = fields.Nested(Ref, allow_none=True)
    tags = fields.List(fields.Nested(Tag), required=True)
    team_ids = fields.List(fields.String(), load_default=list)
    ticket_url = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)
    completed_at = fields.String(allow_none=True)


class Comment(_Model):
    id = fields.String(required=True)
    ticket_id = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(
        ["message", "file", "rich_message", "filled_form", "form", "custom", "system"]))
    body = fields.String(allow_none=True)
    is_private = fields.Boolean(required=True)
    author = fields.Nested(Person, allow_none=True)
    attachment_ids = fields.List(fields.String(), load_default=list)
    created_at = fields.String(required=True)


class Email(Schema):
    email = fields.String(required=True)
    type = fields.String(allow_none=True)


class Location(Schema):
    country = fields.String(allow_none=True)
    country_code = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    timezone = fields.String(allow_none=True)


class Contact(_Model):
    id = fields.String(required=True)
    name = fields.String(allow_none=True)
    email_addresses = fields.List(fields.Nested(Email), required=True)
    phone_numbers = fields.List(fields.Raw(), load_default=list)
    avatar_url = fields.String(allow_none=True)
    custom_fields = fields.Dict(keys=fields.String(), load_default=dict)
    location = fields.Nested(Location, allow_none=True)
    last_activity_at = fields.String(allow_none=True)
    ticket_ids = fields.List(fields.String(), load_default=list)
    created_at = fields.String(allow_none=True)


class Attachment(_Model):
    id = fields.String(required=True)
    file_name = fields.String(allow_none=True)
    file_url = fields.String(allow_none=True)
    content_type = fields.String(allow_none=True)
    file_size = fields.Integer(allow_none=True)
    ticket_id = fields.String(required=True)
    comment_id = fields.String(allow_none=True)
    uploaded_by = fields.Nested(Person, allow_none=True)
    created_at = fields.String(allow_none=True)


class User(_Model):
    """An agent of the helpdesk (tickets name them in `assignees`)."""
    id = fields.String(required=True)
    name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    job_title = fields.String(allow_none=True)
    avatar_url = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    team_ids = fields.List(fields.String(), load_default=list)


class Team(_Model):
    """A group of users (tickets name theirs in `team_ids`)."""
    id = fields.String(required=True)
    name = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    status = fields.String(allow_none=True)


class TicketTag(_Model):
    """A tag that tickets can carry (tickets name theirs in `tags`)."""
    id = fields.String(required=True)
    name = fields.String(required=True)
    team_ids = fields.List(fields.String(), load_default=list)
    created_by = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True)


MODELS = {"tickets": Ticket(), "comments": Comment(), "contacts": Contact(), "attachments": Attachment(),
          "users": User(), "teams": Team(), "tags": TicketTag()}

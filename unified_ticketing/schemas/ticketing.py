"""The unified ticketing models, after Truto's and Merge's: optional fields stay optional (None).

`dump` (what the engine calls on every mapped record) is marshmallow's, compiled: the same output,
field by field, with each field's own serializer called only for a value that is not already of
the field's JSON type (mapped records almost never hold one). marshmallow's generic loop costs
~22 µs per ticket, a loop over per-field converters ~3 µs (bench/RESULTS.md); so the compiled dump
is one Python function generated per schema, its fields' checks written inline: against that loop,
a comment 2.4 → 1.1 µs, a contact 5.1 → 2.6 (figure 2's pages, this session's machine). Dumping
does not validate, in marshmallow as here: the mapping tests check mapped records with `validate`.
"""
from __future__ import annotations

from collections.abc import Callable

from marshmallow import EXCLUDE, Schema, fields, missing, validate
from marshmallow.decorators import POST_DUMP, PRE_DUMP


class _Code:
    """The names a generated dump function refers to (fields' serializers, nested dumps), by variable."""

    def __init__(self):
        self.env: dict = {"missing": missing, "Schema": Schema}

    def name(self, value, prefix: str) -> str:
        name = f"{prefix}{len(self.env)}"
        self.env[name] = value
        return name


def _converted(field: fields.Field, name: str, v: str, code: _Code, depth: int = 0) -> str:
    """A Python expression for `field`'s dumped value of variable `v` (the record is `obj`): `v` itself when
    it is already of the field's JSON type, else the field's own serializer's answer."""
    slow = f"{code.name(field._serialize, '_ser')}({v}, {name!r}, obj)"
    if isinstance(field, fields.Nested) and not isinstance(field, fields.Pluck) and not field.many:
        if field.schema.many:
            return slow
        nested = code.name(compile_dump(field.schema), "_nested")  # (marshmallow dumps None as None)
        return f"({nested}({v}) if type({v}) is dict else None if {v} is None else {slow})"
    if type(field) is fields.List:
        x = f"x{depth}"
        each = _converted(field.inner, name, x, code, depth + 1)
        return f"(([{each} for {x} in {v}] if {v} else []) if type({v}) is list else {slow})"
    if type(field) in (fields.Raw, fields.Boolean):  # both dump a value as it is
        return v
    if type(field) is fields.String:
        return f"({v} if type({v}) is str or {v} is None else {slow})"
    if type(field) is fields.Integer and not field.as_string:
        return f"({v} if type({v}) is int or {v} is None else {slow})"
    if type(field) is fields.Dict and field.value_field is None and type(field.key_field) is fields.String:
        return f"(dict({v}) if type({v}) is dict and all(type(k) is str for k in {v}) else {slow})"
    return slow


def compile_dump(schema: Schema, absent: frozenset[str] = frozenset()) -> Callable[[dict], dict]:
    """`schema.dump` for one dict, compiled once; any other input, or a schema with hooks, goes to marshmallow.

    A dict with every field of the schema (but those named in `absent`, which records lack: the model's
    `remote_data`), as mappings build them, is read first in one go, the output one dict display (a
    fifth less); one that lacks any goes field by field."""
    if schema.many or schema._hooks[PRE_DUMP] or schema._hooks[POST_DUMP]:
        return lambda obj: Schema.dump(schema, obj)
    code = _Code()
    plain = type(schema).get_attribute is Schema.get_attribute
    get = code.name(schema.get_attribute, "_get")
    lines = ["def dump(obj):",
             "    if type(obj) is not dict:",
             f"        return Schema.dump({code.name(schema, '_schema')}, obj)"]
    direct = {name: field for name, field in schema.dump_fields.items()
              if plain and field.attribute is None and field._CHECK_ATTRIBUTE}
    whole = [name for name in schema.dump_fields if name not in absent]
    if whole and all(name in direct for name in whole):
        values = {name: f"w{i}" for i, name in enumerate(whole)}
        out = ", ".join(f"{_key(direct[name], name)!r}: {_converted(direct[name], name, v, code)}"
                        for name, v in values.items())
        lacks = " and ".join(f"{name!r} not in obj" for name in schema.dump_fields if name in absent) or "True"
        lines += [f"    if {lacks}:", "        try:"]
        lines += [f"            {v} = obj[{name!r}]" for name, v in values.items()]
        lines += ["        except KeyError:", "            pass", "        else:", f"            return {{{out}}}"]
    lines.append("    out = {}")
    for name, field in schema.dump_fields.items():
        key = _key(field, name)
        marshmallow = [f"v = {code.name(field, '_field')}.serialize({name!r}, obj, accessor={get})",
                       "if v is not missing:", f"    out[{key!r}] = v"]
        if name not in direct:
            lines += [f"    {line}" for line in marshmallow]
            continue
        lines += [f"    if {name!r} in obj:", f"        v = obj[{name!r}]",
                  f"        out[{key!r}] = {_converted(field, name, 'v', code)}"]
        # marshmallow leaves out a key the dict lacks, unless the field has a dump_default (or the
        # name is a dict attribute, which its accessor falls back to): then it decides
        if field.dump_default is not missing or hasattr(dict, name):
            lines += ["    else:"] + [f"        {line}" for line in marshmallow]
    lines.append("    return out")
    exec("\n".join(lines), code.env)  # noqa: S102 (the source is built here, from the schema's own fields)
    return code.env["dump"]


def _key(field: fields.Field, name: str) -> str:
    return field.data_key if field.data_key is not None else name


class _Model(Schema):
    class Meta:
        unknown = EXCLUDE
        ordered = True

    remote_data = fields.Raw(allow_none=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # `dump` of one record, without the `many` question
        self.dump_one = compile_dump(self, frozenset({"remote_data"}))

    def dump(self, obj, *, many: bool | None = None):
        if many or (many is None and self.many):
            return super().dump(obj, many=many)
        return self.dump_one(obj)


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

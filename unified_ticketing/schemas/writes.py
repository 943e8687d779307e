"""Bodies of the unified writes, validated before anything reaches an upstream.

Field names are the unified model's (Ticket, Comment, Contact, Attachment); the mapping files
turn them into upstream requests. Booleans are JSON booleans, not "yes" or 1.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from werkzeug.datastructures import FileStorage


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def _unique(values: list) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Must not repeat a value.")


def _text(**kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=10_000), _not_blank], **kwargs)


def _id(**kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=200), _not_blank], **kwargs)


def _bool(**kwargs) -> fields.Boolean:
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


def _names(**kwargs) -> fields.List:
    return fields.List(fields.String(validate=[validate.Length(min=1, max=200), _not_blank]),
                       validate=[validate.Length(max=50), _unique], **kwargs)


class _Body(Schema):
    class Meta:
        unknown = RAISE


class CommentCreate(_Body):
    ticket_id = _id(required=True)
    body = _text(required=True)
    is_private = _bool(load_default=False)


class TicketCreate(_Body):
    contact_id = _id(required=True)
    body = _text(required=True)
    assignee_ids = fields.List(_id(), validate=[validate.Length(max=20), _unique])
    tags = _names()
    create_missing_tags = _bool(load_default=False)


class TicketUpdate(_Body):
    status = fields.String(validate=validate.OneOf(["open", "closed"]))
    tags = _names()
    assignee_ids = fields.List(_id(), validate=[validate.Length(min=1, max=20), _unique])
    create_missing_tags = _bool(load_default=False)

    @validates_schema
    def something_to_change(self, data, **_):
        if not {"status", "tags", "assignee_ids"} & set(data):
            raise ValidationError("Send at least one of status, tags, assignee_ids.")


class EmailAddress(_Body):
    email = fields.Email(required=True)
    type = fields.String(validate=validate.Length(max=50))


class ContactCreate(_Body):
    name = _text()
    email_addresses = fields.List(fields.Nested(EmailAddress), validate=validate.Length(max=10))
    avatar_url = fields.Url(schemes={"http", "https"})
    custom_fields = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=200)),
                                values=fields.String(validate=validate.Length(max=10_000)))


class ContactUpdate(ContactCreate):
    # a null value removes the field
    custom_fields = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=200)),
                                values=fields.String(validate=validate.Length(max=10_000), allow_none=True))

    @validates_schema
    def something_to_change(self, data, **_):
        if not data:
            raise ValidationError("Send at least one of name, email_addresses, avatar_url, custom_fields.")


class _File(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage) or not value.filename:
            raise ValidationError("Send the file as a multipart/form-data part with a filename.")
        return value


class AttachmentCreate(_Body):
    """multipart/form-data: the file and plain text fields."""
    file = _File(required=True)
    ticket_id = _id(required=True)
    comment = _text()


class TagCreate(_Body):
    name = _id(required=True)
    team_ids = fields.List(_id(), validate=[validate.Length(min=1, max=50), _unique])


BODIES = {
    ("tags", "create"): TagCreate(),
    ("comments", "create"): CommentCreate(),
    ("tickets", "create"): TicketCreate(),
    ("tickets", "update"): TicketUpdate(),
    ("contacts", "create"): ContactCreate(),
    ("contacts", "update"): ContactUpdate(),
    ("attachments", "create"): AttachmentCreate(),
}


def file_fields(schema: Schema) -> list[str]:
    """The fields of a body that are uploaded files (such a body is multipart/form-data)."""
    return [name for name, f in schema.fields.items() if isinstance(f, _File)]

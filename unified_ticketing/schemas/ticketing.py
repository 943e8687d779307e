"""The unified ticketing models, after Truto's and Merge's: optional fields stay optional (None)."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate


class _Model(Schema):
    class Meta:
        unknown = EXCLUDE
        ordered = True

    remote_data = fields.Raw(allow_none=True)


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

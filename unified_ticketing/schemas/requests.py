"""Request bodies, validated before anything reaches an upstream."""
from __future__ import annotations

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema


class Credentials(Schema):
    """`type` (an auth style of the integration) and its fields, all strings except an OAuth
    `expires_at`. Which fields a type needs is the integration file's to say (checked on connect)."""
    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True, validate=validate.Length(min=1, max=50))
    expires_at = fields.DateTime(format="iso")

    @validates_schema(pass_original=True)
    def strings(self, data, original, **_):
        for name, value in original.items() if isinstance(original, dict) else ():
            if name in ("type", "expires_at"):
                continue
            if not isinstance(value, str) or not 1 <= len(value) <= 10_000:
                raise ValidationError({name: ["Must be a non-empty string."]})


class IntegratedAccountCreate(Schema):
    class Meta:
        unknown = RAISE

    integration = fields.String(required=True)
    credentials = fields.Nested(Credentials, required=True)
    api_version = fields.String()


class ApiKeyCreate(Schema):
    class Meta:
        unknown = RAISE

    tenant = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{1,64}$",
                                                                   error="Use 1-64 letters, digits, '.', '_' or '-'."))
    scope = fields.String(load_default="full", validate=validate.OneOf(["full", "read"]))
    integrated_account_ids = fields.List(fields.String(validate=validate.Length(1, 128)), load_default=list,
                                         validate=validate.Length(max=100))
    expires_in = fields.Integer(load_default=None, validate=validate.Range(1, 10 * 365 * 24 * 3600))


class ApiKeyRotate(Schema):
    class Meta:
        unknown = RAISE

    overlap_seconds = fields.Integer(load_default=3600, validate=validate.Range(0, 30 * 24 * 3600))


def first_error(messages, prefix: str = "") -> tuple[str, str]:
    """(param, message) of the first marshmallow error, with a dotted path to the field."""
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        path = f"{prefix}.{key}" if prefix else str(key)
        if key == "_schema":
            path = prefix or "body"
        return first_error(value, path)
    if isinstance(messages, list) and messages and not isinstance(messages[0], str):
        return first_error(messages[0], prefix)
    text = messages[0] if isinstance(messages, list) else str(messages)
    return prefix, text


class LinkTokenCreate(Schema):
    class Meta:
        unknown = RAISE

    integration = fields.String()  # absent: every integration
    expires_in = fields.Integer(validate=validate.Range(min=60, max=7 * 24 * 3600))
    redirect_uri = fields.String()  # where the connect page sends the user back (signed into the link)


class SubscriptionCreate(Schema):
    class Meta:
        unknown = RAISE

    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    events = fields.List(fields.String(), required=True, validate=validate.Length(min=1))

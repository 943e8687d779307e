"""Request bodies, validated before anything reaches an upstream."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

CREDENTIAL_FIELDS = {
    "personal_access_token": {"account_id", "token"},
    "oauth2": {"access_token", "refresh_token", "expires_at"},
}


class Credentials(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(required=True, validate=validate.OneOf(sorted(CREDENTIAL_FIELDS)))
    account_id = fields.String(validate=validate.Length(min=1))
    token = fields.String(validate=validate.Length(min=1))
    access_token = fields.String(validate=validate.Length(min=1))
    refresh_token = fields.String(validate=validate.Length(min=1))
    expires_at = fields.DateTime(format="iso")

    @validates_schema
    def required_for_type(self, data, **_):
        needed = CREDENTIAL_FIELDS.get(data.get("type"), set())
        if data.get("type") == "oauth2":
            needed = {"access_token"}
        missing = sorted(needed - set(data))
        if missing:
            raise ValidationError({m: [f"Required for {data['type']} credentials."] for m in missing})
        extra = sorted(set(data) - {"type"} - CREDENTIAL_FIELDS.get(data.get("type"), set()))
        if extra:
            raise ValidationError({e: [f"Not used by {data['type']} credentials."] for e in extra})


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

    integration = fields.String(required=True)
    expires_in = fields.Integer(validate=validate.Range(min=60, max=7 * 24 * 3600))


class SubscriptionCreate(Schema):
    class Meta:
        unknown = RAISE

    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    events = fields.List(fields.String(), required=True, validate=validate.Length(min=1))

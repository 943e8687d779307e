"""What every route needs: the caller's tenant, the app's services, validated JSON bodies."""
from __future__ import annotations

import secrets

from flask import current_app, g, request
from marshmallow import Schema, ValidationError

from ..errors import ApiError, bad_request, not_found
from ..schemas.requests import first_error
from ..state.accounts import Account
from ..state.request_writes import Writes


def services():
    return current_app.extensions["unified"]


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "Send your API key as 'Authorization: Bearer <api_key>'")
    return key.strip()


def _accept(found) -> str:
    if found is None:
        raise ApiError(401, "unauthorized", "The API key is not valid (unknown, revoked or expired); create one "
                                            "with 'unified-ticketing api-keys create --tenant NAME'")
    g.tenant, g.api_key = found.tenant, found
    if request.method not in ("GET", "HEAD"):
        writing_key(f"{request.method} {request.path}")
    return found.tenant


def require_tenant() -> str:
    return _accept(services().key_for(_bearer()))


def require_account(account_id: str | None, also=None) -> Account:
    """The caller's integrated account `account_id` (a 404 for another tenant's, or one beyond the key's
    reach), loaded once for the whole request: the API key and the account in one Redis round trip, with
    `also`'s reads (a cursor's traversal state)."""
    api_key = _bearer()
    if not account_id:
        require_tenant()
        raise bad_request("integrated_account_id is required", "integrated_account_id")
    found, account = services().accounts.load_for_key(api_key, account_id, also)
    tenant = _accept(found)
    return owned(account, account_id, tenant)


def tenant_account(tenant: str, account_id: str | None) -> Account:
    """The tenant's integrated account `account_id` (after `require_tenant`), loaded once for the request."""
    if not account_id:
        raise bad_request("integrated_account_id is required", "integrated_account_id")
    return owned(services().accounts.load(account_id), account_id, tenant)


def owned(account: Account | None, account_id: str, tenant: str) -> Account:
    if account is None or account.tenant != tenant or not key_reaches(account_id):
        raise not_found(f"No integrated account '{account_id}'")
    g.integration, g.account_id = account.integration, account_id  # for metrics and logs (and the account's)
    return account


def writing_key(action: str) -> None:
    """A 403 when the request's key is read-only and `action` changes something (even through a GET)."""
    key = g.get("api_key")
    if key is not None and key.scope == "read":
        raise ApiError(403, "read_only_key", f"This API key is read-only and cannot {action}; use a key with full "
                       "scope (api-keys create without --read-only)")


def unlimited_key(action: str) -> None:
    """A 403 when the request's key is limited to some integrated accounts and `action` reaches beyond them."""
    key = g.get("api_key")
    if key is not None and key.accounts:
        raise ApiError(403, "key_limited_to_accounts", f"This API key is limited to some integrated accounts and "
                       f"cannot {action}; use a key without --account")


def key_reaches(account_id: str) -> bool:
    """Whether the request's API key may use this integrated account (keys may be limited to some)."""
    key = g.get("api_key")
    return key is None or key.reaches(account_id)


def require_admin() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    # bytes: compare_digest refuses str with non-ASCII characters (a 500 before)
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(),
                                                                 current_app.config["ADMIN_TOKEN"].encode()):
        raise ApiError(401, "unauthorized", "Admin routes need 'Authorization: Bearer <UNIFIED_ADMIN_TOKEN>'")


def load_body(schema: Schema) -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("Send a JSON object body with 'Content-Type: application/json'", "body")
    try:
        return schema.load(body)
    except ValidationError as exc:
        param, message = first_error(exc.messages)
        raise bad_request(f"{param}: {message}", param) from None


def request_writes() -> Writes:
    """The request's last pipeline (`state/request_writes.py`), sent just before its response."""
    if "writes" not in g:
        g.writes = Writes(services().redis)
    return g.writes

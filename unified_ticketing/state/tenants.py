"""Tenants and their API keys. Only a SHA-256 of each key is stored."""
from __future__ import annotations

import secrets

from .secrets import hash_api_key

KEY_PREFIX = "ut_"


def create_api_key(r, tenant: str) -> str:
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    r.set(f"ut:apikey:{hash_api_key(api_key)}", tenant)
    r.sadd("ut:tenants", tenant)
    return api_key


def tenant_for(r, api_key: str) -> str | None:
    return r.get(f"ut:apikey:{hash_api_key(api_key)}")

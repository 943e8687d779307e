"""Keys derived from UNIFIED_SECRET_KEY: Fernet for credentials at rest, HMAC for cursors and link tokens."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

from cryptography.fernet import Fernet


def _derive(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


def fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive(secret, "credentials")))


def signer(secret: str):
    key = _derive(secret, "cursors")

    def sign(payload: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha256).digest()[:18]).decode()

    return sign


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def seal(sign, payload: dict) -> str:
    """`payload` as a token: base64url of its JSON, a dot, `sign`'s signature (readable, not forgeable)."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "." + sign(raw)


def unseal(sign, token) -> dict | None:
    """The payload of a token `seal` made with the same `sign`; None when it is malformed or forged."""
    try:
        body, sig = token.rsplit(".", 1)
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        data = json.loads(raw) if hmac.compare_digest(sign(raw), sig) else None
    except (ValueError, TypeError, AttributeError):
        return None
    return data if isinstance(data, dict) else None

"""Keys derived from UNIFIED_SECRET_KEY: Fernet for credentials at rest, HMAC for cursors."""
from __future__ import annotations

import base64
import hashlib
import hmac

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

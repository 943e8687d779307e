"""Settings, read from the environment once in `create_app` (tests pass overrides)."""
from __future__ import annotations

import os

from .resources import shipped

DEV_SECRET = "dev-only-unified-secret-key-change-me"
DEV_ADMIN_TOKEN = "dev-only-admin-token"
DEFAULT_MAPPINGS = shipped("mappings")


def from_env() -> dict:
    env = os.environ
    return {
        "ENV": env.get("UNIFIED_ENV", "development"),
        "REDIS_URL": env.get("REDIS_URL"),
        "REDIS_CLUSTER": env.get("REDIS_CLUSTER", "false").lower() == "true",
        "SECRET_KEY": env.get("UNIFIED_SECRET_KEY", DEV_SECRET),
        "ADMIN_TOKEN": env.get("UNIFIED_ADMIN_TOKEN", DEV_ADMIN_TOKEN),
        "MAPPINGS_DIR": env.get("UNIFIED_MAPPINGS_DIR", str(DEFAULT_MAPPINGS)),
        # Integration files name their own variables (base URLs, OAuth client, rate limits).
        "UPSTREAM_ENV": dict(env),
        "UPSTREAM_TIMEOUT": float(env.get("UNIFIED_UPSTREAM_TIMEOUT", "30")),
        "UPSTREAM_VERIFY_TLS": env.get("UNIFIED_UPSTREAM_VERIFY_TLS", "true").lower() != "false",
        # Request-body limits (bytes), checked before the body is read: JSON routes, webhook deliveries, uploads.
        "MAX_JSON_BODY": int(env.get("UNIFIED_MAX_JSON_BODY", str(1 << 20))),
        "MAX_WEBHOOK_BODY": int(env.get("UNIFIED_MAX_WEBHOOK_BODY", str(5 << 20))),
        "MAX_UPLOAD_BODY": int(env.get("UNIFIED_MAX_UPLOAD_BODY", str(21 << 20))),
        # Seconds a Redis command may go unanswered before the request fails with a 503.
        "REDIS_TIMEOUT": float(env.get("UNIFIED_REDIS_TIMEOUT", "2")),
        "CURSOR_TTL": int(env.get("UNIFIED_CURSOR_TTL", str(24 * 3600))),
        # Per-account logs (GET /integrated-accounts/<id>/logs): entries kept per account, and for how long.
        "ACCOUNT_LOG_MAX": int(env.get("UNIFIED_ACCOUNT_LOG_MAX", "1000")),
        "ACCOUNT_LOG_SECONDS": float(env.get("UNIFIED_ACCOUNT_LOG_SECONDS", str(7 * 24 * 3600))),
        "REFRESH_MARGIN": float(env.get("UNIFIED_REFRESH_MARGIN", "300")),
        "RATE_LIMIT_WAIT": float(env.get("UNIFIED_RATE_LIMIT_WAIT", "10")),
        "PUBLIC_URL": env.get("UNIFIED_PUBLIC_URL", "http://127.0.0.1:8000"),
        # Register the receiver with the helpdesk when an account connects (needs a reachable public URL).
        "WEBHOOKS_REGISTER": "UNIFIED_PUBLIC_URL" in env,
        "ALLOW_PRIVATE_WEBHOOKS": env.get("UNIFIED_ALLOW_PRIVATE_WEBHOOKS", "false").lower() == "true"
        or env.get("UNIFIED_ENV", "development") != "production",
        # A helpdesk server URL an account brings (self-hosted helpdesks) on a private network.
        "ALLOW_PRIVATE_UPSTREAMS": env.get("UNIFIED_ALLOW_PRIVATE_UPSTREAMS", "false").lower() == "true"
        or env.get("UNIFIED_ENV", "development") != "production",
        "WEBHOOK_BACKOFF_BASE": float(env.get("UNIFIED_WEBHOOK_BACKOFF", "1")),
        "WEBHOOK_MAX_AGE": float(env.get("UNIFIED_WEBHOOK_MAX_AGE", str(24 * 3600))),
        "WEBHOOK_TIMEOUT": float(env.get("UNIFIED_WEBHOOK_TIMEOUT", "10")),
        "WEBHOOK_LOCK_SECONDS": float(env.get("UNIFIED_WEBHOOK_LOCK_SECONDS", "30")),
    }


def check(config: dict) -> None:
    """Refuse to run in production on development secrets or a per-process Redis."""
    if config["ENV"] == "production":
        if not config["REDIS_URL"]:
            raise RuntimeError("REDIS_URL must be set in production (an embedded Redis is not shared between hosts)")
        if config["SECRET_KEY"] == DEV_SECRET:
            raise RuntimeError("UNIFIED_SECRET_KEY must be set in production")
        if config["ADMIN_TOKEN"] == DEV_ADMIN_TOKEN:
            raise RuntimeError("UNIFIED_ADMIN_TOKEN must be set in production")

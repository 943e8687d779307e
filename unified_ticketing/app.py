"""The Flask app factory: defaults, then the environment, then the caller's overrides."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import redis
from flask import Flask

from . import config as settings
from . import errors, observability
from .engine.custom_fields import load as load_custom_fields
from .engine.events import load_events
from .engine.executor import Engine
from .engine.loader import load_all
from .engine.overrides import Resolver
from .engine.upstream import Upstream
from .jsonio import OrjsonProvider
from .state import secrets, tenants
from .state.accounts import Account, Accounts
from .state.redis_server import connect as connect_redis
from .state.traversals import Traversals


@dataclass
class Services:
    """Everything a request needs, built once per app."""
    redis: redis.Redis
    fernet: object
    traversals: Traversals
    accounts: Accounts
    engines: dict[str, Engine] = field(default_factory=dict)
    events: dict = field(default_factory=dict)  # integration -> EventMapping
    embedded_redis: object = None
    probe: redis.Redis | None = None  # /readyz's client: answers within a probe's timeout even if Redis freezes
    overrides: Resolver | None = None  # each worker's compiled mapping overrides
    custom_fields: dict = field(default_factory=dict)  # integration -> {(resource, version): sources}

    def key_for(self, api_key: str) -> tenants.ApiKey | None:
        return tenants.key_for(self.redis, api_key)

    def engine_for(self, account: Account) -> Engine:
        """The engine of a stored account's helpdesk, with the account's mapping overrides."""
        engine = self.engines[account.integration]
        return engine.with_overrides(self.overrides.for_account(account.tenant, account.integration, account.id,
                                                                account.overrides_generation))


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config.update(settings.from_env())
    app.config.update(overrides or {})
    settings.check(app.config)

    embedded = None
    url = app.config["REDIS_URL"]
    if not url:
        from .state.redis_server import EmbeddedRedis

        embedded = EmbeddedRedis()
        url = embedded.url
    client = connect_redis(url, cluster=app.config["REDIS_CLUSTER"], timeout=app.config["REDIS_TIMEOUT"])
    secret = app.config["SECRET_KEY"]
    traversals = Traversals(client, secrets.signer(secret), app.config["CURSOR_TTL"])
    fernet = secrets.fernet(secret)
    svc = Services(redis=client, fernet=fernet, traversals=traversals, accounts=Accounts(client, fernet),
                   embedded_redis=embedded,
                   probe=connect_redis(url, cluster=app.config["REDIS_CLUSTER"], timeout=0.5, retries=0),
                   overrides=Resolver(client))
    for name, integration in load_all(app.config["MAPPINGS_DIR"]).items():
        upstream = Upstream(integration, app.config["UPSTREAM_ENV"], app.config["UPSTREAM_TIMEOUT"],
                            app.config["UPSTREAM_VERIFY_TLS"], redis=client, fernet=svc.fernet,
                            refresh_margin=app.config["REFRESH_MARGIN"], wait_budget=app.config["RATE_LIMIT_WAIT"],
                            public_only=not app.config["ALLOW_PRIVATE_UPSTREAMS"])
        svc.engines[name] = Engine(integration, upstream, traversals)
        events = load_events(Path(app.config["MAPPINGS_DIR"]) / name, integration.http_method)
        if events is not None:
            svc.events[name] = events
        svc.custom_fields[name] = load_custom_fields(Path(app.config["MAPPINGS_DIR"]) / name, integration.versions,
                                                     integration.http_method)
    app.extensions["unified"] = svc

    errors.init_app(app)
    observability.init_app(app)
    from .api import (
        account_logs,
        admin,
        capabilities,
        connect,
        connect_page,
        custom_fields,
        docs,
        export,
        health,
        integrated_accounts,
        limits,
        mapping_overrides,
        proxy,
        unified,
        webhooks,
    )

    limits.init_app(app)

    for bp in (admin.bp, integrated_accounts.bp, account_logs.bp, connect.bp, connect_page.bp, proxy.bp, webhooks.bp,
               export.bp, capabilities.bp, custom_fields.bp, unified.bp, mapping_overrides.bp, docs.bp, health.bp):
        app.register_blueprint(bp)
    return app

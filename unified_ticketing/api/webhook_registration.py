"""Registering this service's webhook receiver with a helpdesk, in the model its events.yaml names.

- Per account (`registration.scope: account`): each account registers its own URL and secret with
  its own credentials when it connects, and unregisters them when it is deleted.
- Per client (`scope: client`): the webhooks belong to the app's OAuth client. The operator
  registers one URL for the integration (`unified-ticketing webhooks register`) with the app
  developer's credentials; each connecting account enables them for its license with its own
  token, and joins the routing set of that license; the last account of a license disables them.

`Registrar` holds what this needs (the app's services and three settings), so the CLI uses it
without any Flask context.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from ..engine import writes
from ..errors import ApiError
from ..state import accounts
from ..state import webhooks as store
from ..state.accounts import Account

log = logging.getLogger(__name__)


class NotConfigured(Exception):
    pass


@dataclass
class Registrar:
    svc: object  # app.Services
    public_url: str  # PUBLIC_URL: where helpdesks reach the receiver
    env: dict  # UPSTREAM_ENV: the operator's credentials for per-client registrations
    register_on_connect: bool  # WEBHOOKS_REGISTER

    @classmethod
    def of(cls, app) -> Registrar:
        cfg = app.config
        return cls(app.extensions["unified"], cfg["PUBLIC_URL"], cfg["UPSTREAM_ENV"], cfg["WEBHOOKS_REGISTER"])

    def receiver_url(self, integration: str, account_id: str | None = None) -> str:
        base = f"{self.public_url}/webhooks/{integration}"
        return f"{base}/{account_id}" if account_id else base

    # --- accounts coming and going --------------------------------------------------------------
    def account_connected(self, engine, account: Account, mapping) -> dict | None:
        """What to note in the account's context about its webhooks (None: nothing to say)."""
        if mapping.per_client:
            return self._join_license(engine, account, mapping, self.register_on_connect)
        if not self.register_on_connect:
            return None
        try:
            return self.register_account_webhooks(engine, account, mapping)
        except ApiError as err:
            return {"webhooks": f"not registered: {err.message}; run 'unified-ticketing webhooks sync "
                    f"{account.id}'"}

    def _join_license(self, engine, account: Account, mapping, enable: bool) -> dict | None:
        license_id = account.context.get("license")
        if not license_id:
            return enable and {"webhooks": f"no events: {engine.integration.title} did not name this account's "
                               "license when it connected, so deliveries cannot be routed to it; reconnect the "
                               "account"} or None
        store.route_add(self.svc.redis, account.integration, license_id, account.id)
        if not enable:
            return None
        client_env = engine.integration.oauth.client_id_env if engine.integration.oauth else "the OAuth client id"
        if not engine.upstream.client_id:
            return {"webhooks": f"not enabled: set {client_env} (the app whose webhooks the license enables)"}
        try:
            writes.steps_run(engine, account, mapping.registration.enable, _bindings(engine, account.version))
        except ApiError as err:
            return {"webhooks": f"not enabled for license {license_id}: {err.message}; then run "
                    f"'unified-ticketing webhooks sync {account.id}'"}
        return {"webhooks": f"enabled for license {license_id}: events arrive at "
                f"{self.receiver_url(account.integration)}"}

    def account_removed(self, engine, account: Account, mapping) -> None:
        """Undo what connecting did; failures are only logged (the account goes anyway)."""
        if mapping is None:
            return
        if not mapping.per_client:
            if accounts.webhook_ids(account):
                self.unregister_account_webhooks(engine, account, mapping)
            return
        license_id = account.context.get("license")
        if not license_id:
            return
        remaining = store.route_remove(self.svc.redis, account.integration, license_id, account.id)
        if remaining or not self.register_on_connect or not engine.upstream.client_id:
            return
        try:
            writes.steps_run(engine, account, mapping.registration.disable, _bindings(engine, account.version))
        except ApiError as err:
            log.warning("could not disable webhooks on license %s: %s", license_id, err.message)

    # --- per account ------------------------------------------------------------------------------
    def register_account_webhooks(self, engine, account: Account, mapping) -> dict:
        """(Re-)register this service's receiver URL with the helpdesk for one account (the mapping's steps)."""
        reg = mapping.registration
        if reg is None:
            return {"webhooks": f"not registered: {engine.integration.title} webhooks are set up in the helpdesk"}
        if reg.needs_oauth_client and not engine.upstream.client_id:
            return {"webhooks": "not registered: set the OAuth client id to register webhooks"}
        self.unregister_account_webhooks(engine, account, mapping)
        secret = secrets.token_urlsafe(32)
        url = self.receiver_url(account.integration, account.id)
        run = writes.steps_run(engine, account, reg.register, _bindings(
            engine, account.version, secret=secret, url=url, actions=list(mapping.actions)))
        ids = run.eval(reg.ids)
        ids = [] if ids is None else ids if isinstance(ids, list) else [ids]
        self.svc.accounts.note_webhooks(account, secret, ids)
        return {"webhooks": f"registered {len(mapping.actions)} actions at {url}"}

    def unregister_account_webhooks(self, engine, account: Account, mapping) -> None:
        """Undo the registration (the mapping's unregister steps, once per kept id); failures are only logged."""
        ids = accounts.webhook_ids(account)
        reg = mapping.registration if mapping else None
        if not ids or reg is None:
            return
        for hook_id in ids:
            try:
                writes.steps_run(engine, account, reg.unregister, _bindings(
                    engine, account.version, id=hook_id, url=self.receiver_url(account.integration, account.id)))
            except ApiError as err:
                log.warning("could not unregister webhook %s: %s", hook_id, err.message)
        self.svc.accounts.forget_webhooks(account)

    def sync_account(self, engine, account: Account, mapping) -> str:
        """`webhooks sync <account>`: register it again (per account) or enable its license again (per client)."""
        if mapping.per_client:
            note = self._join_license(engine, account, mapping, enable=True)
        else:
            note = self.register_account_webhooks(engine, account, mapping)
        self.svc.accounts.set_info(account, {**account.context, **note})
        return note["webhooks"]

    # --- per client: the operator's commands ------------------------------------------------------
    def _operator(self, engine, mapping) -> tuple[Account, dict]:
        """The developer's account and the bindings every operator step gets; NotConfigured names what is missing."""
        reg = mapping.registration
        auth_type, creds, missing = reg.operator_credentials(self.env)
        oauth = engine.integration.oauth
        if not engine.upstream.client_id:
            missing.append(oauth.client_id_env if oauth else "the OAuth client id")
        if missing:
            raise NotConfigured(f"set {', '.join(missing)} to manage {engine.integration.title} webhooks (the app's "
                                "client id and its developer's credentials)")
        version = engine.integration.default_version
        account = Account(id=None, tenant="", version=version, auth_type=auth_type, credentials=creds,
                          integration=engine.integration.name)
        return account, _bindings(engine, version, url=self.receiver_url(engine.integration.name))

    def listed(self, engine, mapping) -> list[dict]:
        """The client's registered webhooks, each `{id, url, action, ours}`."""
        account, bindings = self._operator(engine, mapping)
        reg = mapping.registration
        run = writes.steps_run(engine, account, reg.list, {**bindings, "steps": {}})
        hooks = run.eval(reg.listed) or []
        return [{**h, "ours": h.get("url") == bindings["url"]} for h in hooks if isinstance(h, dict)]

    def register(self, engine, mapping) -> str:
        """Register the receiver for every mapped action, then drop older registrations of the same URL
        (registering first keeps deliveries flowing; retries of the overlap are deduplicated)."""
        reg = mapping.registration
        secret = self.env.get(reg.secret_env)
        if not secret:
            raise NotConfigured(f"set {reg.secret_env} (the secret {engine.integration.title} sends with each "
                                "webhook)")
        account, bindings = self._operator(engine, mapping)
        old = [h for h in self.listed(engine, mapping) if h["ours"]]
        writes.steps_run(engine, account, reg.register, {**bindings, "steps": {}, "secret": secret,
                                                         "actions": list(mapping.actions)})
        for hook in old:
            writes.steps_run(engine, account, reg.unregister, {**bindings, "id": hook["id"], "steps": {}})
        note = f"; replaced {len(old)} older registrations" if old else ""
        return (f"registered {len(mapping.actions)} actions ({', '.join(mapping.actions)}) for client "
                f"{engine.upstream.client_id} at {bindings['url']}{note}; {self._route_existing(engine)} accounts "
                "routed")

    def _route_existing(self, engine) -> int:
        """Put every stored account of the integration with a known license on its license's route (accounts
        connected before webhooks were registered per app); how many there are."""
        name, count = engine.integration.name, 0
        for tenant in self.svc.accounts.all_tenants():
            for account in self.svc.accounts.list_for(tenant):
                if account["integration"] == name and account["context"].get("license"):
                    store.route_add(self.svc.redis, name, account["context"]["license"], account["id"])
                    count += 1
        return count

    def unregister(self, engine, mapping) -> str:
        account, bindings = self._operator(engine, mapping)
        ours = [h for h in self.listed(engine, mapping) if h["ours"]]
        for hook in ours:
            writes.steps_run(engine, account, mapping.registration.unregister,
                             {**bindings, "id": hook["id"], "steps": {}})
        return f"unregistered {len(ours)} webhooks at {bindings['url']}"


def _bindings(engine, version: str, **extra) -> dict:
    return {"client_id": engine.upstream.client_id, "version": version, "steps": {}, **extra}

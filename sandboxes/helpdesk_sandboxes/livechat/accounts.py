"""LiveChat's accounts host (accounts.livechat.com), served on the sandbox's own port.

Authorize auto-approves (as the seeded license's owner unless `login_hint` names another agent).
Clients of type "pkce" get rotating refresh tokens: a used refresh token is dead. At most 25 live
access and 25 refresh tokens per client and account; the oldest go first.
"""
from __future__ import annotations

import base64
import hashlib
import math
import secrets
import time
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import jsonify, redirect, request

from .auth import ALL_SCOPES, AccessToken, RefreshToken, new_token
from .errors import LiveChatError

MAX_LIVE_TOKENS = 25
CODE_TTL = 600


def oauth_error(error: str, description: str, status: int = 400):
    return jsonify({"error": error, "error_description": description}), status


def _with_query(url: str, params: dict) -> str:
    parts = urlsplit(url)
    query = (parts.query + "&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def register_routes(app, sandbox) -> None:
    @app.get("/")
    def authorize():
        args = request.args
        if not args:
            return jsonify({"service": "LiveChat sandbox", "credentials": "/_sandbox/credentials"})
        reg = sandbox.registry
        client_id, redirect_uri = args.get("client_id"), args.get("redirect_uri")
        if client_id not in reg.clients:
            return oauth_error("invalid_client", "Unknown client_id")
        if not redirect_uri:
            return oauth_error("invalid_request", "redirect_uri is required")
        if args.get("response_type") != "code":
            return redirect(_with_query(redirect_uri, {"error": "unsupported_response_type",
                                                       "state": args.get("state", "")}))
        method = args.get("code_challenge_method", "plain" if args.get("code_challenge") else None)
        if method not in (None, "plain", "S256"):
            return oauth_error("invalid_request", "code_challenge_method must be S256 or plain")
        scopes = args.get("scope", "").replace(",", " ").split() or list(ALL_SCOPES)
        bad = [s for s in scopes if s not in ALL_SCOPES]
        if bad:
            return redirect(_with_query(redirect_uri, {"error": "invalid_scope", "state": args.get("state", "")}))
        hint = args.get("login_hint")
        account_id = next((a for a, e in reg.accounts.items() if e == hint), sandbox.account_id)
        code = secrets.token_urlsafe(24)
        with sandbox.store.lock:
            reg.codes[code] = {"client_id": client_id, "redirect_uri": redirect_uri, "scopes": scopes,
                               "challenge": args.get("code_challenge"), "method": method,
                               "account_id": account_id, "expires_at": time.time() + CODE_TTL}
        params = {"code": code}
        if "state" in args:
            params["state"] = args["state"]
        return redirect(_with_query(redirect_uri, params))

    @app.post("/v2/token")
    def token():
        form = request.form if request.form else (request.get_json(silent=True) or {})
        reg = sandbox.registry
        client = reg.clients.get(form.get("client_id"))
        if client is None or client["secret"] != form.get("client_secret"):
            return oauth_error("invalid_client", "Invalid client_id or client_secret", 401)
        grant = form.get("grant_type")
        with sandbox.store.lock:
            if grant == "authorization_code":
                return _code_grant(sandbox, form, client)
            if grant == "refresh_token":
                return _refresh_grant(sandbox, form, client)
        return oauth_error("unsupported_grant_type", "grant_type must be authorization_code or refresh_token")

    @app.get("/v2/info")
    def info():
        tok = _bearer(sandbox)
        if tok is None:
            return oauth_error("invalid_token", "Invalid or expired access token", 401)
        return jsonify(_token_info(sandbox, tok, include_refresh=False))

    @app.get("/v2/accounts/me")
    def account_me():
        """The Global Accounts API's account of the requester: a PAT (Basic, no scope needed) or an OAuth
        token with accounts--my:ro (docs: src/configs/redoc/global-accounts-api/spec.yml, /accounts/{id})."""
        with sandbox.store.lock:
            try:
                principal = sandbox.registry.principal(request.headers.get("Authorization"), time.time())
            except LiveChatError as err:
                return oauth_error("unauthorized", err.message, 401)
            if principal.client_id and "accounts--my:ro" not in principal.scopes:
                return oauth_error("access_denied", "The resource owner or authorization server denied the "
                                   "request.", 403)
            store = sandbox.store_of(principal)  # the requester's own license
            agent = store.agents[principal.agent_id]
            return jsonify({
                "account_id": principal.account_id, "name": agent["name"], "email": principal.agent_id,
                "email_verified": True, "default_product": "LiveChat",
                "default_organization_id": store.organization_id,
                "roles": [{"product": "LiveChat", "role": agent["role"], "type": "secondary"}],
            })

    @app.delete("/v2/token")
    def revoke():
        with sandbox.store.lock:
            tok = _bearer(sandbox)
            code = request.args.get("code") or (request.form.get("code") if request.form else None)
            if tok is None and code:
                tok = sandbox.registry.access.get(code)
                if tok is None and code in sandbox.registry.refresh:
                    sandbox.registry.refresh.pop(code)
                    sandbox.stats.bump("token_revocations")
                    return "", 204
            if tok is None:
                return oauth_error("invalid_token", "Invalid or expired access token", 401)
            sandbox.registry.access.pop(tok.token, None)
            if tok.refresh_token:
                sandbox.registry.refresh.pop(tok.refresh_token, None)
            sandbox.stats.bump("token_revocations")
        return "", 204


def _bearer(sandbox):
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    tok = sandbox.registry.access.get(header[7:].strip())
    return tok if tok and tok.expires_at > time.time() else None


def _code_grant(sandbox, form, client):
    reg = sandbox.registry
    grant = reg.codes.pop(form.get("code", ""), None)
    if grant is None or grant["expires_at"] < time.time():
        return oauth_error("invalid_grant", "Authorization code is invalid, expired or already used")
    if grant["client_id"] != form.get("client_id") or grant["redirect_uri"] != form.get("redirect_uri"):
        return oauth_error("invalid_grant", "redirect_uri or client_id does not match the authorization request")
    if grant["challenge"]:
        verifier = form.get("code_verifier", "")
        expected = verifier if grant["method"] == "plain" else (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("="))
        if not verifier or not secrets.compare_digest(expected, grant["challenge"]):
            return oauth_error("invalid_grant", "code_verifier does not match code_challenge")
    sandbox.stats.bump("token_grants", "authorization_code")
    return jsonify(_issue(sandbox, grant["account_id"], form["client_id"], grant["scopes"], refresh=None))


def _refresh_grant(sandbox, form, client):
    reg = sandbox.registry
    old = reg.refresh.get(form.get("refresh_token", ""))
    if old is None or old.client_id != form.get("client_id"):
        return oauth_error("invalid_grant", "Refresh token is invalid, expired, revoked or already used")
    if client["rotating"]:
        reg.refresh.pop(old.token)
        keep = None
    else:
        keep = old.token
    sandbox.stats.bump("token_grants", "refresh_token")
    return jsonify(_issue(sandbox, old.account_id, old.client_id, old.scopes, refresh=keep))


def _issue(sandbox, account_id: str, client_id: str, scopes: list[str], refresh: str | None) -> dict:
    reg = sandbox.registry
    now = time.time()
    if refresh is None:
        refresh = new_token(None)
        reg.refresh[refresh] = RefreshToken(refresh, account_id, client_id, scopes, now)
    tok = AccessToken(new_token(sandbox.region), account_id, client_id, scopes, now + sandbox.knobs.token_ttl,
                      refresh)
    reg.access[tok.token] = tok
    _evict_oldest(reg.access, account_id, client_id)
    _evict_oldest(reg.refresh, account_id, client_id)
    out = _token_info(sandbox, tok, include_refresh=True)
    out["expires_in"] = math.ceil(sandbox.knobs.token_ttl)  # the full lifetime, not one second less
    return out


def _evict_oldest(tokens: dict, account_id: str, client_id: str) -> None:
    mine = [k for k, t in tokens.items() if t.account_id == account_id and t.client_id == client_id]
    for k in mine[: max(0, len(mine) - MAX_LIVE_TOKENS)]:  # dicts keep insertion order: oldest first
        tokens.pop(k)


def _token_info(sandbox, tok: AccessToken, include_refresh: bool) -> dict:
    out = {
        "access_token": tok.token, "account_id": tok.account_id, "client_id": tok.client_id,
        "expires_in": max(0, int(tok.expires_at - time.time())),
        "organization_id": sandbox.registry.licenses.get(tok.account_id, sandbox.store.organization_id),
        "scope": ",".join(tok.scopes), "token_type": "Bearer",
    }
    if include_refresh:
        out["refresh_token"] = tok.refresh_token
        out.pop("client_id")
    return out

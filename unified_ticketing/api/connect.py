"""OAuth connect: `/connect/<integration>` sends the user to the helpdesk's authorize page (state +
PKCE); `/oauth/<integration>/callback` exchanges the code and creates the integrated account.

A tenant starts the flow with its API key, or hands its end user a short-lived signed link made
by `POST /link-tokens` (so the API key never reaches a browser): the link opens the connect page
(`connect_page.py`), which offers this flow and a form for token credentials.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import time
from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, request

from ..errors import ApiError, bad_request
from ..state import oauth_flows
from ..state.secrets import seal, signer, unseal
from ..urls import http_url
from .common import load_body, require_tenant, services, unlimited_key, writing_key
from .integrated_accounts import connect, engine_for

bp = Blueprint("connect", __name__)
LINK_TTL = 3600


def _link_signer():
    return signer(current_app.config["SECRET_KEY"] + ":links")


def _sign_link(payload: dict) -> str:
    return seal(_link_signer(), payload)


def open_link(token: str) -> dict:
    data = unseal(_link_signer(), token)
    if not data:
        raise ApiError(401, "unauthorized", "link_token is not valid; create a new one with POST /link-tokens")
    if data["exp"] < time.time():
        raise ApiError(401, "unauthorized", "link_token has expired; create a new one with POST /link-tokens")
    return data


def checked_redirect(value: str | None) -> str:
    """Checked here, before the flow starts: a URL the callback could not redirect to (CRLF, spaces, a bad
    host) would fail only after the account was created."""
    value = value or ""
    base = value.split("#", 1)[0].split("?", 1)[0]
    if not value.isascii() or not value.isprintable() or " " in value or http_url(base) is None:
        raise bad_request("redirect_uri must be an absolute http(s) URL to send the user back to (printable "
                          "ASCII, no spaces; percent-encode anything else)", "redirect_uri")
    return value


@bp.post("/link-tokens")
def create_link_token():
    from ..schemas.requests import LinkTokenCreate

    tenant = require_tenant()
    unlimited_key("connect new accounts")
    body = load_body(LinkTokenCreate())
    if body.get("integration"):
        engine_for(body["integration"])  # a 400 naming the known ones
    expires = int(time.time()) + body.get("expires_in", LINK_TTL)
    payload = {"t": tenant, "i": body.get("integration"), "exp": expires}
    if body.get("redirect_uri"):
        payload["r"] = checked_redirect(body["redirect_uri"])
    token = _sign_link(payload)
    url = f"{current_app.config['PUBLIC_URL']}/connect?" + urlencode({"link_token": token})
    expires_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
    return {"link_token": token, "url": url, "expires_at": expires_at}, 201


def link_integrations(link: dict) -> list[str]:
    """The integrations a link lets its holder connect: the one it names, or every one."""
    return [link["i"]] if link.get("i") else sorted(services().engines)


@bp.get("/connect/<integration>")
def start(integration: str):
    if request.args.get("link_token"):
        link = open_link(request.args["link_token"])
        if link.get("i") and link["i"] != integration:
            raise bad_request(f"this link is for {link['i']}, not {integration}", "link_token")
        tenant, redirect_to = link["t"], link.get("r")
    else:
        tenant = require_tenant()
        unlimited_key("connect new accounts")
        writing_key("connect accounts")  # a GET that ends in a new account
        redirect_to = None
    engine = engine_for(integration)
    oauth = engine.integration.oauth
    if oauth is None:
        raise bad_request(f"{engine.integration.title} does not connect through OAuth; connect its accounts with "
                          "POST /integrated-accounts and their credentials", "integration")
    if not engine.upstream.client_id:
        raise ApiError(503, "oauth_not_configured", f"Set {oauth.client_id_env} and {oauth.client_secret_env} to "
                       f"connect {engine.integration.title} accounts through OAuth")
    version = request.args.get("api_version") or engine.integration.default_version
    if version not in engine.integration.versions:
        raise bad_request(f"api_version: {engine.integration.title} supports {', '.join(engine.integration.versions)}",
                          "api_version")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    state = oauth_flows.begin(services().redis, {
        "tenant": tenant, "integration": integration,
        "redirect_uri": checked_redirect(redirect_to or request.args.get("redirect_uri")), "verifier": verifier,
        "api_version": version, "client_state": request.args.get("state")})
    query = {"response_type": "code", "client_id": engine.upstream.client_id, "redirect_uri": _callback(integration),
             "state": state, "code_challenge": challenge, "code_challenge_method": "S256"}
    return redirect(f"{engine.upstream.accounts_url}{oauth.authorize_path}?{urlencode(query)}")


def _callback(integration: str) -> str:
    return f"{current_app.config['PUBLIC_URL']}/oauth/{integration}/callback"


@bp.get("/oauth/<integration>/callback")
def callback(integration: str):
    flow = oauth_flows.finish(services().redis, request.args.get("state", ""))
    if flow is None or flow["integration"] != integration:
        raise bad_request("state is unknown, expired or already used; start again at /connect/" + integration,
                          "state")
    back = {"state": flow["client_state"]} if flow.get("client_state") else {}
    if request.args.get("error"):
        return redirect(with_params(flow["redirect_uri"], {**back, "error": request.args["error"]}))
    code = request.args.get("code")
    if not code:
        raise bad_request("code is missing from the callback", "code")
    engine = engine_for(integration)
    answer = engine.upstream.exchange_code(code, _callback(integration), flow["verifier"])
    creds = {"access_token": answer["access_token"], "refresh_token": answer.get("refresh_token"),
             "expires_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                                         time.gmtime(time.time() + float(answer.get("expires_in", 3600))))}
    license_field = engine.integration.oauth.license_field
    info = {"license": answer[license_field]} if license_field and answer.get(license_field) else {}
    account = connect(flow["tenant"], engine, flow["api_version"], "oauth2", creds, info)
    return redirect(with_params(flow["redirect_uri"], {**back, "integrated_account_id": account["id"]}))


def with_params(url: str, params: dict) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)

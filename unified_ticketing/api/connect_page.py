"""The connect page an end user opens from a link (`GET /connect?link_token=...`).

It lists the integrations the link allows: OAuth ones link to `/connect/<integration>`, token ones
get a form built from the integration file's auth fields (`label`, `form`: label, help, secret).
The form works without JavaScript: it posts to `POST /connect/<integration>`, which creates the
account through the same `connect()` as `POST /integrated-accounts` and answers the page again
with each error next to its field, or sends the user to `redirect_uri` with
`integrated_account_id`. The link token rides in the form: it is the CSRF token (signed, short
lived, this tenant's only). When the page is framed or opened as a popup, `connect.js` asks for an
`embedded` answer instead, which `postMessage`s the account id to the redirect_uri's origin.

These are pages for people, so their errors are HTML pages, not the API's JSON.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request

from ..errors import ApiError
from .connect import checked_redirect, link_integrations, open_link, with_params
from .integrated_accounts import connect, engine_for

bp = Blueprint("connect_page", __name__)
FORM_AUTH = "oauth2"  # connected through the OAuth flow, never a form asking for tokens
UNREACHABLE = {"upstream_unreachable", "upstream_timeout"}
NOBODY = "'none'"


class _Link:
    """What the page needs from the request: the link, where to send the user back, the caller's state."""

    def __init__(self, values):
        self.token = values.get("link_token", "")
        self.data = open_link(self.token)
        g.tenant = self.data["t"]  # for the access log
        given = self.data.get("r") or values.get("redirect_uri")
        self.redirect_uri = checked_redirect(given) if given else None
        self.state = values.get("state") or None
        self.integrations = link_integrations(self.data)

    @property
    def origin(self) -> str | None:
        if not self.redirect_uri:
            return None
        parts = urlsplit(self.redirect_uri)
        return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}".lower()  # no user:password@


@bp.get("/connect")
def page():
    try:
        link = _Link(request.args)
        return _render_page(link, {}, 200)
    except ApiError as err:
        return _problem(err)


@bp.post("/connect/<integration>")
def submit(integration: str):
    try:
        link = _Link(request.form)
        if integration not in link.integrations:
            raise ApiError(400, "invalid_request", f"This link does not connect {integration}")
        engine = engine_for(integration)
        auth_type = request.form.get("auth_type", "")
        style = engine.integration.auth.get(auth_type)
        if style is None or auth_type == FORM_AUTH:
            raise ApiError(400, "invalid_request", f"{engine.integration.title} has no form for '{auth_type}'")
    except ApiError as err:
        return _problem(err)
    values = {name: request.form.get(f"credentials.{name}", "").strip() for name in style.fields}
    errors = {name: f"Enter the {_label(style, name)}" for name in style.fields
              if not values[name] and name not in style.optional}
    if not errors:
        creds = {name: value for name, value in values.items() if value}
        try:
            account = connect(link.data["t"], engine, None, auth_type, creds, info={})
        except ApiError as err:
            errors = {_field_of(err, engine.integration, style): err.message}
        else:
            return _connected(link, account["id"], engine.integration.title)
    submitted = {"integration": integration, "auth_type": auth_type, "errors": errors,
                 "values": {n: v for n, v in values.items() if not style.form.get(n, {}).get("secret")}}
    return _render_page(link, submitted, 422)


def _field_of(err: ApiError, integration, style) -> str:
    """The field an error is about: the one it names, the server URL when the server is unreachable, the
    secret when the helpdesk refused the credentials; "" (the whole form) otherwise."""
    named = (err.param or "").removeprefix("credentials.")
    if named in style.fields:
        return named
    server = integration.base_url.credential
    if err.type in UNREACHABLE and server in style.fields:
        return server
    if err.param == "credentials":
        secrets = [n for n in style.fields if style.form.get(n, {}).get("secret")]
        return secrets[0] if secrets else style.fields[-1]
    return ""


def _label(style, name: str) -> str:
    return style.form.get(name, {}).get("label") or name.replace("_", " ")


def _render_page(link: _Link, submitted: dict, status: int):
    integrations = [_integration_view(engine_for(name), link, submitted) for name in link.integrations]
    where = f"{submitted.get('integration')}-{submitted.get('auth_type')}"
    errors = [(f"{where}-{name or 'form-error'}", message) for name, message in submitted.get("errors", {}).items()]
    field_error = any(f["autofocus"] for i in integrations for form in i["forms"] for f in form["fields"])
    html = render_template("connect.html", link=link, integrations=integrations, errors=errors,
                           focus_summary=bool(errors) and not field_error)
    return html, status, _headers(link)


def _integration_view(engine, link: _Link, submitted: dict) -> dict:
    integration = engine.integration
    oauth_url = None
    if integration.oauth is not None and engine.upstream.client_id:
        oauth_url = with_params(f"/connect/{integration.name}", {
            k: v for k, v in {"link_token": link.token, "redirect_uri": link.redirect_uri, "state": link.state}.items()
            if v})
    forms = []
    for auth_type, style in integration.auth.items():
        if auth_type == FORM_AUTH:
            continue
        mine = submitted.get("integration") == integration.name and submitted.get("auth_type") == auth_type
        errors, values = (submitted["errors"], submitted["values"]) if mine else ({}, {})
        first_error = next((n for n in style.fields if n in errors), None)
        fields = [{
            "name": name, "id": f"{integration.name}-{auth_type}-{name}", "label": _label(style, name),
            "help": style.form.get(name, {}).get("help"), "secret": bool(style.form.get(name, {}).get("secret")),
            "url": name == integration.base_url.credential, "optional": name in style.optional,
            "value": values.get(name, ""), "error": errors.get(name), "autofocus": name == first_error,
        } for name in style.fields]
        forms.append({"auth_type": auth_type, "label": style.label or auth_type.replace("_", " ").capitalize(),
                      "fields": fields, "error": errors.get("")})
    return {"name": integration.name, "title": integration.title, "oauth_url": oauth_url, "forms": forms}


def _connected(link: _Link, account_id: str, title: str):
    back = {"state": link.state} if link.state else {}
    if link.redirect_uri and request.form.get("embedded") != "1":
        return redirect(with_params(link.redirect_uri, {**back, "integrated_account_id": account_id}), 303)
    html = render_template("connected.html", title=title, account_id=account_id, origin=link.origin,
                           state=link.state or "")
    return html, 200, _headers(link)


def _problem(err: ApiError):
    return render_template("connect_problem.html", message=err.message), err.status, _headers(None)


def _headers(link: _Link | None) -> dict:
    """No origin but ours and the app's: the form may post (and be redirected) to the app, and only the app
    may frame the page. The link token is in the URL: no Referer, no cache."""
    app = link.origin if link else None
    policy = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; "
              f"form-action 'self'{' ' + app if app else ''}; frame-ancestors {app or NOBODY}")
    return {"Content-Security-Policy": policy, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"}

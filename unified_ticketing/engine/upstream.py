"""Calls to a helpdesk's API, as its integration file describes them: URL, auth headers, and how
an error is recognized. One pooled HTTP session per integration, reused across requests."""
from __future__ import annotations

import logging
import os

import requests

from ..errors import ApiError
from .loader import Integration

log = logging.getLogger(__name__)


class Upstream:
    def __init__(self, integration: Integration, base_url: str | None, timeout: float, verify: bool):
        self.integration = integration
        base_url = base_url or os.environ.get(integration.base_url_env) or integration.base_url_default
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.verify = verify
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def headers(self, auth_type: str, credentials: dict) -> dict:
        style = self.integration.auth.get(auth_type)
        if style is None:
            raise ApiError(400, "invalid_request", f"{self.integration.title} does not accept {auth_type} credentials")
        headers = {name: expr(credentials) for name, expr in style.headers.items()}
        for value in headers.values():
            if not isinstance(value, str) or not value.isascii():
                raise ApiError(422, "invalid_credentials", "The credentials hold characters that cannot be sent in an "
                               "HTTP header; check that the token was copied whole", param="credentials")
        return headers

    def call(self, version: str, auth_type: str, credentials: dict, api: str, action: str, body: dict,
             *, idempotent: bool = True, files: dict | None = None) -> dict:
        """One upstream method call; returns the decoded body or raises ApiError.

        `idempotent=False` marks a write: it is never retried blindly. `files` sends multipart
        form data (`{"file": (name, fileobj, content_type)}`) instead of a JSON body.
        """
        url = self.base_url + self.integration.path.format(version=version, api=api, action=action)
        title = self.integration.title
        payload = {"files": files, "data": body} if files else {"json": body}
        try:
            resp = self.session.request(self.integration.http_method, url, timeout=self.timeout,
                                        headers=self.headers(auth_type, credentials), verify=self.verify, **payload)
        except requests.Timeout:
            raise ApiError(504, "upstream_timeout", f"{title} did not answer {action} in {self.timeout:g} s") from None
        except requests.ConnectionError as exc:
            log.warning("%s unreachable at %s: %s", title, self.base_url, exc)
            raise ApiError(502, "upstream_unreachable", f"{title} could not be reached at {self.base_url}") from None
        try:
            data = resp.json()
        except ValueError:
            raise ApiError(502, "upstream_error", f"{title} answered {action} with HTTP {resp.status_code} and a body "
                           "that is not JSON", remote={"status": resp.status_code}) from None
        policy = self.integration.errors
        if resp.status_code >= 400 or (isinstance(data, dict) and policy.detect(data)):
            raise self._error(action, resp, data)
        return data

    def _error(self, action: str, resp, data) -> ApiError:
        policy, title = self.integration.errors, self.integration.title
        err_type = policy.type(data) if isinstance(data, dict) else None
        message = policy.message(data) if isinstance(data, dict) else None
        status = policy.statuses.get(err_type, 502)
        remote = {"status": resp.status_code, "type": err_type, "message": message}
        headers = {}
        if status == 429:
            headers["Retry-After"] = resp.headers.get("Retry-After", "1")
            text = f"{title} rate limit reached; retry after {headers['Retry-After']} s"
        elif status == 401:
            text = f"{title} rejected the account's credentials ({message}); reconnect the integrated account"
        elif status == 403:
            text = f"The {title} account may not call {action} ({message}); grant the missing scope and reconnect"
        else:
            text = f"{title} answered {action} with {err_type or 'HTTP ' + str(resp.status_code)}: {message}"
        return ApiError(status, f"upstream_{err_type}" if err_type else "upstream_error", text, remote=remote,
                        headers=headers)

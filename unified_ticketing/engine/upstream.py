"""Calls to a helpdesk's API, as its integration file describes them: URL, auth headers, how an
error, a rate limit and a dead token are recognized, and which failures may be retried.

One keep-alive HTTP session per upstream origin (`sessions.py`). Every call is for an `Account`
the request loaded once (credentials, status, rate-limit scope) and is described by one `Attempt`.
Around it: the shared rate limiter (cooldown and token bucket in Redis), fresh OAuth credentials
(refreshed ahead of expiry, and once more on an authentication error, into the same Account), and
tenacity retries with exponential backoff and jitter. A write (`idempotent=False`) is retried only
when the upstream cannot have processed it.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from urllib.parse import urlunsplit

import requests
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential_jitter
from urllib3.exceptions import NewConnectionError

from .. import jsonio, observability
from ..errors import ApiError
from ..state.accounts import Account, Accounts
from ..state.ratelimit import RateLimiter
from ..state.tokens import InvalidGrant, TokenKeeper
from ..urls import http_url, origin
from .calls import Prepared
from .loader import Integration
from .sessions import Sessions, verify_setting

log = logging.getLogger(__name__)
BODY_READ = 1 << 20  # bytes: an answer of a known length is read in one piece up to this size
MAX_WAIT = 300.0  # seconds: the longest cooldown an upstream's rate-limit answer can impose
REJECTED = "credentials_rejected"  # an account status: the helpdesk answered 401 to its last call


class TransportError(ApiError):
    """No usable answer. `sent` says whether the request may have reached the upstream."""

    def __init__(self, status: int, type_: str, message: str, sent: bool):
        super().__init__(status, type_, message)
        self.sent = sent


@dataclass
class Attempt:
    """One upstream call through its tries: what to send, for which account, and what the tries learn."""
    method: str
    path: str
    action: str  # the mapping's name for the call (messages, metrics)
    payload: dict  # requests' keyword arguments: params, json, data, files
    account: Account
    idempotent: bool = True
    passthrough: bool = False  # the proxy: upstream errors are answered as they are, not raised
    extra_headers: dict = field(default_factory=dict)
    base_url: str | None = None  # elsewhere than the account's API (the identity host)
    credentials: dict = field(default_factory=dict)  # as sent: refreshed ones after a reauth error
    scope: str = ""  # the rate-limit scope
    refreshed: bool = False
    cooldown_ms: int | None = None  # read with the account (still fresh): used by the first try only

    @property
    def metric(self) -> str:
        return "proxy" if self.passthrough else self.action  # a proxy path is the caller's text: not a label


class Upstream:
    def __init__(self, integration: Integration, env: dict, timeout: float, verify: bool, redis=None, fernet=None,
                 refresh_margin: float = 300, wait_budget: float = 10, public_only: bool = False):
        self.integration = integration
        base = integration.base_url
        self.base_url = (env.get(base.env) or base.default).rstrip("/") if base.env else None
        self.timeout = timeout
        self.verify = verify_setting(verify)
        self.refresh_margin = refresh_margin
        # An account's own server (a URL the tenant chose) is reached only at public addresses, checked on
        # every connection (`public_only`: production without UNIFIED_ALLOW_PRIVATE_UPSTREAMS).
        self.sessions = Sessions(guarded=public_only and base.credential is not None)
        self.accounts = Accounts(redis, fernet) if redis is not None else None
        self.keeper = TokenKeeper(redis, fernet) if redis is not None else None
        self.limiter = RateLimiter(redis, wait_budget) if redis is not None else None
        rl = integration.rate_limit
        self.rate = float(rl.requests_per_second.value(env)) if rl else 0.0
        self.burst = float(rl.burst.value(env)) if rl else 0.0
        oauth = integration.oauth
        self.accounts_url = oauth.accounts_url.value(env).rstrip("/") if oauth else None
        self.client_id = env.get(oauth.client_id_env) if oauth else None
        self.client_secret = env.get(oauth.client_secret_env) if oauth else None
        files = integration.files
        named = (files.origins.value(env) if files.origins else "").replace(",", " ").split()
        self.file_hosts = {origin(o) for o in named} - {None}  # where downloads may go, besides the API server
        identity = integration.identity
        self.identity_url = identity.base_url.value(env).rstrip("/") if identity and identity.base_url else None

    # --- credentials ----------------------------------------------------------------------------
    def base_url_for(self, credentials: dict) -> str:
        """The API's base URL for an account: the integration's, or the account's own server."""
        if self.base_url is not None:
            return self.base_url
        field = self.integration.base_url.credential
        url = credentials.get(field)
        parts = http_url(url)
        if parts is None or parts.query or parts.fragment:
            raise ApiError(400, "invalid_credentials", f"credentials.{field} must be the http(s) URL of the "
                           f"{self.integration.title} server, such as https://chat.example.com (no user, query or "
                           f"fragment); got {url!r}", param=f"credentials.{field}")
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))

    def headers(self, auth_type: str, credentials: dict) -> dict:
        style = self.integration.auth.get(auth_type)
        if style is None:
            raise ApiError(400, "invalid_request", f"{self.integration.title} does not accept {auth_type} credentials")
        headers = {name: expr(credentials) for name, expr in style.headers.items()}
        headers = {name: value for name, value in headers.items() if value is not None}  # nothing: not sent
        for value in headers.values():
            if not isinstance(value, str) or not value.isascii() or not value.isprintable() or value != value.strip():
                raise ApiError(422, "invalid_credentials", "The credentials hold characters that cannot be sent in an "
                               "HTTP header (non-ASCII, line breaks, or spaces at either end); check that the token "
                               "was copied whole and nothing else", param="credentials")
        return headers

    def _prepare(self, attempt: Attempt) -> None:
        """The credentials to send (fresh for a stored OAuth account) and the rate-limit scope."""
        account = attempt.account
        if account.id is None or self.keeper is None:  # connecting: scoped to the server being checked
            attempt.credentials = account.credentials
            attempt.scope = f"{self.integration.name}:unbound:{self.base_url_for(account.credentials)}"
            return
        attempt.scope = account.rate_scope
        attempt.cooldown_ms = account.cooldown_left_ms()
        if account.auth_type == "oauth2":
            attempt.credentials = self.keeper.current(account, self.refresh_margin, self.refresh_tokens)
        else:
            attempt.credentials = account.credentials

    def _note_credentials(self, account: Account, rejected: bool) -> None:
        """Show on the account whether the helpdesk last rejected its credentials (a revoked token), so
        `GET /integrated-accounts` tells before the next call does; cleared by the next accepted call."""
        if account.id is None or self.accounts is None or account.status not in ("active", REJECTED):
            return
        wanted = REJECTED if rejected else "active"
        if account.status != wanted:
            self.accounts.set_status(account, wanted)
            log.warning("%s credentials of account %s: %s", self.integration.name, account.id, wanted)

    def refresh_tokens(self, credentials: dict) -> dict:
        """The OAuth refresh_token grant at the accounts host."""
        if not (self.accounts_url and self.client_id and self.client_secret):
            raise ApiError(502, "oauth_not_configured", f"Cannot refresh {self.integration.title} tokens: set "
                           f"{self.integration.oauth.client_id_env} and {self.integration.oauth.client_secret_env}")
        try:
            resp = self.session_for(self.accounts_url).post(
                self.accounts_url + self.integration.oauth.token_path, timeout=self.timeout, verify=self.verify,
                data={"grant_type": "refresh_token", "refresh_token": credentials["refresh_token"],
                      "client_id": self.client_id, "client_secret": self.client_secret})
            answer = resp.json()
        except (requests.RequestException, ValueError):
            raise ApiError(502, "token_refresh_failed", f"{self.integration.title}'s accounts host did not answer "
                           "the token refresh; retry later") from None
        if resp.status_code == 200 and answer.get("access_token"):
            log.info("refreshed an OAuth token for %s", self.integration.name)
            return answer
        if answer.get("error") == "invalid_grant":
            raise InvalidGrant(answer.get("error_description"))
        raise ApiError(502, "token_refresh_failed", f"{self.integration.title} refused the token refresh: "
                       f"{answer.get('error')}: {answer.get('error_description')}")

    def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> dict:
        """The OAuth authorization_code grant (with the PKCE verifier)."""
        oauth = self.integration.oauth
        try:
            resp = self.session_for(self.accounts_url).post(
                self.accounts_url + oauth.token_path, timeout=self.timeout, verify=self.verify,
                data={"grant_type": "authorization_code", "code": code, "client_id": self.client_id,
                      "client_secret": self.client_secret, "redirect_uri": redirect_uri, "code_verifier": verifier})
            answer = resp.json()
        except (requests.RequestException, ValueError):
            raise ApiError(502, "token_exchange_failed", f"{self.integration.title}'s accounts host did not answer "
                           "the code exchange; start the connection again") from None
        if resp.status_code != 200 or not answer.get("access_token"):
            raise ApiError(400, "token_exchange_failed", f"{self.integration.title} refused the authorization code "
                           f"({answer.get('error')}: {answer.get('error_description')}); start the connection again")
        return answer

    # --- calls --------------------------------------------------------------------------------
    def call(self, account: Account, request: Prepared, *, idempotent: bool = True, files: dict | None = None,
             base_url: str | None = None) -> dict:
        """One upstream request for `account`; returns the decoded body or raises ApiError.

        `idempotent=False` marks a write: it is retried only when the upstream cannot have
        processed it. `files` sends multipart form data (`{"file": (name, fileobj, content_type)}`)
        with the body's fields as form fields. `base_url` sends it elsewhere than the account's API.
        """
        payload: dict = {"params": request.params} if request.params else {}
        if files:
            payload.update(files=files, data=request.body or {})
        elif request.body is not None:
            payload["json"] = request.body
        _, data = self.send(Attempt(request.method, request.path, request.name, payload, account,
                                    idempotent=idempotent, base_url=base_url))
        return data

    def send(self, attempt: Attempt):
        """(response, decoded body) of the attempt, after pacing, refresh and retries; a `passthrough`
        attempt returns upstream errors as responses instead of raising them (the proxy)."""
        self._prepare(attempt)
        policy = self.integration.retry
        retrying = Retrying(
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_seconds),
            wait=wait_exponential_jitter(multiplier=policy.initial_wait, max=policy.max_wait,
                                         jitter=policy.initial_wait),
            retry=retry_if_exception(lambda exc: self._retryable(exc, attempt.idempotent)), reraise=True,
            before_sleep=lambda rs: log.warning("retrying %s after %s", attempt.action, rs.outcome.exception()))
        for tried in retrying:
            with tried:
                return self._try(attempt)
        raise AssertionError("unreachable")

    def _try(self, attempt: Attempt):
        errors, account = self.integration.errors, attempt.account
        while True:
            if self.limiter is not None:
                read = self.limiter.acquire(attempt.scope, self.rate, self.burst, cooldown_ms=attempt.cooldown_ms)
                if read is not None:  # the account's next calls share this read for a moment
                    account.cooldown_ms, account.cooldown_read_at = read, time.monotonic()
                attempt.cooldown_ms = None
            started = time.perf_counter()
            try:
                resp, data = self._once(attempt)
            except TransportError as exc:
                observability.upstream_call(self.integration.name, attempt.metric, exc.type, started, {exc.type})
                raise
            err = self._error(attempt.action, resp, data)
            observability.upstream_call(self.integration.name, attempt.metric,
                                        err and ((err.remote or {}).get("type") or err.type), started,
                                        errors.statuses.keys() | {err.type} if err else (), resp.status_code)
            if err is None:
                self._note_credentials(account, rejected=False)
                return resp, data
            err_type = (err.remote or {}).get("type")
            if (err_type in errors.reauth_types and account.auth_type == "oauth2" and account.id and self.keeper
                    and not attempt.refreshed):
                attempt.refreshed = True
                account.credentials = self.keeper.refresh(account.id, attempt.credentials, self.refresh_tokens)
                attempt.credentials = account.credentials
                continue
            if err.status == 401:
                self._note_credentials(account, rejected=True)
            if err.status == 429 and self.limiter is not None:
                self.limiter.cool_down(attempt.scope, float(err.headers["Retry-After"]))
                account.cooldown_ms = None  # what was read with the account no longer holds
            if attempt.passthrough and not self._retryable(err, idempotent=False):
                return resp, data
            raise err

    def session_for(self, url: str) -> requests.Session:
        return self.sessions.for_url(url)

    def close(self) -> None:
        """Close every pooled connection."""
        self.sessions.close()

    def _once(self, attempt: Attempt):
        payload, credentials = attempt.payload, attempt.credentials
        for f in (payload.get("files") or {}).values():
            if hasattr(f[1], "seek"):
                f[1].seek(0)
        title = self.integration.title
        base_url = attempt.base_url or self.base_url_for(credentials)
        url = base_url + attempt.path
        headers = {**attempt.extra_headers, **self.headers(attempt.account.auth_type, credentials)}
        if observability.request_id():  # for correlation in the upstream's (and any proxy's) logs
            headers[observability.REQUEST_ID_HEADER] = observability.request_id()
        try:
            resp = self.sessions.for_url(base_url).request(attempt.method, url, timeout=self.timeout,
                                                           verify=self.verify, allow_redirects=False,
                                                           headers=headers, stream=True, **payload)
            resp._content = _read_body(resp)  # what `resp.content` reads, in fewer pieces
        except requests.ConnectTimeout:
            raise TransportError(504, "upstream_timeout", f"{title} did not accept a connection in "
                                 f"{self.timeout:g} s", sent=False) from None
        except requests.Timeout:
            raise TransportError(504, "upstream_timeout", f"{title} did not answer {attempt.action} in "
                                 f"{self.timeout:g} s; the outcome is unknown", sent=True) from None
        except requests.ConnectionError as exc:
            sent = not _refused(exc)
            log.warning("%s unreachable at %s: %s", title, base_url, exc)
            raise TransportError(502, "upstream_unreachable", f"{title} could not be reached at {base_url}",
                                 sent=sent) from None
        try:
            data = jsonio.loads(resp.content) if resp.content else {}
        except ValueError:
            data = None
        return resp, data

    def _error(self, action: str, resp, data) -> ApiError | None:
        policy, title = self.integration.errors, self.integration.title
        detected = isinstance(data, dict) and policy.detect(data, status=resp.status_code)
        if resp.status_code < 300 and data is not None and not detected:
            return None
        if 300 <= resp.status_code < 400:  # redirects are not followed (they could lead anywhere)
            return ApiError(502, "upstream_redirect", f"{title} answered {action} with a redirect (HTTP "
                            f"{resp.status_code}) to {resp.headers.get('Location')!r}, which is not followed; check "
                            "the server URL", remote={"status": resp.status_code})
        if data is None:
            return ApiError(502, "upstream_error", f"{title} answered {action} with HTTP {resp.status_code} and a "
                            "body that is not JSON", remote={"status": resp.status_code})
        err_type = policy.type(data, status=resp.status_code) if isinstance(data, dict) else None
        message = policy.message(data, status=resp.status_code) if isinstance(data, dict) else None
        status = policy.statuses.get(err_type, 502)
        if resp.status_code == 429 or err_type in policy.rate_limit_types:
            status = 429
        remote = {"status": resp.status_code, "type": err_type, "message": message}
        headers = {}
        if status == 429:
            rl = self.integration.rate_limit
            retry_after = _wait(resp.headers.get(rl.retry_after_header if rl else "Retry-After"),
                                rl.retry_after_unit if rl else "seconds")
            default = rl.default_cooldown_seconds if rl else 1
            headers = {"Retry-After": str(max(1, math.ceil(retry_after or default)))}
            text = f"{title} rate limit reached; retry after {headers['Retry-After']} s"
        elif status == 401:
            text = f"{title} rejected the account's credentials ({message}); reconnect the integrated account"
        elif status == 403:
            text = (f"The {title} account may not call {action} ({message}); grant the account the missing "
                    "permission (or OAuth scope) and reconnect")
        else:
            text = f"{title} answered {action} with {err_type or 'HTTP ' + str(resp.status_code)}: {message}"
        return ApiError(status, f"upstream_{err_type}" if err_type else "upstream_error", text, remote=remote,
                        headers=headers)

    def _retryable(self, exc: BaseException, idempotent: bool) -> bool:
        if isinstance(exc, TransportError):
            return idempotent or not exc.sent
        if not isinstance(exc, ApiError) or exc.remote is None:
            return False
        err_type = exc.remote.get("type")
        if idempotent:
            return err_type in self.integration.errors.retry_types
        return err_type in self.integration.errors.rate_limit_types  # refused, so not processed


def _read_body(resp: requests.Response) -> bytes:
    """The whole body through requests' own reader (its errors: a timeout is a ConnectionError), in one
    read when the length is known: `resp.content` reads 10 KB at a time, 0.4 ms of CPU for a 400 KB page."""
    try:
        size = int(resp.headers.get("Content-Length"))
    except (TypeError, ValueError):
        size = 0
    return b"".join(resp.iter_content(min(size, BODY_READ) if size > 0 else 64 * 1024))


def _refused(exc: requests.ConnectionError) -> bool:
    """True when the connection was never made (so nothing was sent)."""
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, NewConnectionError | ConnectionRefusedError)


def _wait(value, unit: str) -> float | None:
    """Seconds to wait, from a header holding seconds or the epoch moment (s or ms) the quota resets;
    at most MAX_WAIT (the header is the upstream's word, and the cooldown it sets is shared)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    if unit == "epoch_ms":
        number = number / 1000 - time.time()
    elif unit == "epoch_seconds":
        number = number - time.time()
    return min(MAX_WAIT, max(0.0, number))

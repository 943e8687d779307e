"""Operating the service: request ids, JSON logs and Prometheus metrics.

- **Request id**: taken from the caller's `X-Request-Id` when it looks like an id (1-128 of
  `A-Z a-z 0-9 . _ : -`), otherwise a new one; bound to every log line of the request (a
  contextvar), echoed in the response and sent to the helpdesk with each upstream call.
- **Logs**: one JSON object per line on stderr (structlog's formatter over stdlib logging, so
  gunicorn's, Flask's and our `logging.getLogger(__name__)` lines all come out the same way).
  Every value passes through `redact`: known secret fields are dropped and bearer/basic
  credentials, `token=`-style query values and our key formats are masked wherever they appear.
  Request and message bodies are never logged; paths are logged without their query strings.
- **Account logs**: a request that used an integrated account (`g.account_id`, set once the
  caller is known to own it) leaves one entry in that account's log: route template, status, error
  type, duration, request id and each upstream call's method, status, error type and duration. No
  bodies, headers or queries. Written as the response leaves (so a client's requests are logged in
  their order and visible at once), or once a streamed response has ended (its calls included).
- **Metrics**: module-level prometheus-client metrics. Under gunicorn each worker writes to files
  in `PROMETHEUS_MULTIPROC_DIR` (set by `unified-ticketing serve` before anything imports
  prometheus-client) and `/metrics` adds them up; elsewhere the process's own registry is served.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid

import structlog
from flask import Flask, g, has_app_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_QUIET_ROUTES = {"/healthz", "/readyz", "/metrics"}  # probes and scrapes: counted, not logged
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
access_log = logging.getLogger("unified_ticketing.access")

# --- metrics -----------------------------------------------------------------------------------
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LAG = (0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600, 6 * 3600, 24 * 3600)
HTTP_REQUESTS = Counter("unified_http_requests_total", "Requests answered, by route template, method, status "
                        "and integration ('none' when the route names none)",
                        ["route", "method", "status", "integration"])
HTTP_LATENCY = Histogram("unified_http_request_duration_seconds", "Time to answer a request, by route template "
                         "and method", ["route", "method"], buckets=_SECONDS)
UPSTREAM_CALLS = Counter("unified_upstream_calls_total", "HTTP calls to a helpdesk (each retry counts), by "
                         "integration, method (the helpdesk action; 'proxy' for passthrough calls) and error "
                         "type ('none' when the call succeeded)", ["integration", "method", "error_type"])
UPSTREAM_LATENCY = Histogram("unified_upstream_call_duration_seconds", "Time of one helpdesk HTTP call",
                             ["integration", "method"], buckets=_SECONDS)
TOKEN_REFRESHES = Counter("unified_token_refreshes_total", "OAuth refresh grants sent, by outcome: refreshed, "
                          "invalid_grant, superseded (another process saved newer tokens first)", ["outcome"])
RATE_LIMIT_WAITS = Counter("unified_rate_limit_waits_total", "Upstream calls the shared rate limiter held, by "
                           "reason (cooldown after a 429, token bucket) and outcome (waited, refused with 429)",
                           ["reason", "outcome"])
RATE_LIMIT_WAIT_SECONDS = Histogram("unified_rate_limit_wait_seconds", "Time a call waited for the rate limiter",
                                    buckets=_SECONDS)
WEBHOOKS_RECEIVED = Counter("unified_webhooks_received_total", "Verified helpdesk webhooks stored, by integration "
                            "and outcome (accepted, duplicate, unknown_license: for no account here, dropped)",
                            ["integration", "outcome"])
WEBHOOK_PROCESSING_LAG = Histogram("unified_webhook_processing_lag_seconds", "From a helpdesk webhook's receipt to "
                                   "its unified events being queued for subscribers", buckets=_LAG)
WEBHOOK_INBOUND_RETRIES = Counter("unified_webhook_inbound_retries_total", "Helpdesk webhooks that could not be "
                                  "turned into events yet, by what happened (deferred: tried again later with "
                                  "backoff; given_up: older than UNIFIED_WEBHOOK_MAX_AGE)", ["outcome"])
WEBHOOK_DELIVERIES = Counter("unified_webhook_deliveries_total", "Delivery attempts to subscribers, by outcome "
                             "(delivered, retrying, dead)", ["outcome"])
WEBHOOK_DELIVERY_LAG = Histogram("unified_webhook_delivery_lag_seconds", "From an event entering a subscription's "
                                 "queue to its successful delivery (retries included)", buckets=_LAG)


def metrics_page() -> tuple[bytes, str]:
    """(body, content type) of the Prometheus text format: every gunicorn worker's metrics added up."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def upstream_call(integration: str, method: str, error_type: str | None, started: float,
                  known: frozenset | set = frozenset(), status: int | None = None) -> None:
    """Count one helpdesk call (and note it for the request's account log). The error type is a label
    only when the integration file declares it (`known`) or it is one of ours: a helpdesk's own text
    would grow the series without bound. `status`: the helpdesk's HTTP status, when it answered."""
    label = "none" if error_type is None else error_type if error_type in known else "other"
    elapsed = time.perf_counter() - started
    UPSTREAM_CALLS.labels(integration, method, label).inc()
    UPSTREAM_LATENCY.labels(integration, method).observe(elapsed)
    calls = g.get("upstream_calls") if has_app_context() else None
    if calls is not None:
        calls.append({"method": method, "status": status, "error_type": error_type and str(error_type)[:64],
                      "duration_ms": round(elapsed * 1000, 1)})


# --- request ids -------------------------------------------------------------------------------
def request_id() -> str | None:
    """The current request's (or webhook entry's) id, for log lines and upstream headers."""
    return structlog.contextvars.get_contextvars().get("request_id")


def _incoming_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex


def _route_label() -> str:
    rule = request.url_rule
    if rule is None:
        return "<unmatched>"
    from .engine.loader import RESOURCES

    route = rule.rule
    resource = (request.view_args or {}).get("resource")
    if resource in RESOURCES:  # a closed set: bounded labels
        route = route.replace("<resource>", resource)
    return route


def _integration_label(app: Flask) -> str:
    name = g.get("integration") or (request.view_args or {}).get("integration")
    return name if name in app.extensions["unified"].engines else "none"  # never a caller's free text


def init_app(app: Flask) -> None:
    @app.before_request
    def start_request():
        g.started = time.perf_counter()
        g.upstream_calls = []
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=_incoming_id())

    @app.after_request
    def finish_request(response):
        rid = request_id()
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route, integration = _route_label(), _integration_label(app)
        method = request.method if request.method in _METHODS else "other"  # any token is a valid method
        HTTP_REQUESTS.labels(route, method, str(response.status_code), integration).inc()
        HTTP_LATENCY.labels(route, method).observe(elapsed)
        if route not in _QUIET_ROUTES:
            access_log.info("request", extra={
                "method": request.method, "path": request.path, "route": route, "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1), "integration": integration, "tenant": g.get("tenant")})
        if g.get("account_id"):
            _log_for_account(app, response, route, method)
        return _send_writes(response)

    @app.teardown_request
    def forget_request(_exc):
        structlog.contextvars.clear_contextvars()


def _log_for_account(app: Flask, response, route: str, method: str) -> None:
    """The request's entry in its account's log: queued in the request's last pipeline (sent by
    `_send_writes`), or written when a streamed response closes."""
    import redis  # here, not at the top: `serve` imports this module before gevent patches ssl, which redis imports

    from .state import account_logs
    from .state.request_writes import Writes

    account_id, calls, started, r = g.account_id, g.upstream_calls, g.started, app.extensions["unified"].redis
    error_type = None
    if response.status_code >= 400 and response.is_json and not response.is_streamed:
        body = response.get_json(silent=True)  # our error shape; a proxied answer is the helpdesk's own
        err = body.get("error") if isinstance(body, dict) else None
        error_type = err["type"][:64] if isinstance(err, dict) and isinstance(err.get("type"), str) else None
    route = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", route)  # as openapi.yaml writes it
    entry = {"request_id": request_id(), "method": method, "route": route, "status": response.status_code,
             "error_type": error_type}

    def write(to):
        entry.update(duration_ms=round((time.perf_counter() - started) * 1000, 1), upstream=calls)
        account_logs.record(to, account_id, entry, app.config["ACCOUNT_LOG_MAX"], app.config["ACCOUNT_LOG_SECONDS"])

    def write_now():
        try:
            write(r)
        except redis.RedisError as err:
            access_log.warning("could not write account %s's log: %s", account_id, err)

    if response.is_streamed:  # an export or a download: its upstream calls are still to come
        response.call_on_close(write_now)
        return
    if "writes" not in g:
        g.writes = Writes(r)
    g.log_queued_after = g.writes.queued  # what the response depends on was queued before the entry
    write(g.writes.pipe)


def _send_writes(response):
    """Send the request's last pipeline (`state/request_writes.py`) before its response. When a write the
    response depends on (a page's traversal state, behind its next_cursor) cannot be sent, the answer is a 503;
    an account-log entry alone is only a warning, as it always was."""
    import redis

    from .errors import redis_unavailable_error, response_for

    writes = g.pop("writes", None)
    if writes is None:
        return response
    needed = g.pop("log_queued_after", writes.queued)
    try:
        writes.send()
    except redis.RedisError as err:
        if not needed:
            access_log.warning("could not write account %s's log: %s", g.get("account_id"), err)
            return response
        access_log.error("could not save the request's state: %s", err)
        return response_for(redis_unavailable_error())
    return response


# --- logs --------------------------------------------------------------------------------------
_SECRET_KEYS = {"authorization", "token", "access_token", "refresh_token", "secret", "client_secret", "password",
                "credentials", "api_key", "code", "code_verifier", "link_token", "cookie", "body", "text", "payload"}
_SECRET_PATTERNS = [  # (pattern, replacement, a character it cannot match without: skips most values)
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=:-]+"), r"\1 [redacted]", ""),
    (re.compile(r"(?i)\b((?:access_|refresh_|link_)?token|secret|client_secret|password|code|code_verifier|state)"
                r"=[^&\s\"']+"), r"\1=[redacted]", "="),
    (re.compile(r"\b(ut|whsec)_[A-Za-z0-9_-]{8,}"), r"\1_[redacted]", "_"),
]


def redact(_logger, _name, event: dict) -> dict:
    """A structlog processor: no credential, token or body leaves in a log line."""
    for key in list(event):
        lowered = key.lower()
        if lowered in _SECRET_KEYS or lowered.endswith(("_token", "_secret", "_password")):
            event[key] = "[redacted]"
        elif isinstance(event[key], str):
            for pattern, replacement, needed in _SECRET_PATTERNS:
                if needed in event[key] and pattern.search(event[key]):  # a search is cheaper than a sub
                    event[key] = pattern.sub(replacement, event[key])
    return event


_SHARED = [structlog.contextvars.merge_contextvars, structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name,
           structlog.stdlib.ExtraAdder(), structlog.processors.TimeStamper(fmt="iso", utc=True)]
_format = {"value": "json"}


def formatter() -> logging.Formatter:
    """The formatter every handler uses: JSON lines (or aligned console lines for a person)."""
    render = structlog.dev.ConsoleRenderer(colors=False) if _format["value"] == "console" \
        else structlog.processors.JSONRenderer()
    return structlog.stdlib.ProcessorFormatter(foreign_pre_chain=_SHARED, processors=[
        structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info, redact,
        render])


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    """Send every logger to stderr through `formatter()`; called once by the command line entry point."""
    _format["value"] = fmt
    structlog.configure(processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
                        logger_factory=structlog.stdlib.LoggerFactory(),
                        wrapper_class=structlog.stdlib.BoundLogger, cache_logger_on_first_use=True)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its request lines carry query strings

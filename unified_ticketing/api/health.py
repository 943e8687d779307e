"""Probes and metrics for operators: `/healthz` (the process answers), `/readyz` (it can serve:
Redis reachable, mappings loaded) and `/metrics` (Prometheus). No API key: keep them off the
public load balancer (see docs/deploy.md)."""
from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response

from .. import observability
from ..errors import ApiError
from .common import services

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    svc = services()
    if not svc.engines:
        raise ApiError(503, "not_ready", "No integration mappings are loaded; check UNIFIED_MAPPINGS_DIR")
    try:
        svc.probe.ping()
    except redis.RedisError as exc:  # the error's text names Redis's address: not for unauthenticated callers
        log.warning("readiness: Redis did not answer: %s: %s", type(exc).__name__, exc)
        raise ApiError(503, "not_ready", f"Redis did not answer within 0.5 s ({type(exc).__name__}); "
                       "see the service's log") from None
    return {"status": "ready", "checks": {"redis": "ok", "mappings": sorted(svc.engines)}}


@bp.get("/metrics")
def metrics():
    body, content_type = observability.metrics_page()
    return Response(body, content_type=content_type)

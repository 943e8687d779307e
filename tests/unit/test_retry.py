"""Which upstream failures are retried (engine/upstream.py), for reads and for writes, and how a
rate-limit header becomes a wait: pure decisions, table-driven, no processes.

A read (`idempotent`) is retried on any transport failure and on the error types the integration file
lists as retryable; a write only when the upstream cannot have processed it: the connection was never
made, or the answer was a rate-limit refusal."""
import math
import time

import pytest

from unified_ticketing.config import DEFAULT_MAPPINGS
from unified_ticketing.engine.loader import load_all
from unified_ticketing.engine.upstream import MAX_WAIT, TransportError, Upstream, _wait
from unified_ticketing.errors import ApiError

INTEGRATIONS = load_all(DEFAULT_MAPPINGS)


@pytest.fixture(scope="module", params=sorted(INTEGRATIONS))
def upstream(request) -> Upstream:
    return Upstream(INTEGRATIONS[request.param], env={}, timeout=1, verify=False)


def remote(err_type: str | None, status: int = 502) -> ApiError:
    return ApiError(status, f"upstream_{err_type}", "the helpdesk said no", remote={"status": status,
                                                                                     "type": err_type})


TRANSPORT = [
    # (failure, retried for a read, retried for a write)
    (TransportError(502, "upstream_unreachable", "refused", sent=False), True, True),  # never connected
    (TransportError(504, "upstream_timeout", "no connection in time", sent=False), True, True),
    (TransportError(504, "upstream_timeout", "no answer in time", sent=True), True, False),  # may have landed
    (TransportError(502, "upstream_unreachable", "reset after sending", sent=True), True, False),
    (ApiError(502, "mapping_error", "our own failure"), False, False),  # no remote: not the upstream's doing
    (ApiError(429, "rate_limited", "our limiter's budget"), False, False),
    (ValueError("not an API error at all"), False, False),
]


@pytest.mark.parametrize("failure, read, write", TRANSPORT, ids=lambda v: getattr(v, "type", None) or str(v))
def test_transport_failures_are_retried_unless_a_write_may_have_landed(upstream, failure, read, write):
    assert upstream._retryable(failure, idempotent=True) is read
    assert upstream._retryable(failure, idempotent=False) is write


def test_declared_error_types_are_retried_as_the_integration_file_says(upstream):
    errors = upstream.integration.errors
    assert errors.retry_types, "every integration names its retryable errors"
    for err_type in sorted(set(errors.statuses) | set(errors.retry_types) | set(errors.rate_limit_types)):
        err = remote(err_type, errors.statuses.get(err_type, 502))
        assert upstream._retryable(err, idempotent=True) is (err_type in errors.retry_types), err_type
        # a write is repeated only after a refusal that guarantees it was not applied
        assert upstream._retryable(err, idempotent=False) is (err_type in errors.rate_limit_types), err_type


@pytest.mark.parametrize("err_type", [None, "some_type_no_file_declares"])
def test_undeclared_upstream_errors_are_not_retried(upstream, err_type):
    for idempotent in (True, False):
        assert upstream._retryable(remote(err_type), idempotent=idempotent) is False


def test_a_rate_limit_refusal_is_retried_for_reads_and_writes(upstream):
    for err_type in upstream.integration.errors.rate_limit_types:
        assert upstream._retryable(remote(err_type, 429), idempotent=False)


WAITS = [
    # (header value, unit, seconds to wait; None: no usable value). An epoch value is written as
    # ("now+30", unit): that many seconds from the moment the test runs, in the unit's scale.
    ("5", "seconds", 5.0),
    ("0.25", "seconds", 0.25),
    ("0", "seconds", 0.0),
    ("-3", "seconds", 0.0),  # a negative wait is no wait
    ("1e9", "seconds", MAX_WAIT),  # the upstream's word is capped: the cooldown is shared
    ("inf", "seconds", None),
    ("nan", "seconds", None),
    ("soon", "seconds", None),
    ("", "seconds", None),
    (None, "seconds", None),
    ("now+30", "epoch_seconds", 30.0),
    ("now-30", "epoch_seconds", 0.0),  # a reset already past
    ("now+30", "epoch_ms", 30.0),
    (f"now+{10 * MAX_WAIT}", "epoch_ms", MAX_WAIT),
    ("now+30 in seconds", "epoch_ms", 0.0),  # seconds read as milliseconds: a moment in 1970, so no wait
]


def _header(value, unit: str):
    if not isinstance(value, str) or not value.startswith("now"):
        return value
    offset = float(value[3:].split()[0])
    moment = time.time() + offset
    return str(moment * 1000 if unit == "epoch_ms" and "in seconds" not in value else moment)


@pytest.mark.parametrize("value, unit, seconds", WAITS)
def test_wait_headers_in_every_unit(value, unit, seconds):
    got = _wait(_header(value, unit), unit)
    if seconds is None:
        assert got is None
    else:
        assert got is not None and math.isclose(got, seconds, abs_tol=0.5 if unit != "seconds" else 1e-9)

"""Idempotency-Key states (state/idempotency.py) as pure decisions: what a stored record means for the
next request with the same key, which outcomes are kept for replay, and what makes two requests the
same. The Redis side (locks, leases, concurrent repeats) is tested over HTTP in tests/service."""
import json

import pytest

from unified_ticketing.errors import ApiError
from unified_ticketing.state import idempotency as idem

PRINT = idem.fingerprint("POST", "/unified/ticketing/comments", [], {"ticket_id": "T1", "body": "hi"}, {})
OTHER = idem.fingerprint("POST", "/unified/ticketing/comments", [], {"ticket_id": "T1", "body": "bye"}, {})
CREATED = {"id": "C1", "body": "hi"}
REFUSED = ApiError(422, "invalid_input", "body: too long", param="body").to_dict()


@pytest.mark.parametrize("raw, expected", [
    (None, None),  # never seen: run the write
    (idem.started_record(PRINT), None),  # an earlier attempt's outcome is unknown: run it (reconciling first)
    (idem.done_record(PRINT, 201, CREATED), idem.Outcome(201, CREATED, replayed=True)),
    (idem.done_record(PRINT, 200, {}), idem.Outcome(200, {}, replayed=True)),
])
def test_what_a_stored_record_answers(raw, expected):
    assert idem.replay(raw, PRINT) == expected


def test_a_stored_refusal_is_raised_again_marked_as_a_replay():
    with pytest.raises(ApiError) as caught:
        idem.replay(idem.done_record(PRINT, 422, REFUSED), PRINT)
    err = caught.value
    assert (err.status, err.type, err.param) == (422, "invalid_input", "body")
    assert err.headers[idem.REPLAY_HEADER] == "true"


@pytest.mark.parametrize("raw", [idem.started_record(OTHER), idem.done_record(OTHER, 201, CREATED),
                                 idem.done_record(OTHER, 422, REFUSED)])
def test_a_key_used_for_another_request_is_a_422_in_every_state(raw):
    with pytest.raises(ApiError) as caught:
        idem.replay(raw, PRINT)
    assert (caught.value.status, caught.value.type) == (422, "idempotency_key_reused")


@pytest.mark.parametrize("status, kept", [
    (200, True), (201, True), (204, True),
    (400, True), (404, True), (409, True), (413, True), (422, True),  # the same request fails the same way
    (401, False), (403, False),  # fixed by reconnecting or granting a permission
    (408, False), (429, False),  # fixed by waiting
    (500, False), (502, False), (503, False), (504, False),  # the outcome is unknown: reconcile next time
])
def test_which_outcomes_are_kept_for_replay(status, kept):
    assert idem.final(status) is kept


def test_an_outcome_kept_is_replayed_and_one_not_kept_runs_again():
    """The sequence a key goes through: started, then done when final, else still started."""
    for status, body in [(201, CREATED), (502, {"error": {"status": 502}})]:
        record = idem.started_record(PRINT)
        assert idem.replay(record, PRINT) is None
        if idem.final(status):
            record = idem.done_record(PRINT, status, body)
        answered = idem.replay(record, PRINT)
        assert (answered is not None) is idem.final(status)


@pytest.mark.parametrize("a, b, same", [
    (("POST", "/x", [], {"a": 1, "b": 2}, {}), ("POST", "/x", [], {"b": 2, "a": 1}, {}), True),  # key order
    (("POST", "/x", [], {"a": 1}, {}), ("POST", "/y", [], {"a": 1}, {}), False),  # another route
    (("POST", "/x", [], {"a": 1}, {}), ("PATCH", "/x", [], {"a": 1}, {}), False),  # another method
    (("POST", "/x", [], {"a": 1}, {}), ("POST", "/x", [], {"a": "1"}, {}), False),  # another type
    (("POST", "/x", [("q", "1")], {}, {}), ("POST", "/x", [("q", "2")], {}, {}), False),  # another query
    (("POST", "/x", [], {}, {"file": "sha-1"}), ("POST", "/x", [], {}, {"file": "sha-2"}), False),  # another file
])
def test_what_makes_two_requests_the_same(a, b, same):
    assert (idem.fingerprint(*a) == idem.fingerprint(*b)) is same


def test_a_done_record_holds_the_fingerprint_and_the_answer():
    stored = json.loads(idem.done_record(PRINT, 201, CREATED))
    assert stored == {"fingerprint": PRINT, "state": "done", "status": 201, "body": CREATED}

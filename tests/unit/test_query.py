"""Unified list parameters and upstream query strings, table-driven: no processes, no Redis."""
import pytest
from werkzeug.datastructures import MultiDict

from unified_ticketing.config import DEFAULT_MAPPINGS
from unified_ticketing.engine.calls import encode_query
from unified_ticketing.engine.loader import load_all
from unified_ticketing.engine.query import parse_bool, parse_datetime, parse_filters, parse_limit
from unified_ticketing.errors import ApiError

INTEGRATIONS = load_all(DEFAULT_MAPPINGS)
TICKETS = INTEGRATIONS["livechat"].operation("tickets", "list", "3.5")
COMMENTS = INTEGRATIONS["livechat"].operation("comments", "list", "3.5")
CONTACTS_RC = INTEGRATIONS["rocketchat"].operation("contacts", "list", "1")


@pytest.mark.parametrize(("query", "pairs"), [
    ({"count": 20}, [("count", "20")]),
    ({"count": 20.0, "ratio": 0.5}, [("count", "20"), ("ratio", "0.5")]),  # an integral float is an integer
    ({"open": False, "closed": True}, [("open", "false"), ("closed", "true")]),
    ({"roomName": None}, []),  # null is left out
    ({"tags[]": ["a", "b"]}, [("tags[]", "a"), ("tags[]", "b")]),  # an array repeats the parameter
    ({"tags[]": ["a", None]}, [("tags[]", "a")]),
    ({"sort": {"ts": -1}}, [("sort", '{"ts":-1}')]),  # an object is JSON text
    ({"createdAt": {"start": "2026-01-01T00:00:00.000000Z", "end": None}},
     [("createdAt", '{"start":"2026-01-01T00:00:00.000000Z","end":null}')]),
    ({"q": "a b&c"}, [("q", "a b&c")]),  # quoting is the HTTP client's
    ({}, []),
])
def test_encode_query(query, pairs):
    assert encode_query(query) == pairs


@pytest.mark.parametrize(("text", "normalized"), [
    ("2026-05-01T10:00:00Z", "2026-05-01T10:00:00.000000Z"),
    ("2026-05-01T10:00:00z", "2026-05-01T10:00:00.000000Z"),
    ("2026-05-01T12:00:00+02:00", "2026-05-01T10:00:00.000000Z"),
    ("2026-05-01T10:00:00.123456Z", "2026-05-01T10:00:00.123456Z"),
    ("2026-05-01", "2026-05-01T00:00:00.000000Z"),  # a date alone is midnight UTC
    (" 2026-05-01T10:00:00 ", "2026-05-01T10:00:00.000000Z"),  # no zone: UTC
])
def test_parse_datetime_normalizes_to_utc_microseconds(text, normalized):
    assert parse_datetime(text, "created_at[gte]") == normalized


@pytest.mark.parametrize(("text", "message"), [
    ("yesterday", "must be an ISO 8601 date-time"),
    ("2026-13-01", "must be an ISO 8601 date-time"),
    ("1969-12-31T23:59:59Z", "from 1970 on"),
    ("0001-01-01T00:00:00+01:00", "from 1970 on"),  # would overflow converting to UTC
])
def test_parse_datetime_refuses_naming_the_parameter(text, message):
    with pytest.raises(ApiError) as exc:
        parse_datetime(text, "created_at[gte]")
    assert exc.value.status == 400 and exc.value.param == "created_at[gte]" and message in exc.value.message


@pytest.mark.parametrize(("raw", "limit"), [(None, 20), ("1", 1), ("100", 100)])
def test_parse_limit(raw, limit):
    assert parse_limit({} if raw is None else {"limit": raw}) == limit


@pytest.mark.parametrize("raw", ["0", "101", "-1", "ten", "1.5", "١٢", ""])
def test_parse_limit_refuses(raw):
    with pytest.raises(ApiError, match="limit must be an integer from 1 to 100"):
        parse_limit({"limit": raw})


@pytest.mark.parametrize(("raw", "value"), [(None, True), ("true", True), ("TRUE", True), ("1", True),
                                            ("false", False), ("0", False)])
def test_parse_bool(raw, value):
    assert parse_bool({} if raw is None else {"include_remote_data": raw}, "include_remote_data", True) is value


def test_parse_bool_refuses():
    with pytest.raises(ApiError, match="include_remote_data must be true or false; got 'yes'"):
        parse_bool({"include_remote_data": "yes"}, "include_remote_data", True)


@pytest.mark.parametrize(("op", "args", "filters"), [
    (TICKETS, {}, {}),
    (TICKETS, {"limit": "5", "integrated_account_id": "x", "format": "raw"}, {}),  # reserved: not filters
    (TICKETS, {"status": "open", "tag": "vip"}, {"status": "open", "tag": "vip"}),
    (TICKETS, {"created_at[gte]": "2026-05-01T00:00:00Z", "created_at[lte]": "2026-05-02T00:00:00+02:00"},
     {"created_at": {"gte": "2026-05-01T00:00:00.000000Z", "lte": "2026-05-01T22:00:00.000000Z"}}),
    (COMMENTS, {"ticket_id": "CHAT1"}, {"ticket_id": "CHAT1"}),
    (CONTACTS_RC, {"email": "A@example.com"}, {"email": "A@example.com"}),
])
def test_parse_filters(op, args, filters):
    assert parse_filters(op, MultiDict(args)) == filters


@pytest.mark.parametrize(("op", "args", "param", "message"), [
    (TICKETS, {"colour": "red"}, "colour",
     "Unknown parameter 'colour' for tickets; filters: created_at[gte|lte], updated_at[gte|lte], status, contact_id, "
     "tag, assignee_id, team_id, q"),
    (TICKETS, {"Status": "open"}, "Status", "Unknown parameter 'Status'"),
    (TICKETS, {"status": "pending"}, "status", "status must be one of open, closed; got 'pending'"),
    (TICKETS, {"tag": ""}, "tag", "tag must not be empty"),
    (TICKETS, {"tag[gte]": "a"}, "tag[gte]", "tag takes no operator; use tag=value"),
    (TICKETS, {"created_at": "2026-05-01T00:00:00Z"}, "created_at", "use created_at[op] with op one of gte, lte"),
    (TICKETS, {"created_at[gt]": "2026-05-01T00:00:00Z"}, "created_at[gt]", "op one of gte, lte"),
    (TICKETS, {"updated_at[lte]": "soon"}, "updated_at[lte]", "must be an ISO 8601 date-time"),
    (COMMENTS, {}, "ticket_id", "ticket_id is required to list comments"),
    # Rocket.Chat's visitor search has no creation date: its contacts have no created_at filter
    (CONTACTS_RC, {"created_at[gte]": "2026-05-01T00:00:00Z"}, "created_at[gte]", "filters: email, name"),
])
def test_parse_filters_refuses_naming_the_parameter(op, args, param, message):
    with pytest.raises(ApiError) as exc:
        parse_filters(op, MultiDict(args))
    assert exc.value.status == 400 and exc.value.param == param and message in exc.value.message

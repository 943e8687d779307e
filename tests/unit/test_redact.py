"""Log lines carry no credentials (observability.redact): secret fields are dropped and every form of
credential inside a value is masked, whatever the case or the surrounding text; other values pass as
they are."""
import pytest

from unified_ticketing.observability import redact

MASKED = [
    ("Authorization: Bearer abc.DEF-123", "Authorization: Bearer [redacted]"),
    ("sent BASIC\tdXNlcjpwYXNz= upstream", "sent BASIC [redacted] upstream"),
    ("baſic dXNlcjpwYXNz", "baſic [redacted]"),  # the regex's case folding: long s matches s
    ("GET /cb?code=xyz&state=abc", "GET /cb?code=[redacted]&state=[redacted]"),
    ("refresh_token=r1 Access_Token=a2", "refresh_token=[redacted] Access_Token=[redacted]"),
    ("Password=hunter2'", "Password=[redacted]'"),
    ("key ut_0123456789abcdef and whsec_ABCDEFGH_ij", "key ut_[redacted] and whsec_[redacted]"),
]
UNCHANGED = ["/unified/ticketing/tickets", "unified_ticketing.access", "basically", "x=1&y=2",
             "ut_short", "2026-12-02T10:00:00Z", ""]


@pytest.mark.parametrize("value, logged", MASKED)
def test_credentials_inside_values_are_masked(value, logged):
    assert redact(None, None, {"event": value})["event"] == logged


@pytest.mark.parametrize("value", UNCHANGED)
def test_other_values_pass_unchanged(value):
    assert redact(None, None, {"event": value, "status": 200}) == {"event": value, "status": 200}


@pytest.mark.parametrize("key", ["authorization", "Refresh_Token", "client_secret", "body", "db_password"])
def test_secret_fields_are_dropped(key):
    assert redact(None, None, {key: "anything"})[key] == "[redacted]"

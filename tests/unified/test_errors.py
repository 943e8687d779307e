"""Request errors name the parameter, whatever the helpdesk behind the account."""
import pytest


@pytest.mark.parametrize("params,param", [
    ({"colour": "red"}, "colour"),
    ({"status": "pending"}, "status"),
    ({"created_at[gte]": "yesterday"}, "created_at[gte]"),
    ({"created_at[between]": "2026-01-01T00:00:00Z"}, "created_at[between]"),
    ({"tag[eq]": "x"}, "tag[eq]"),
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"include_remote_data": "maybe"}, "include_remote_data"),
    ({"format": "xml"}, "format"),
])
def test_bad_filters_name_the_parameter(helpdesk, params, param):
    helpdesk.sandbox.admin("POST", "stats/reset")
    resp = helpdesk.get("tickets", **params)
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert err["param"] == param and err["message"]
    assert helpdesk.stats_calls() == 0  # rejected before reaching the helpdesk


def test_filters_cannot_be_combined_with_a_cursor(helpdesk):
    first = helpdesk.ok("tickets", limit=5)
    resp = helpdesk.get("tickets", status="open", next_cursor=first["next_cursor"])
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "status"


def test_a_cursor_is_bound_to_its_resource(helpdesk):
    first = helpdesk.ok("tickets", limit=5)
    resp = helpdesk.get("contacts", next_cursor=first["next_cursor"])
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "cursor"

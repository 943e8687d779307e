"""Unified writes, the same tests for every helpdesk, on a sandbox of this module's own (reset before
each test): each change shows through the read API and in the helpdesk itself (the oracle). What a
helpdesk cannot do (reopen, private notes, some writes) is a per-helpdesk expectation, not a copy."""
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import error


def test_a_comment_appears_in_the_ticket_and_a_replay_sends_nothing_twice(writable_helpdesk):
    hd, oracle = writable_helpdesk, writable_helpdesk.oracle
    ticket = oracle.open_ticket()
    before = oracle.comment_ids(ticket)
    body = {"ticket_id": ticket, "body": "We shipped the fix today."}
    resp = hd.send("POST", "comments", key="reply-1", json=body)
    assert resp.status_code == 201, resp.text
    comment = resp.json()
    assert (comment["ticket_id"], comment["type"], comment["body"], comment["is_private"]) == (
        ticket, "message", "We shipped the fix today.", False)
    assert comment["author"]["type"] == "user"
    assert hd.all("comments", ticket_id=ticket, limit=100)[-1] == comment
    assert hd.ok(f"comments/{comment['id']}") == comment

    replay = hd.send("POST", "comments", key="reply-1", json=body)
    assert replay.status_code in (200, 201), replay.text
    assert replay.json()["id"] == comment["id"]
    after = oracle.comment_ids(ticket)
    assert after == before + [comment["id"]]  # one message in the helpdesk
    assert oracle.comment_text(ticket, comment["id"]) == "We shipped the fix today."


def test_a_comment_whose_outcome_was_unknown_is_sent_once_by_the_retry(writable_helpdesk):
    """The helpdesk fails every call: a 5xx (a 504 says the outcome is unknown and to retry with the same
    key); once it answers again, that retry looks for the comment, finds none, and sends it exactly once."""
    hd, oracle = writable_helpdesk, writable_helpdesk.oracle
    ticket = oracle.open_ticket()
    before = oracle.comment_ids(ticket)
    body = {"ticket_id": ticket, "body": "Sent through an outage"}
    hd.sandbox.admin("POST", "config", json={"fault_rate": 1.0, "fault_kinds": ["internal"]})
    try:
        lost = hd.send("POST", "comments", key="outage-1", json=body)
    finally:
        hd.sandbox.admin("POST", "config", json={"fault_rate": 0.0})
    assert lost.status_code in (502, 504), lost.text  # a lookup before the write failed, or the write's answer
    if lost.status_code == 504:
        err = lost.json()["error"]
        assert err["type"] == "write_outcome_unknown" and "same Idempotency-Key" in err["message"]
    retry = hd.send("POST", "comments", key="outage-1", json=body)
    assert retry.status_code == 201, retry.text
    again = hd.send("POST", "comments", key="outage-1", json=body)
    assert again.json()["id"] == retry.json()["id"]
    assert oracle.comment_ids(ticket) == before + [retry.json()["id"]]


def test_a_private_comment_is_an_agents_note_or_a_clear_422(writable_helpdesk):
    hd, oracle = writable_helpdesk, writable_helpdesk.oracle
    ticket = oracle.open_ticket()
    before = oracle.comment_ids(ticket)
    resp = hd.send("POST", "comments", json={"ticket_id": ticket, "body": "Internal: old plan", "is_private": True})
    if oracle.private_comments:
        assert resp.status_code == 201, resp.text
        assert resp.json()["is_private"] is True
        assert hd.ok(f"comments/{resp.json()['id']}")["is_private"] is True
        assert oracle.comment_ids(ticket) == before + [resp.json()["id"]]
    else:
        err = error(resp, 422, "is_private")
        assert "private" in err["message"]
        assert oracle.comment_ids(ticket) == before  # nothing reached the customer


def test_a_comment_on_a_closed_ticket_reopens_it_or_is_a_409(writable_helpdesk):
    hd, oracle = writable_helpdesk, writable_helpdesk.oracle
    ticket = oracle.closed_ticket()
    before = oracle.comment_ids(ticket)
    assert hd.ok(f"tickets/{ticket}")["status"] == "closed"
    resp = hd.send("POST", "comments", json={"ticket_id": ticket, "body": "Following up on this"})
    if oracle.can_reopen:
        assert resp.status_code == 201, resp.text
        assert oracle.comment_ids(ticket)[-1] == resp.json()["id"]
        assert oracle.status_of(ticket) == "open" and hd.ok(f"tickets/{ticket}")["status"] == "open"
    else:
        err = error(resp, 409, "ticket_id")
        assert "closed" in err["message"]
        assert oracle.comment_ids(ticket) == before
        assert oracle.status_of(ticket) == "closed"


def test_a_comment_on_an_unknown_ticket_is_a_404_naming_it(writable_helpdesk):
    err = error(writable_helpdesk.send("POST", "comments", json={"ticket_id": "NOSUCHTICKET", "body": "hi"}),
                404, "ticket_id")
    assert "NOSUCHTICKET" in err["message"]


def test_patching_tags_then_closing_reads_back_closed_with_those_tags(writable_helpdesk):
    hd, oracle = writable_helpdesk, writable_helpdesk.oracle
    ticket = oracle.open_ticket()
    old = oracle.tags_of(ticket)
    want = [t for t in oracle.tag_names() if t not in old][:2]
    resp = hd.send("PATCH", f"tickets/{ticket}", json={"tags": want})
    assert resp.status_code == 200, resp.text
    assert sorted(t["name"] for t in resp.json()["tags"]) == sorted(want)
    assert sorted(oracle.tags_of(ticket)) == sorted(want)

    closed = hd.send("PATCH", f"tickets/{ticket}", json={"status": "closed"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["completed_at"]
    got = hd.ok(f"tickets/{ticket}")
    assert got["status"] == "closed" and sorted(t["name"] for t in got["tags"]) == sorted(want)
    assert oracle.status_of(ticket) == "closed" and sorted(oracle.tags_of(ticket)) == sorted(want)
    assert ticket in {t["id"] for t in hd.all("tickets", limit=100, status="closed")}

    hd.sandbox.admin("POST", "stats/reset")
    again = hd.send("PATCH", f"tickets/{ticket}", json={"status": "closed"})
    assert again.status_code == 200, again.text
    assert oracle.status_of(ticket) == "closed"


def test_reopening_a_closed_ticket_works_or_is_a_409(writable_helpdesk):
    hd, oracle = writable_helpdesk, writable_helpdesk.oracle
    ticket = oracle.closed_ticket()
    resp = hd.send("PATCH", f"tickets/{ticket}", json={"status": "open"})
    if oracle.can_reopen:
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "open" and oracle.status_of(ticket) == "open"
    else:
        err = error(resp, 409, "status")
        assert "reopen" in err["message"]
        assert oracle.status_of(ticket) == "closed"


def test_patching_an_unknown_ticket_is_a_404(writable_helpdesk):
    err = error(writable_helpdesk.send("PATCH", "tickets/NOSUCHTICKET", json={"status": "closed"}), 404)
    assert "NOSUCHTICKET" in err["message"]


def test_an_uploaded_attachment_is_listed_and_downloads_to_the_same_bytes(writable_helpdesk):
    hd, oracle = writable_helpdesk, writable_helpdesk.oracle
    ticket = oracle.open_ticket()
    content = os.urandom(300_000)
    resp = hd.send("POST", "attachments", files={"file": ("report_q3.pdf", content, "application/pdf")},
                   data={"ticket_id": ticket, "comment": "The report you asked for"})
    assert resp.status_code == 201, resp.text
    attachment = resp.json()
    assert (attachment["file_name"], attachment["content_type"], attachment["file_size"], attachment["ticket_id"]) == (
        "report_q3.pdf", "application/pdf", len(content), ticket)
    assert hd.all("attachments", ticket_id=ticket, limit=100)[-1] == attachment
    assert hd.ok(f"attachments/{attachment['id']}") == attachment
    upstream = oracle.attachments(ticket)[-1]
    assert (upstream["id"], upstream["file_name"], upstream["file_size"]) == (
        attachment["id"], "report_q3.pdf", len(content))
    assert oracle.download(upstream["url"]) == content

    download = hd.get(f"attachments/{attachment['id']}/download")
    assert download.status_code == 200, download.text
    assert download.content == content
    assert download.headers["Content-Type"] == "application/pdf"
    assert "report_q3.pdf" in download.headers["Content-Disposition"]


@pytest.mark.parametrize("name", ["../../etc/passwd", "a b/ünïcode \"quoted\".txt"])
def test_a_file_with_an_odd_name_still_downloads(writable_helpdesk, name):
    hd, oracle = writable_helpdesk, writable_helpdesk.oracle
    content = os.urandom(2_000)
    resp = hd.send("POST", "attachments", files={"file": (name, content, "text/plain")},
                   data={"ticket_id": oracle.open_ticket()})
    assert resp.status_code == 201, resp.text
    download = hd.get(f"attachments/{resp.json()['id']}/download")
    assert download.status_code == 200, download.text
    assert download.content == content
    disposition = download.headers["Content-Disposition"]
    assert "/" not in disposition.split("filename=")[1].split(";")[0]  # a name, never a path


@pytest.mark.parametrize("method,resource", [("POST", "tickets"), ("PATCH", "contacts"), ("POST", "tags")])
def test_a_write_is_done_or_is_an_unsupported_422_that_says_what_to_do(writable_helpdesk, method, resource):
    hd, oracle = writable_helpdesk, writable_helpdesk.oracle
    contact = oracle.contact_ids()[0]
    path, body = {"tickets": ("tickets", {"contact_id": contact, "body": "Hello"}),
                  "contacts": (f"contacts/{contact}", {"name": "Renamed Visitor"}),
                  "tags": ("tags", {"name": "escalated"})}[resource]
    caps = hd.client.get(f"/integrations/{hd.name}/capabilities").json()
    entry = caps["api_versions"][caps["default_api_version"]][resource]
    verb = "create" if method == "POST" else "update"
    hd.sandbox.admin("POST", "stats/reset")
    resp = hd.send(method, path, json=body)
    if (method, resource) not in oracle.unsupported:
        assert resp.status_code == (201 if method == "POST" else 200), resp.text
        assert hd.stats_calls() > 0
        assert verb in entry["methods"] and verb not in entry["unsupported"]
        return
    err = error(resp, 422)
    assert err["type"] == "unsupported_operation"
    assert oracle.title in err["message"] and len(err["message"]) > 60
    assert hd.stats_calls() == 0  # refused before anything reached the helpdesk
    # capabilities say per method what is unsupported, and why; such a method is not listed as supported
    assert entry["unsupported"][verb] == err["message"] and verb not in entry["methods"]


@pytest.mark.parametrize("body,param", [({"body": "no ticket"}, "ticket_id"), ({"ticket_id": "x"}, "body")])
def test_a_comment_without_its_required_fields_is_a_400(writable_helpdesk, body, param):
    writable_helpdesk.sandbox.admin("POST", "stats/reset")
    error(writable_helpdesk.send("POST", "comments", json=body), 400, param)
    assert writable_helpdesk.stats_calls() == 0


def test_an_unknown_assignee_changes_nothing(writable_helpdesk):
    hd, oracle = writable_helpdesk, writable_helpdesk.oracle
    ticket = oracle.open_ticket()
    tags_before = oracle.tags_of(ticket)
    hd.sandbox.admin("POST", "stats/reset")
    resp = hd.send("PATCH", f"tickets/{ticket}", json={"tags": ["escalated-nowhere"], "assignee_ids": ["nobody"]})
    err = error(resp, 422, "assignee_ids")
    assert "nobody" in err["message"]
    assert oracle.tags_of(ticket) == tags_before  # the tags were not applied either
    assert hd.ok(f"tickets/{ticket}")["tags"] == [{"id": t, "name": t} for t in tags_before]


def test_ten_parallel_repeats_of_a_post_make_one_upstream_write(writable_helpdesk):
    hd, oracle = writable_helpdesk, writable_helpdesk.oracle
    ticket = oracle.open_ticket()
    before = oracle.comment_ids(ticket)

    def one(_):
        session = requests.Session()  # its own connection, so the ten really run at once
        return session.post(f"{hd.client.base_url}/unified/ticketing/comments",
                            params={"integrated_account_id": hd.account_id},
                            json={"ticket_id": ticket, "body": "Only once, please"},
                            headers={"Authorization": f"Bearer {hd.client.api_key}", "Idempotency-Key": "parallel-1"},
                            timeout=60)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(one, range(10)))
    assert [r.status_code for r in answers] == [201] * 10
    assert len({r.text for r in answers}) == 1
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in answers) == [""] + ["true"] * 9
    assert oracle.comment_ids(ticket) == before + [answers[0].json()["id"]]

"""Comments and attachments of a ticket, the same tests for every helpdesk: complete, in order, across
upstream pages; attachments download to the helpdesk's bytes."""
import pytest


@pytest.mark.parametrize("limit", [3, 7, 100])
def test_comments_of_a_busy_ticket_are_complete_and_in_order(helpdesk, limit):
    ticket = helpdesk.oracle.busy_ticket()
    expected = helpdesk.oracle.comment_ids(ticket)
    assert len(expected) > 7, "the busiest ticket spans several pages"
    pages = helpdesk.pages("comments", ticket_id=ticket, limit=limit)
    assert [c["id"] for p in pages for c in p] == expected
    assert all(len(p) <= limit for p in pages)
    assert all(c["ticket_id"] == ticket for p in pages for c in p)


def test_a_comment_reads_the_same_alone_as_in_the_list(helpdesk):
    ticket = helpdesk.oracle.busy_ticket()
    comments = helpdesk.all("comments", ticket_id=ticket, limit=100)
    for comment in (comments[1], comments[-1]):
        assert helpdesk.ok(f"comments/{comment['id']}") == comment
        assert comment["body"] == helpdesk.oracle.comment_text(ticket, comment["id"]) or comment["type"] == "file"


def test_comments_need_a_ticket_id(helpdesk):
    resp = helpdesk.get("comments")
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "ticket_id"


def test_attachments_are_the_files_of_a_ticket(helpdesk):
    with_files = helpdesk.oracle.tickets_with_files()
    assert with_files
    for ticket in with_files:
        expected = helpdesk.oracle.attachments(ticket)
        got = helpdesk.all("attachments", ticket_id=ticket, limit=1)
        assert [a["id"] for a in got] == [e["id"] for e in expected]
        for a, e in zip(got, expected, strict=True):
            assert (a["file_name"], a["content_type"], a["file_size"]) == \
                (e["file_name"], e["content_type"], e["file_size"])
            assert a["ticket_id"] == ticket
        assert helpdesk.ok(f"attachments/{got[0]['id']}") == got[0]


def test_an_attachment_downloads_to_the_helpdesks_bytes(helpdesk):
    ticket = helpdesk.oracle.tickets_with_files()[0]
    expected = helpdesk.oracle.attachments(ticket)[0]
    resp = helpdesk.get(f"attachments/{expected['id']}/download")
    assert resp.status_code == 200, resp.text
    assert resp.content == helpdesk.oracle.download(expected["url"])
    assert len(resp.content) == expected["file_size"]
    assert resp.headers["Content-Type"].startswith(expected["content_type"])


def test_an_unknown_attachment_or_comment_is_a_404(helpdesk):
    ticket = helpdesk.oracle.busy_ticket()
    unknown = helpdesk.oracle.comment_ids(ticket)[0] + "x"
    for path in (f"comments/{unknown}", f"attachments/{unknown}", f"attachments/{unknown}/download"):
        resp = helpdesk.get(path)
        assert resp.status_code == 404, (path, resp.text)


@pytest.mark.parametrize("resource", ["comments", "attachments"])
def test_the_records_of_an_unknown_ticket_are_a_404_naming_it(helpdesk, resource):
    resp = helpdesk.get(resource, ticket_id="NOSUCHTICKET")
    assert resp.status_code == 404, resp.text
    err = resp.json()["error"]
    assert err["param"] == "ticket_id" and "NOSUCHTICKET" in err["message"]

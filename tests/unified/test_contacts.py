"""Contacts, the same tests for every helpdesk: every contact once, newest first; by id; by email."""


def test_contacts_are_every_contact_once_newest_first(helpdesk):
    pages = helpdesk.pages("contacts", limit=40)
    ids = [c["id"] for p in pages for c in p]
    assert len(ids) == len(set(ids))
    assert ids == helpdesk.oracle.contact_ids()
    assert all(len(p) <= 40 for p in pages)
    created = [c["created_at"] for p in pages for c in p if c["created_at"] is not None]  # some lists have none
    assert created == sorted(created, reverse=True)


def test_a_contact_reads_the_same_alone_as_in_the_list(helpdesk):
    page = helpdesk.ok("contacts", limit=10)["result"]
    skip = {"remote_data"} | helpdesk.oracle.contact_partial_fields
    for contact in (page[0], page[-1]):
        single = helpdesk.ok(f"contacts/{contact['id']}")
        assert single["remote_data"]
        assert {k: v for k, v in single.items() if k not in skip} == {k: v for k, v in contact.items()
                                                                       if k not in skip}


def test_email_filter_finds_exactly_the_contacts_with_that_email(helpdesk):
    emails = helpdesk.oracle.contact_emails()
    target = [e for addresses in emails.values() for e in addresses][5]
    expected = [cid for cid in helpdesk.oracle.contact_ids()
                if target.lower() in [e.lower() for e in emails[cid]]]
    for asked in (target, target.upper()):
        found = helpdesk.all("contacts", email=asked)
        assert [c["id"] for c in found] == expected
        assert all(target.lower() in [e["email"].lower() for e in c["email_addresses"]] for c in found)

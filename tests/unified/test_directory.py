"""Users, teams and tags, what an integration says it supports, and mapping metadata: the same tests for
every helpdesk."""
import pytest

RESOURCES = {"tickets", "comments", "contacts", "attachments", "users", "teams", "tags"}


@pytest.mark.parametrize("resource,expected", [("users", "user_ids"), ("teams", "team_ids"), ("tags", "tag_names")])
def test_directory_lists_equal_the_helpdesks_and_read_back_by_id(helpdesk, resource, expected):
    items = helpdesk.all(resource, limit=3)
    assert [i["id"] for i in items] == getattr(helpdesk.oracle, expected)()
    for item in (items[0], items[-1]):
        single = helpdesk.ok(f"{resource}/{item['id']}")
        assert single["id"] == item["id"] and single["name"] == item["name"]
    resp = helpdesk.get(f"{resource}/no-such-{resource}-0")
    assert resp.status_code == 404, resp.text
    assert f"no-such-{resource}-0" in resp.json()["error"]["message"]


def test_tickets_link_to_users_teams_and_tags_that_resolve(helpdesk):
    users = {u["id"] for u in helpdesk.all("users", limit=100)}
    teams = {t["id"] for t in helpdesk.all("teams", limit=100)}
    tags = {t["name"] for t in helpdesk.all("tags", limit=100)}
    tickets = helpdesk.ok("tickets", limit=40, include_remote_data="false")["result"]
    assignees = {a["id"] for t in tickets for a in t["assignees"]}
    team_ids = {x for t in tickets for x in t["team_ids"]}
    tag_names = {x["name"] for t in tickets for x in t["tags"]}
    assert assignees and team_ids and tag_names
    assert assignees <= users and team_ids <= teams and tag_names <= tags
    for user in sorted(assignees)[:2]:
        assert helpdesk.ok(f"users/{user}")["id"] == user
    for team in sorted(team_ids)[:2]:
        assert helpdesk.ok(f"teams/{team}")["id"] == team
    for tag in sorted(tag_names)[:2]:
        assert helpdesk.ok(f"tags/{tag}")["name"] == tag


def test_users_team_filter_keeps_the_teams_members(helpdesk):
    users = helpdesk.all("users", limit=100)
    team = next(t for u in users for t in u["team_ids"])
    members = helpdesk.all("users", limit=100, team_id=team)
    assert [u["id"] for u in members] == [u["id"] for u in users if team in u["team_ids"]]


def test_capabilities_list_the_resources_and_their_filters(helpdesk):
    caps = helpdesk.client.get(f"/integrations/{helpdesk.name}/capabilities")
    assert caps.status_code == 200, caps.text
    caps = caps.json()
    assert caps["integration"] == helpdesk.name
    version = caps["api_versions"][caps["default_api_version"]]
    assert set(version) == RESOURCES
    for resource in RESOURCES:
        assert {"list", "get"} <= set(version[resource]["methods"])
    filters = {f["name"]: f for f in version["tickets"]["filters"]}
    assert {"status", "tag", "assignee_id", "contact_id", "created_at", "updated_at"} <= set(filters)
    assert filters["status"]["values"] == ["open", "closed"]
    assert {f["name"]: f["required"] for f in version["comments"]["filters"]}["ticket_id"] is True


def test_meta_names_the_mapping_file_of_each_integration(helpdesk):
    meta = helpdesk.client.get("/unified/ticketing/tickets/meta/list", integration=helpdesk.name)
    assert meta.status_code == 200, meta.text
    meta = meta.json()
    assert meta["mapping_file"] == f"mappings/{helpdesk.name}/tickets.list.yaml"
    assert {f["name"] for f in meta["filters"]} >= {"status", "tag", "created_at"}
    assert {f["name"] for f in meta["fields"]} >= {"id", "status", "assignees", "tags", "remote_data"}
    assert helpdesk.client.get("/unified/ticketing/users/meta/update", integration=helpdesk.name).status_code == 404
    assert helpdesk.client.get("/unified/ticketing/widgets/meta/list", integration=helpdesk.name).status_code == 404
    assert helpdesk.client.get("/unified/ticketing/tickets/meta/list", integration=helpdesk.name,
                               api_version="99").status_code == 400
    missing = helpdesk.client.get("/unified/ticketing/tickets/meta/list")
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "integration"


def test_the_email_filter_finds_exactly_that_user(helpdesk):
    users = helpdesk.all("users", limit=100, include_remote_data="false")
    target = users[len(users) // 2]
    for asked in (target["email"], target["email"].upper()):
        assert [u["id"] for u in helpdesk.all("users", email=asked)] == [target["id"]]
    assert helpdesk.all("users", email="nobody@nowhere.example") == []

"""Users, teams and tags, and what an integration says it supports."""
from tests.conftest import error, lc_call, traverse


def test_users_are_the_agents_and_tickets_link_to_them(tenant, account_id, sandbox):
    agents = lc_call(sandbox, "list_agents", {"fields": ["groups"]}, api="configuration").json()
    users = [u for p in traverse(tenant, "users", integrated_account_id=account_id, limit=4) for u in p]
    assert [u["id"] for u in users] == [a["id"] for a in agents]
    first = users[1]
    assert first["email"] == first["id"] and first["name"] == agents[1]["name"]
    assert first["team_ids"] == [str(g["id"]) for g in agents[1]["groups"]]
    assert tenant.get(f"/unified/ticketing/users/{first['id']}", integrated_account_id=account_id).json() == first
    ticket = tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id, limit=1).json()["result"][0]
    for assignee in ticket["assignees"]:
        assert tenant.get(f"/unified/ticketing/users/{assignee['id']}",
                          integrated_account_id=account_id).status_code == 200
    by_team = tenant.get("/unified/ticketing/users", integrated_account_id=account_id, team_id="2").json()["result"]
    assert by_team and all("2" in u["team_ids"] for u in by_team)


def test_teams_and_tags_link_from_tickets(tenant, account_id, sandbox):
    groups = lc_call(sandbox, "list_groups", {}, api="configuration").json()
    teams = tenant.get("/unified/ticketing/teams", integrated_account_id=account_id).json()["result"]
    assert [t["id"] for t in teams] == [str(g["id"]) for g in groups]
    assert tenant.get("/unified/ticketing/teams/3", integrated_account_id=account_id).json()["name"] == "Billing"
    assert tenant.get("/unified/ticketing/teams/99", integrated_account_id=account_id).status_code == 404
    tags = [t for p in traverse(tenant, "tags", integrated_account_id=account_id, limit=5) for t in p]
    names = [t["name"] for t in lc_call(sandbox, "list_tags", {}, api="configuration").json()]
    assert [t["id"] for t in tags] == names
    billing = tenant.get("/unified/ticketing/tags", integrated_account_id=account_id, team_id="3").json()["result"]
    assert billing and all("3" in t["team_ids"] for t in billing)
    tagged = tenant.get("/unified/ticketing/tickets", integrated_account_id=account_id, tag="refund",
                        limit=5).json()["result"][0]
    for tag in tagged["tags"]:
        assert tenant.get(f"/unified/ticketing/tags/{tag['id']}", integrated_account_id=account_id).status_code == 200
    for team in tagged["team_ids"]:
        assert tenant.get(f"/unified/ticketing/teams/{team}", integrated_account_id=account_id).status_code == 200
    assert tenant.get("/unified/ticketing/tags/no-such-tag", integrated_account_id=account_id).status_code == 404


def test_capabilities_come_from_the_mapping_files(tenant):
    caps = tenant.get("/integrations/livechat/capabilities").json()
    v35, v36 = caps["api_versions"]["3.5"], caps["api_versions"]["3.6"]
    assert set(v35) == {"tickets", "comments", "contacts", "attachments", "users", "teams", "tags"}
    assert {"list", "get", "create", "update"} <= set(v35["tickets"]["methods"])
    ticket_filters = {f["name"]: f for f in v35["tickets"]["filters"]}
    assert ticket_filters["status"]["values"] == ["open", "closed"]
    assert ticket_filters["created_at"]["applied"] == "upstream"
    assert ticket_filters["contact_id"]["applied"] == "after_mapping"
    contact_filters = {f["name"]: f for f in v36["contacts"]["filters"]}
    assert contact_filters["email"]["applied"] == "after_mapping"  # v3.6 derives contacts from chats
    assert caps["oauth"] is True and caps["webhooks"] is True
    assert tenant.get("/integrations/zendesk/capabilities").status_code == 400


def test_a_non_numeric_team_filter_matches_nothing(tenant, account_id):
    resp = tenant.get("/unified/ticketing/tags", integrated_account_id=account_id, team_id="sales")
    assert resp.status_code == 200 and resp.json()["result"] == []


def test_creating_a_tag_makes_it_usable_on_tickets(writer, writable_sandbox):
    client, account = writer
    created = client.post("/unified/ticketing/tags", json={"name": "escalated", "team_ids": ["2"]},
                          params={"integrated_account_id": account})
    assert created.status_code == 201, created.text
    assert created.json()["id"] == "escalated" and created.json()["team_ids"] == ["2"]
    again = client.post("/unified/ticketing/tags", json={"name": "escalated"},
                        params={"integrated_account_id": account})
    assert again.status_code == 409 and again.json()["error"]["param"] == "name"
    bad = client.post("/unified/ticketing/tags", json={"name": "x", "team_ids": ["sales"]},
                      params={"integrated_account_id": account})
    assert bad.status_code == 400 and bad.json()["error"]["param"].startswith("team_ids")
    ticket = client.get("/unified/ticketing/tickets", integrated_account_id=account, status="open",
                        limit=100).json()["result"][0]
    patched = client.request("PATCH", f"/unified/ticketing/tickets/{ticket['id']}",
                             params={"integrated_account_id": account}, json={"tags": ["escalated"]})
    assert patched.status_code == 200 and [t["name"] for t in patched.json()["tags"]] == ["escalated"]


def test_a_tag_name_taken_in_any_case_is_a_409_and_an_unknown_team_a_422(writer, fresh_sandbox):
    """create_tag matches names case-insensitively (already_exists) and names unknown groups (group_not_found)."""
    client, account = writer
    taken = client.post("/unified/ticketing/tags", json={"name": "Refund"}, params={"integrated_account_id": account})
    err = error(taken, 409, "name")
    assert "Refund" in err["message"]
    unknown = client.post("/unified/ticketing/tags", json={"name": "escalated", "team_ids": ["0", "42"]},
                          params={"integrated_account_id": account})
    err = error(unknown, 422, "team_ids")
    assert "42" in err["message"]
    names = {t["name"] for t in lc_call(fresh_sandbox, "list_tags", {}, api="configuration").json()}
    assert "Refund" not in names and "escalated" not in names


def test_users_carry_their_job_title_and_teams_their_status(tenant, account_id, sandbox):
    """job_title (agents) and routing_status (groups) are answered only when asked for in `fields`."""
    agents = lc_call(sandbox, "list_agents", {"fields": ["job_title"]}, api="configuration").json()
    users = tenant.get("/unified/ticketing/users", integrated_account_id=account_id).json()["result"]
    assert [u["job_title"] for u in users] == [a["job_title"] for a in agents] and all(u["job_title"] for u in users)
    one = tenant.get(f"/unified/ticketing/users/{users[2]['id']}", integrated_account_id=account_id).json()
    assert one["job_title"] == agents[2]["job_title"]
    groups = lc_call(sandbox, "list_groups", {"fields": ["routing_status"]}, api="configuration").json()
    for group in groups:
        team = tenant.get(f"/unified/ticketing/teams/{group['id']}", integrated_account_id=account_id).json()
        assert team["status"] == group["routing_status"]

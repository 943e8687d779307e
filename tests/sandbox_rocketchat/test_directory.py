"""Agents and managers, departments and tags (read side): shapes, paging, filters, permissions, errors."""
from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from tests.sandbox_rocketchat.conftest import assert_matches_spec, response_schema, shared_response_schema

USERS = "/api/v1/livechat/users/{type}"
DEPARTMENTS = "/api/v1/livechat/department"
TAGS = "/api/v1/livechat/tags"
TAG_IDS = {"billing": "FF4c3c2CK8uMNCvXp", "bug": "jvKJtHCv4bnCctXc9", "feature-request": "9D5ZsYA2baZKgrZAY",
           "vip": "rPQ88ibyPYJ65NiwY", "refund": "pn59EBtfxLHT3LzNx", "onboarding": "hTzdkBfHsMi7SH9R3",
           "urgent": "wEkMqXW6kARDHZeWT", "feedback": "k3TqEjk7P5yZtsksC"}
PERMISSION_ERROR = {"success": False,
                    "error": "User does not have the permissions required for this action [error-unauthorized]"}


def _as(creds: dict) -> dict:
    return {"X-User-Id": creds["user_id"], "X-Auth-Token": creds["auth_token"]}


@pytest.fixture(scope="module")
def creds(rc_sandbox):
    return rc_sandbox.admin("GET", "credentials")


# --- agents and managers --------------------------------------------------------------------------------------
def test_agents_page_through_every_agent_once_sorted_by_name(rc):
    agents, total = rc.all_pages("/api/v1/livechat/users/agent", "users", count=3)
    assert total == 8 == len({u["_id"] for u in agents}) == len(agents)
    names = [u["name"] for u in agents]
    assert names == sorted(names)
    assert all(len(u["departments"]) == 1 and u["emails"][0]["address"] for u in agents)
    desc = rc.get("/api/v1/livechat/users/agent", {"sort": json.dumps({"name": -1}), "count": 100}).json()["users"]
    assert [u["_id"] for u in desc] == [u["_id"] for u in reversed(agents)]


def test_agents_and_managers_match_the_description(rc):
    for kind in ("agent", "manager"):
        resp = rc.get(f"/api/v1/livechat/users/{kind}")
        assert resp.status_code == 200
        assert_matches_spec(resp, USERS)
        assert set(resp.json()) == {"users", "count", "offset", "total", "success"}
    managers = rc.get("/api/v1/livechat/users/manager").json()
    assert [u["username"] for u in managers["users"]] == ["sandbox.manager"] and managers["total"] == 1


def test_agent_filters_text_availability_idle_and_exclude(rc):
    everyone = rc.get("/api/v1/livechat/users/agent", {"count": 100}).json()["users"]
    for text in ("ADA", "ada.alvarez@sandbox", "Alvarez"):
        found = rc.get("/api/v1/livechat/users/agent", {"text": text}).json()
        assert [u["username"] for u in found["users"]] == ["ada.alvarez"] and found["total"] == 1
    available = rc.get("/api/v1/livechat/users/agent", {"onlyAvailable": "true", "count": 100}).json()["users"]
    assert {u["_id"] for u in available} == {u["_id"] for u in everyone if u["statusLivechat"] == "available"}
    assert len(available) == 7
    awake = rc.get("/api/v1/livechat/users/agent", {"showIdleAgents": "false", "count": 100}).json()["users"]
    assert {u["_id"] for u in awake} == {u["_id"] for u in everyone if u["status"] != "offline"}
    rest = rc.get("/api/v1/livechat/users/agent", {"excludeId": everyone[0]["_id"], "count": 100}).json()
    assert rest["total"] == 7 and everyone[0]["_id"] not in {u["_id"] for u in rest["users"]}


def test_one_agent_or_manager_by_id(rc, creds):
    agent = creds["agents"][0]
    resp = rc.get(f"/api/v1/livechat/users/agent/{agent['user_id']}")
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"user", "success"} and body["user"]["username"] == agent["username"]
    assert set(body["user"]) == {"_id", "username", "name", "status", "statusLivechat", "emails"}
    # The description types `emails[].verified` as a string here (boolean in the list); Rocket.Chat sends a boolean.
    schema = copy.deepcopy(response_schema("/api/v1/livechat/users/{type}/{_id}", "GET", 200))
    schema["properties"]["user"]["properties"]["emails"]["items"]["properties"]["verified"]["type"] = "boolean"
    jsonschema.Draft7Validator(schema).validate(body)
    manager = rc.get(f"/api/v1/livechat/users/manager/{creds['user_id']}").json()
    assert manager["user"]["username"] == "sandbox.manager"


def test_one_user_is_null_for_another_role_and_user_not_found_for_an_unknown_id(rc, creds):
    resp = rc.get(f"/api/v1/livechat/users/manager/{creds['agents'][0]['user_id']}")
    assert resp.status_code == 200 and resp.json() == {"user": None, "success": True}
    resp = rc.get("/api/v1/livechat/users/manager/unknownUserId123")  # API.v1.failure('User not found')
    assert resp.status_code == 400 and resp.json() == {"success": False, "error": "User not found"}


def test_users_agent_with_count_0_fails_as_the_servers_aggregation_does(rc):
    resp = rc.get("/api/v1/livechat/users/agent", {"count": 0})
    assert resp.status_code == 400 and resp.json()["success"] is False
    capped = rc.get("/api/v1/livechat/users/agent", {"count": 500}).json()
    assert capped["success"] is True and capped["count"] == capped["total"] == 8  # at most 100 a page


@pytest.mark.parametrize("path", ["/api/v1/livechat/users/bot", "/api/v1/livechat/users/bot/{agent}"])
def test_an_unknown_user_type_is_invalid_type(rc, creds, path):
    resp = rc.get(path.format(agent=creds["agents"][0]["user_id"]))
    assert resp.status_code == 400 and resp.json() == {"success": False, "error": "Invalid type"}


@pytest.mark.parametrize("path", ["/api/v1/livechat/users/agent", "/api/v1/livechat/users/manager",
                                  "/api/v1/livechat/users/agent/someone"])
@pytest.mark.parametrize("who", ["restricted", "agent"])
def test_users_routes_are_for_managers(rc, creds, path, who):
    headers = _as(creds["restricted_user"] if who == "restricted" else creds["agents"][0])
    resp = rc.get(path, headers=headers)
    assert resp.status_code == 403 and resp.json() == PERMISSION_ERROR
    assert_matches_spec(resp, USERS if path.count("/") == 5 else "/api/v1/livechat/users/{type}/{_id}")


# --- departments ----------------------------------------------------------------------------------------------
def test_departments_page_sorted_by_name_without_archived(rc):
    departments, total = rc.all_pages(DEPARTMENTS, "departments", count=2)
    assert [d["name"] for d in departments] == ["Billing", "Onboarding", "Partners", "Sales", "Support"]
    assert total == 5 and all(d["archived"] is False for d in departments)
    everything = rc.get(DEPARTMENTS, {"showArchived": "true"}).json()
    assert everything["total"] == 6 and "Legacy" in {d["name"] for d in everything["departments"]}


def test_departments_match_the_description(rc):
    resp = rc.get(DEPARTMENTS)
    assert resp.status_code == 200
    assert_matches_spec(resp, DEPARTMENTS)
    assert set(resp.json()) == {"departments", "count", "offset", "total", "success"}


def test_department_filters(rc):
    enabled = rc.get(DEPARTMENTS, {"enabled": "true"}).json()
    assert enabled["total"] == 4 and all(d["enabled"] for d in enabled["departments"])
    assert rc.get(DEPARTMENTS, {"enabled": "false"}).json()["total"] == 5  # only `true` filters
    found = rc.get(DEPARTMENTS, {"text": "SUPP"}).json()
    assert [d["name"] for d in found["departments"]] == ["Support"]
    rest = rc.get(DEPARTMENTS, {"excludeDepartmentId": found["departments"][0]["_id"]}).json()
    assert rest["total"] == 4 and "Support" not in {d["name"] for d in rest["departments"]}


def test_one_department_with_its_agents(rc, creds):
    sales = rc.get(DEPARTMENTS, {"text": "Sales"}).json()["departments"][0]
    resp = rc.get(f"{DEPARTMENTS}/{sales['_id']}")
    assert resp.status_code == 200
    assert_matches_spec(resp, "/api/v1/livechat/department/{_id}")
    body = resp.json()
    assert set(body) == {"department", "agents", "success"} and body["department"] == sales
    agents = rc.get("/api/v1/livechat/users/agent", {"count": 100}).json()["users"]
    assert {a["agentId"] for a in body["agents"]} == {u["_id"] for u in agents if sales["_id"] in u["departments"]}
    assert len(body["agents"]) == sales["numAgents"] == 2
    assert all(a["departmentId"] == sales["_id"] and a["username"] for a in body["agents"])
    without = rc.get(f"{DEPARTMENTS}/{sales['_id']}", {"includeAgents": "false"}).json()
    assert set(without) == {"department", "success"}
    agent = rc.get(f"{DEPARTMENTS}/{sales['_id']}", headers=_as(creds["agents"][0])).json()
    assert set(agent) == {"department", "success"}  # agents need view-livechat-departments


def test_an_unknown_department_is_null(rc, creds):
    assert rc.get(f"{DEPARTMENTS}/nope").json() == {"department": None, "agents": [], "success": True}
    resp = rc.get(f"{DEPARTMENTS}/nope", headers=_as(creds["agents"][0]))
    assert resp.status_code == 200 and resp.json() == {"department": None, "success": True}


@pytest.mark.parametrize("path", [DEPARTMENTS, f"{DEPARTMENTS}/nope", f"{TAGS}?text=", f"{TAGS}/nope"])
def test_departments_and_tags_are_for_agents_and_managers(rc, creds, path):
    agent = rc.get(path, headers=_as(creds["agents"][0]))
    assert agent.status_code in (200, 404)
    resp = rc.get(path, headers=_as(creds["restricted_user"]))
    assert resp.status_code == 403 and resp.json() == PERMISSION_ERROR
    jsonschema.Draft7Validator(shared_response_schema("permissionError")).validate(resp.json())


# --- tags -----------------------------------------------------------------------------------------------------
def test_tags_default_to_those_bound_to_no_department(rc):
    resp = rc.get(TAGS, {"text": ""})
    assert resp.status_code == 200
    assert_matches_spec(resp, TAGS)
    body = resp.json()
    assert set(body) == {"tags", "count", "offset", "total", "success"}
    assert [t["name"] for t in body["tags"]] == ["feature-request", "feedback", "urgent", "vip"]
    assert all(t["departments"] == [] and t["numDepartments"] == 0 for t in body["tags"])


def test_tags_view_all_pages_every_tag_with_stable_ids(rc):
    tags, total = rc.all_pages(TAGS, "tags", {"text": "", "viewAll": "true"}, count=3)
    assert total == 8 and {t["name"]: t["_id"] for t in tags} == TAG_IDS
    assert [t["name"] for t in tags] == sorted(TAG_IDS)
    refund = next(t for t in tags if t["name"] == "refund")
    departments = {d["_id"]: d["name"] for d in rc.get(DEPARTMENTS).json()["departments"]}
    assert sorted(departments[d] for d in refund["departments"]) == ["Billing", "Sales"]
    assert refund["numDepartments"] == 2
    desc = rc.get(TAGS, {"text": "", "viewAll": "true", "sort": json.dumps({"name": -1}), "count": 0}).json()["tags"]
    assert [t["name"] for t in desc] == sorted(TAG_IDS, reverse=True)


def test_tags_department_and_text_filters(rc):
    billing = rc.get(DEPARTMENTS, {"text": "Billing"}).json()["departments"][0]["_id"]
    found = rc.get(TAGS, {"text": "", "department": billing}).json()
    assert [t["name"] for t in found["tags"]] == ["billing", "feature-request", "feedback", "refund", "urgent", "vip"]
    by_description = rc.get(TAGS, {"text": "KEY ACC"}).json()
    assert [t["name"] for t in by_description["tags"]] == ["vip"]
    by_name = rc.get(TAGS, {"text": "bug", "viewAll": "true"}).json()
    assert [t["_id"] for t in by_name["tags"]] == [TAG_IDS["bug"]] and by_name["total"] == 1
    assert rc.get(TAGS, {"text": "bug"}).json()["total"] == 0  # bound to Support


def test_seeded_room_tags_are_tag_names(rc):
    rooms = rc.get("/api/v1/livechat/rooms", {"count": 0}).json()["rooms"]
    assert {t for r in rooms for t in r.get("tags", [])} <= set(TAG_IDS)


def test_one_tag_by_id(rc):
    resp = rc.get(f"{TAGS}/{TAG_IDS['refund']}")
    assert resp.status_code == 200
    assert_matches_spec(resp, "/api/v1/livechat/tags/{tagId}")
    body = resp.json()
    assert body["name"] == "refund" and body["success"] is True and body["description"] == "Money back"
    assert set(body) == {"_id", "name", "description", "numDepartments", "departments", "_updatedAt", "success"}
    missing = rc.get(f"{TAGS}/nope")
    assert missing.status_code == 404 and missing.json() == {"success": False, "error": "Tag not found"}
    assert_matches_spec(missing, "/api/v1/livechat/tags/{tagId}")


@pytest.mark.parametrize("path", [USERS.format(type="agent"), DEPARTMENTS, f"{TAGS}?text="])
def test_bad_paging_is_invalid_params(rc, path):
    assert rc.get(path, {"count": "x"}).json()["errorType"] == "invalid-params"
    assert rc.get(path, {"sort": "{nope"}).json()["errorType"] == "error-invalid-sort"
    past = rc.get(path, {"offset": 50}).json()
    assert past["count"] == 0 and past["offset"] == 50 and past["total"] > 0

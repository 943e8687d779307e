"""Rooms (tickets): paging, every filter the description lists, sort, one room, shapes."""
from __future__ import annotations

import json

import pytest

from tests.sandbox_rocketchat.conftest import READ_ROOMS, assert_matches_spec

ROOMS = "/api/v1/livechat/rooms"


@pytest.fixture(scope="module")
def all_rooms(rc_sandbox):
    from tests.sandbox_rocketchat.conftest import Client

    rooms, total = Client(rc_sandbox).all_pages(ROOMS, "rooms", count=100)
    assert total == READ_ROOMS
    return rooms


def test_list_rooms_pages_return_each_room_once(rc, all_rooms):
    rooms, total = rc.all_pages(ROOMS, "rooms", count=7)
    assert total == READ_ROOMS == len(rooms)
    assert len({r["_id"] for r in rooms}) == READ_ROOMS
    assert [r["_id"] for r in rooms] == [r["_id"] for r in all_rooms]


def test_list_rooms_default_is_fifty_newest_first(rc):
    body = rc.get(ROOMS).json()
    assert body["count"] == 50 and body["offset"] == 0 and body["total"] == READ_ROOMS
    stamps = [r["ts"] for r in body["rooms"]]
    assert stamps == sorted(stamps, reverse=True)


def test_count_is_capped_at_one_hundred_and_zero_means_all(rc):
    assert rc.get(ROOMS, {"count": 500}).json()["count"] == 100
    assert rc.get(ROOMS, {"count": 0}).json()["count"] == READ_ROOMS


def test_offset_past_the_end_is_an_empty_page(rc):
    body = rc.get(ROOMS, {"offset": READ_ROOMS + 5}).json()
    assert body["rooms"] == [] and body["count"] == 0 and body["total"] == READ_ROOMS


def test_sort_ascending_by_ts(rc, all_rooms):
    rooms, _ = rc.all_pages(ROOMS, "rooms", {"sort": json.dumps({"ts": 1})}, count=40)
    assert [r["_id"] for r in rooms] == [r["_id"] for r in reversed(all_rooms)]


@pytest.mark.parametrize("sort", ["{not json", json.dumps({"ts": 2}), json.dumps([1])])
def test_bad_sort_is_a_400_in_rocket_chat_shape(rc, sort):
    resp = rc.get(ROOMS, {"sort": sort})
    assert resp.status_code == 400
    body = resp.json()
    assert body["success"] is False and body["errorType"].startswith("error-invalid-sort")


def test_bad_offset_is_invalid_params(rc):
    resp = rc.get(ROOMS, {"offset": "x"})
    assert resp.status_code == 400 and resp.json()["errorType"] == "invalid-params"


def test_open_filter_splits_open_and_closed_rooms(rc, all_rooms):
    open_rooms, n_open = rc.all_pages(ROOMS, "rooms", {"open": "true"})
    closed_rooms, n_closed = rc.all_pages(ROOMS, "rooms", {"open": "false"})
    # LivechatRooms.findRoomsWithCriteria: `open` also means "not on hold", and open=true "served"
    left_out = [r for r in all_rooms if r.get("open") and (r.get("onHold") or "servedBy" not in r)]
    assert n_open + n_closed + len(left_out) == READ_ROOMS and n_open > 0 and n_closed > 0
    assert any(r.get("onHold") for r in left_out) and any("servedBy" not in r for r in left_out)
    assert all(r.get("open") is True and "servedBy" in r and not r.get("onHold") for r in open_rooms)
    assert all("open" not in r and "closedAt" in r and r["closedBy"]["_id"] for r in closed_rooms)


def test_agents_filter_takes_a_list(rc, all_rooms):
    agents = sorted({r["servedBy"]["_id"] for r in all_rooms if "servedBy" in r})[:2]
    expected = {r["_id"] for r in all_rooms if r.get("servedBy", {}).get("_id") in agents}
    rooms, total = rc.all_pages(ROOMS, "rooms", {"agents[]": agents})
    assert {r["_id"] for r in rooms} == expected and total == len(expected) > 0
    one, _ = rc.all_pages(ROOMS, "rooms", {"agents[]": agents[0]})
    assert {r["servedBy"]["_id"] for r in one} == {agents[0]}
    # GETLivechatRoomsParamsSchema: `agents` is an array, and no other parameter is taken
    lone = rc.get(ROOMS, {"agents": agents[0]})
    assert lone.status_code == 400 and lone.json()["error"] == "must be array [invalid-params]"
    unknown = rc.get(ROOMS, {"status": "open"})
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "must NOT have additional properties [invalid-params]"


def test_department_filter(rc, all_rooms):
    dep = all_rooms[0]["departmentId"]
    rooms, total = rc.all_pages(ROOMS, "rooms", {"departmentId": dep})
    assert total == sum(r.get("departmentId") == dep for r in all_rooms) > 0
    assert all(r["departmentId"] == dep for r in rooms)


def test_tags_filter_matches_any_of_the_tags(rc, all_rooms):
    tags = ["vip", "refund"]
    expected = {r["_id"] for r in all_rooms if set(r.get("tags", [])) & set(tags)}
    rooms, _ = rc.all_pages(ROOMS, "rooms", {"tags[]": tags})
    assert {r["_id"] for r in rooms} == expected and expected


def test_created_at_range_is_inclusive(rc, all_rooms):
    stamps = sorted(r["ts"] for r in all_rooms)
    start, end = stamps[10], stamps[40]
    rooms, total = rc.all_pages(ROOMS, "rooms", {"createdAt": json.dumps({"start": start, "end": end})})
    assert total == 31 and all(start <= r["ts"] <= end for r in rooms)
    only_start, _ = rc.all_pages(ROOMS, "rooms", {"createdAt": json.dumps({"start": start})})
    assert len(only_start) == READ_ROOMS - 10


def test_closed_at_range_only_returns_closed_rooms(rc, all_rooms):
    closed = sorted(r["closedAt"] for r in all_rooms if "closedAt" in r)
    rooms, total = rc.all_pages(ROOMS, "rooms", {"closedAt": json.dumps({"end": closed[4]})})
    assert total == 5 and all(r["closedAt"] <= closed[4] for r in rooms)


@pytest.mark.parametrize("param", ["createdAt", "closedAt"])
def test_bad_date_range_is_a_400(rc, param):
    resp = rc.get(ROOMS, {param: json.dumps({"start": "yesterday"})})
    assert resp.status_code == 400
    assert resp.json() == {"success": False, "error": f'The "{param}.start" query parameter must be a valid date.'}


def test_queued_room_name_and_custom_fields_filters(rc, all_rooms):
    queued, _ = rc.all_pages(ROOMS, "rooms", {"queued": "true"})
    assert {r["_id"] for r in queued} == {r["_id"] for r in all_rooms if r.get("open") and "servedBy" not in r}
    name = all_rooms[3]["fname"]
    named, _ = rc.all_pages(ROOMS, "rooms", {"roomName": name.split()[0].lower()})
    assert named
    assert all(name.split()[0].lower() in r["fname"].lower() for r in named)
    with_order = next(r for r in all_rooms if r["livechatData"].get("orderId"))
    found, total = rc.all_pages(ROOMS, "rooms", {"customFields": json.dumps(with_order["livechatData"])})
    assert total == 1 and found[0]["_id"] == with_order["_id"]


def test_rooms_answer_matches_the_description(rc):
    resp = rc.get(ROOMS, {"count": 100})
    assert_matches_spec(resp, ROOMS)
    room = resp.json()["rooms"][0]
    assert room["t"] == "l" and room["v"]["token"] and room["lastMessage"]["rid"] == room["_id"]


def test_visitor_room_route_returns_the_room_by_token(rc, all_rooms):
    room = all_rooms[5]
    resp = rc.get("/api/v1/livechat/room", {"token": room["v"]["token"], "rid": room["_id"]}, headers={})
    assert resp.status_code == 200
    assert_matches_spec(resp, "/api/v1/livechat/room")
    assert resp.json()["room"]["_id"] == room["_id"] and resp.json()["newRoom"] is False


def test_visitor_room_route_errors(rc, all_rooms):
    resp = rc.get("/api/v1/livechat/room", {}, headers={})
    assert resp.status_code == 400
    assert resp.json() == {"success": False, "error": "Match error: Missing key 'token'"}
    other = all_rooms[1]
    resp = rc.get("/api/v1/livechat/room", {"token": all_rooms[0]["v"]["token"], "rid": other["_id"]}, headers={})
    if other["v"]["token"] != all_rooms[0]["v"]["token"]:
        assert resp.json() == {"success": False, "error": "invalid-room"}


def test_rooms_info_reads_one_room(rc, all_rooms):
    body = rc.get("/api/v1/rooms.info", {"roomId": all_rooms[2]["_id"]}).json()
    assert body["success"] is True and body["room"] == all_rooms[2]
    resp = rc.get("/api/v1/rooms.info", {"roomId": "nope"})
    assert resp.status_code == 400 and resp.json()["errorType"] == "error-room-not-found"

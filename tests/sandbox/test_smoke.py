from tests.conftest import lc_call


def test_list_archives_returns_documented_shape(sandbox):
    resp = lc_call(sandbox, "list_archives", {"limit": 5})
    assert resp.status_code == 200
    body = resp.json()
    assert len(body["chats"]) == 5
    assert body["next_page_id"]
    assert "previous_page_id" not in body
    chat = body["chats"][0]
    assert set(chat) >= {"id", "users", "thread", "properties", "access"}
    assert chat["thread"]["created_at"].endswith("Z") and len(chat["thread"]["created_at"].split(".")[1]) == 7

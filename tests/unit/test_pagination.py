"""The pagination variants, table-driven and without processes: where the next page starts, the request
that reads it, the loader's one kind -> variant table, and the guard against an upstream that loops."""
from pathlib import Path

import pytest

from unified_ticketing.engine.calls import Prepared
from unified_ticketing.engine.expressions import MappingError
from unified_ticketing.engine.loader import load_integration
from unified_ticketing.engine.pagination import CursorPaging, OffsetPaging, RepeatedPosition, Walk, position_key

CURSOR = CursorPaging("page_id", "body", "next_page_id", ("chat_id",))
CURSOR_Q = CursorPaging("cursor", "query", "meta.next")
OFFSET = OffsetPaging("offset", "query", "count", "total")
OFFSET_BODY = OffsetPaging("skip", "body", "page.n", "page.of")


@pytest.mark.parametrize(("variant", "data", "position", "expected"), [
    (CURSOR, {"next_page_id": "NX"}, None, "NX"),
    (CURSOR, {"next_page_id": "NX2"}, "NX", "NX2"),
    (CURSOR, {}, "NX", None),  # the last page has no next_page_id
    (CURSOR, {"next_page_id": ""}, None, None),
    (CURSOR, [], None, None),  # not even an object
    (CURSOR_Q, {"meta": {"next": "abc"}}, None, "abc"),
    (CURSOR_Q, {"meta": None}, None, None),
    (OFFSET, {"count": 50, "total": 120}, None, 50),
    (OFFSET, {"count": 50, "total": 120}, 50, 100),
    (OFFSET, {"count": 20, "total": 120}, 100, None),  # reached the total
    (OFFSET, {"count": 0, "total": 120}, 100, None),  # an empty page ends the walk
    (OFFSET, {"count": "5", "total": 120}, 0, None),  # not a count
    (OFFSET, {"count": True, "total": 120}, 0, None),
    (OFFSET, {"count": 5}, 0, None),  # no total
    (OFFSET_BODY, {"page": {"n": 10, "of": 25}}, 10, 20),
])
def test_next_position(variant, data, position, expected):
    assert variant.next_position(data, position) == expected


FIRST_BODY = Prepared("list", "POST", "/list", [], {"limit": 10, "filters": {"q": "x"}, "chat_id": "C1"})
FIRST_QUERY = Prepared("list", "GET", "/list", [("count", "10"), ("offset", "0"), ("sort", '{"ts":-1}')], None)


@pytest.mark.parametrize(("variant", "first", "position", "params", "body"), [
    (CURSOR, FIRST_BODY, None, [], FIRST_BODY.body),  # the first page is the first request
    (CURSOR, FIRST_BODY, "NX", [], {"page_id": "NX", "chat_id": "C1"}),  # the token alone, plus request_keeps
    (CursorPaging("page_id", "body", "n"), FIRST_BODY, "NX", [], {"page_id": "NX"}),
    (CURSOR_Q, FIRST_QUERY, "abc", [("count", "10"), ("offset", "0"), ("sort", '{"ts":-1}'), ("cursor", "abc")],
     None),
    (OFFSET, FIRST_QUERY, 40, [("count", "10"), ("sort", '{"ts":-1}'), ("offset", "40")], None),  # replaced
    (OFFSET_BODY, FIRST_BODY, 30, [], {**FIRST_BODY.body, "skip": 30}),
])
def test_request_for(variant, first, position, params, body):
    request = variant.request_for(first, position)
    assert (request.params, request.body) == (params, body)
    assert (request.path, request.method) == (first.path, first.method)


def _answers(variant, pages):
    """Walk `pages` (answers in order) to the end; the positions read."""
    walk = Walk(None)
    for data in pages:
        if not walk.advance(variant, data):
            return walk.read
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize(("variant", "pages", "read"), [
    (CURSOR, [{"next_page_id": "A"}, {"next_page_id": "B"}, {}], ["first", '"A"', '"B"']),
    (OFFSET, [{"count": 2, "total": 5}, {"count": 2, "total": 5}, {"count": 1, "total": 5}], ["first", "2", "4"]),
    (CURSOR, [{}], ["first"]),
])
def test_a_walk_reads_each_position_once_to_the_end(variant, pages, read):
    assert _answers(variant, pages) == read


@pytest.mark.parametrize("pages", [
    [{"next_page_id": "A"}, {"next_page_id": "A"}],  # a cursor answered for itself
    [{"next_page_id": "A"}, {"next_page_id": "B"}, {"next_page_id": "A"}],  # a longer loop
])
def test_the_guard_stops_an_upstream_that_repeats_a_cursor(pages):
    with pytest.raises(RepeatedPosition) as exc:
        _answers(CURSOR, pages)
    assert exc.value.position == "A" and '"A"' in str(exc.value)


def test_a_walk_resumes_where_a_page_left_off():
    walk = Walk("B")
    assert walk.advance(CURSOR, {"next_page_id": "C"}) and walk.position == "C" and walk.read == ['"B"']


def test_position_keys_are_stable():
    assert position_key(None) == "first" and position_key(40) == "40" and position_key({"b": 1, "a": 2}) == \
        '{"a":2,"b":1}'


MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


@pytest.mark.parametrize(("helpdesk", "expected"), [
    ("livechat", CursorPaging("page_id", "body", "next_page_id", ("chat_id",))),
    ("rocketchat", OffsetPaging("offset", "query", "count", "total")),
])
def test_the_integration_files_build_their_variant(helpdesk, expected):
    assert load_integration(MAPPINGS / helpdesk).pagination == expected


@pytest.mark.parametrize(("section", "complaint"), [
    ("type: pages\n  param: p", "pagination.type.*expected one of cursor, offset"),
    ("type: cursor\n  param: p", "missing key next_cursor_path"),
    ("type: offset\n  param: p\n  count_path: c", "missing key total_path"),
    ("type: offset\n  param: p\n  count_path: c\n  total_path: t\n  request_keeps: [x]", "unknown key"),
    ("type: cursor\n  param: p\n  next_cursor_path: n\n  in: header", "pagination.in.*expected one of body, query"),
])
def test_a_wrong_pagination_section_names_its_mistake(tmp_path, section, complaint):
    folder = tmp_path / "livechat"
    folder.mkdir()
    text = (MAPPINGS / "livechat" / "integration.yaml").read_text()
    start = text.index("\npagination:")
    end = text.index("\n", text.index("request_keeps", start))
    (folder / "integration.yaml").write_text(text[:start] + "\npagination:\n  " + section + text[end:])
    with pytest.raises(MappingError, match=complaint):
        load_integration(folder)

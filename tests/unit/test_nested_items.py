"""`response.items` as a mapping (engine/nested_items.py): the flattening, `where` (its Python form answers
as JSONata does), `fields`, and a broken file failing at load naming file:line (key)."""
import re
import shutil
from pathlib import Path

import jlens
import pytest

from unified_ticketing.config import DEFAULT_MAPPINGS
from unified_ticketing.engine import nested_items
from unified_ticketing.engine.expressions import MappingError, compile_expression
from unified_ticketing.engine.loader import load_integration
from unified_ticketing.engine.nested_items import NestedItems, Where, predicate

BINDINGS = {"filters": {"ticket_id": "CHAT"}, "limit": 10, "version": "3.6"}
PAGE = {"threads": [
    {"id": "T1", "events": [{"id": "e1", "type": "message"}, {"id": "e2", "type": "file", "deleted": True},
                            {"id": "e3", "type": "file"}, {"id": "e4", "type": "message", "deleted": False}]},
    {"id": "T2", "events": []},
    {"id": "T3"},
    {"id": "T4", "events": [{"id": "e5", "type": "file", "deleted": 1}, {"id": "e6", "type": "message"}]},
]}


def items(parents="threads", children="events", where=None, fields=None, child_key=None) -> NestedItems:
    compiled = {k: compile_expression(v, f"test ({k})") for k, v in (fields or {}).items()}
    return NestedItems(tuple(parents.split(".")), tuple(children.split(".")),
                       Where(compile_expression(f"$boolean(({where}))", "test (where)"), predicate(where),
                             predicate(where, kept=True)) if where else None,
                       tuple((k, e, nested_items._when(e)) for k, e in compiled.items()), child_key)


def test_items_are_the_children_of_every_parent_in_order_and_the_pages_own_objects():
    got = items()(PAGE)
    assert [e["id"] for e in got] == ["e1", "e2", "e3", "e4", "e5", "e6"]
    assert got[0] is PAGE["threads"][0]["events"][0]


def test_an_item_holds_the_fields_of_its_parent_then_the_child_itself():
    got = items(where='type = "file"', fields={"chat_id": "$filters.ticket_id", "thread_id": "id"},
                child_key="event")(PAGE, **BINDINGS)
    assert got == [{"chat_id": "CHAT", "thread_id": "T1", "event": PAGE["threads"][0]["events"][1]},
                   {"chat_id": "CHAT", "thread_id": "T1", "event": PAGE["threads"][0]["events"][2]},
                   {"chat_id": "CHAT", "thread_id": "T4", "event": PAGE["threads"][3]["events"][0]}]
    assert list(got[0]) == ["chat_id", "thread_id", "event"]
    assert got[0]["event"] is PAGE["threads"][0]["events"][1]


def test_a_field_evaluates_over_its_parent_and_a_null_one_is_left_out():
    got = items(fields={"label": '"thread " & id', "missing": "nope", "limit": "$limit"},
                child_key="event")(PAGE, **BINDINGS)
    assert got[0] == {"label": "thread T1", "limit": 10, "event": PAGE["threads"][0]["events"][0]}
    whens = dict((k, when) for k, _, when in items(fields={"a": "id", "b": "$filters.x", "c": "$string(id)"}).fields)
    assert whens == {"a": "lookup", "b": "page", "c": "parent"}  # "page": evaluated once per page


def test_paths_read_through_lists_and_a_missing_or_single_parent_is_no_error():
    page = {"chats": [{"thread": {"id": "A", "events": {"id": "only"}}}, {"thread": None}, {}]}
    assert items("chats.thread", "events")(page) == [{"id": "only"}]
    assert items("nothing", "events")(page) == []
    assert items("chats", "thread")({"chats": {"thread": {"id": "A"}}}) == [{"id": "A"}]


def test_the_shipped_comments_and_attachments_give_what_their_jsonata_gave():
    livechat = load_integration(DEFAULT_MAPPINGS / "livechat")
    before = {"comments": "$not(deleted = true)", "attachments": 'type = "file" and $not(deleted = true)'}
    # without T3, which has no events: there jlens answered {chat_id, thread_id} with no event (JSONata: nothing)
    page = {"threads": [t for t in PAGE["threads"] if "events" in t]}
    for resource, where in before.items():
        old = jlens.Expression(f'[threads.($t := id; events[{where}].{{"chat_id": $filters.ticket_id, '
                               f'"thread_id": $t, "event": $}})]')
        for version in livechat.versions:
            op = livechat.operation(resource, "list", version)
            got = op.items(page, **BINDINGS)
            assert got == old.evaluate(page, bindings={"filters": BINDINGS["filters"]}), (resource, version)
            assert [list(item) for item in got] == [["chat_id", "thread_id", "event"]] * len(got)
            assert op.items(PAGE, **BINDINGS) == got
            assert op.items.where.fast_kept is not None  # checked in Python, not per event in jlens


def test_a_child_python_leaves_to_jsonata_is_decided_by_jsonata_within_the_page():
    page = {"threads": [{"id": "T1", "events": [{"id": "e1", "type": ["file"]}, {"id": "e2", "type": "file"},
                                                {"id": "e3", "type": ["message", "file"]}, "text"]},
                        {"id": "T2", "events": {"id": "e4", "type": "file"}}]}
    where = 'type = "file"'
    got = items(where=where)(page)
    assert got == jlens.Expression(f"[threads.events[{where}]]").evaluate(page)
    assert [e["id"] for e in got] == ["e2", "e4"]
    with pytest.raises(nested_items.Undecided):  # the lists: JSONata decided them
        predicate(where, kept=True)(page["threads"][0]["events"])


def test_a_where_python_cannot_run_is_jsonata_child_by_child():
    where = '$exists(deleted) or type = "message"'
    got = items(where=where)(PAGE)
    assert got == jlens.Expression(f"[threads.events[{where}]]").evaluate(PAGE)
    assert items(where=where).where.fast is None


CHILDREN = [{}, {"a": None}, {"a": True}, {"a": False}, {"a": 1}, {"a": 1.0}, {"a": 0}, {"a": "1"}, {"a": "x"},
            {"a": ""}, {"a": [1]}, {"a": ["x"]}, {"a": []}, {"a": {"b": 1}}, {"a": {"b": "x"}}, {"a": {}},
            {"a": [{"b": 1}, {"b": 2}]}, {"b": "x", "a": 1}, "text", 3, None, [{"a": 1}], {"a": True, "b": "x"}]
SIMPLE = ["a = 1", "a != 1", "a = true", "a != true", "a = false", "a = null", "a != null", 'a = "1"', 'a != "x"',
          "a = 1.0", "a = 0", "a.b = 1", "a.b != 1", '$not(a = "x")', 'a = 1 and b = "x"', 'a = 1 or b = "x"',
          '$not(a = true) and $not(b = "x") or a = 0', "(a = 1 or a = true) and $not(a = false)", "a = -1",
          "a = 1e0", "a = 'x'"]


@pytest.mark.parametrize("source", SIMPLE)
def test_a_simple_where_runs_in_python_and_answers_as_jsonata(source):
    where = Where(compile_expression(f"$boolean(({source}))", "test"), predicate(source), predicate(source, kept=True))
    assert where.fast is not None and where.fast_kept is not None, source
    jsonata = jlens.Expression(f"$boolean(({source}))")
    for child in CHILDREN:
        assert where.holds(child, {}) is bool(jsonata.evaluate(child)), (source, child)
    assert where.kept(CHILDREN, {}) == [c for c in CHILDREN if jsonata.evaluate(c)]
    # without the children Python leaves to JSONata (a list where it compares, no object): the list form answers
    plain = [c for c in CHILDREN if isinstance(c, dict) and not any(isinstance(v, list) for v in c.values())]
    assert where.fast_kept(plain) == [c for c in plain if jsonata.evaluate(c)]
    for other in ("text", 3, None, [{"a": 1}]):  # a child that is no object: JSONata decides
        with pytest.raises(nested_items.Undecided):
            where.fast_kept([{}, other])


@pytest.mark.parametrize("source", ["$exists(a)", 'a in ["x"]', "$filters.x = 1", '"x" = a', "a", "$string(a) = \"1\"",
                                    'a = "x\\"y"', "a = 1 = true", "a = (1)", "a[0] = 1", "a.b = a.b",
                                    "a = 1 /* c */"])
def test_any_other_where_goes_to_jsonata(source):
    assert predicate(source) is None
    where = Where(compile_expression(f"$boolean(({source}))", "test"), None)
    jsonata = jlens.Expression(f"$boolean(({source}))")
    bindings = {"filters": {"x": 1}}
    assert where.kept(CHILDREN, bindings) == [c for c in CHILDREN if jsonata.evaluate(c, bindings=bindings)]


def broken(tmp_path: Path, old: str, new: str) -> str:
    """The error loading LiveChat with `old` replaced by `new` in comments.list.yaml."""
    root = tmp_path / "mappings"
    shutil.copytree(DEFAULT_MAPPINGS, root)
    path = root / "livechat" / "comments.list.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(MappingError) as exc:
        load_integration(root / "livechat")
    return str(exc.value)


@pytest.mark.parametrize(("old", "new", "match"), [
    ("    children: events", "    childs: events",
     r"comments\.list\.yaml:\d+ \(response\.items\.childs\): unknown key; expected one of child_key, children, "
     r"fields, parents, where$"),
    ("    parents: threads", "    parents: threads[0]",
     r"comments\.list\.yaml:\d+ \(response\.items\.parents\): expected a dotted path of field names"),
    ("    parents: threads\n", "", r"comments\.list\.yaml \(response\.items\): missing key parents"),
    ("    child_key: event\n", "",
     r"comments\.list\.yaml:\d+ \(response\.items\): with fields, give child_key"),
    ("$not(deleted = true)", "$not(deleted = $nope)",
     r"comments\.list\.yaml:\d+ \(response\.items\.where\): unknown variable \$nope; variables here: \$account"),
    ("$not(deleted = true)", "$not(deleted = ",
     r"comments\.list\.yaml:\d+ \(response\.items\.where\), expression line 1: "),
    ("thread_id: id}", "thread_id: $steps.x}",
     r"comments\.list\.yaml:\d+ \(response\.items\.fields\.thread_id\): unknown variable \$steps"),
    ("    fields: {chat_id: $filters.ticket_id, thread_id: id}", "    fields: [chat_id]",
     r"comments\.list\.yaml:\d+ \(response\.items\.fields\): expected \{key: JSONata over the parent\}"),
])
def test_a_broken_nested_items_fails_at_load_naming_file_line_and_key(tmp_path, old, new, match):
    error = broken(tmp_path, old, new)
    assert re.search(match, error), error

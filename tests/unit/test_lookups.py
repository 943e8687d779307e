"""A plain lookup (`event`, `error.type`, `$version`, `$filters.ticket_id`) is walked in Python
(engine/expressions.py) and answers as jlens does, its numbers aside (the input's own, as documented)."""
import pytest

from unified_ticketing.engine.expressions import compile_expression

DATA = [None, {}, {"a": 1}, {"a": {"b": "x"}}, {"a": [{"b": 1}, {"b": 2}]}, {"a": None}, {"a": [1, [2, 3]]},
        {"event": {"id": "e1"}}, [{"a": 1}, {"a": 2}], "text", 3]
BINDINGS = [{}, {"version": "3.5"}, {"filters": {"ticket_id": "C1"}}, {"filters": {}}, {"filters": None},
            {"filters": [{"ticket_id": "A"}, {"ticket_id": "B"}]}, {"limit": 10}, {"limit": 2.5}, {"limit": 1.0},
            {"version": ["3.5", "3.6"]}, {"now": "not the function"}]


@pytest.mark.parametrize("source", ["a", "a.b", "event", "event.id", "$", "$version", "$filters.ticket_id",
                                    "$filters", "$limit", "$now", "$version.x", " $version "])
def test_a_plain_lookup_answers_as_jlens(source):
    expression = compile_expression(source, "test")
    assert expression.lookup is not None or expression.binding is not None or source == "$now"
    for data in DATA:
        for bindings in BINDINGS:
            expected = expression.compiled.evaluate(data, bindings=bindings or None)
            assert expression(data, **bindings) == expected, (source, data, bindings)


def test_a_variable_the_call_lacks_is_left_to_jsonata():
    now = compile_expression("$now", "test")
    assert now.binding == ("now",)
    assert now({}, now="bound") == "bound"
    assert now({}) == now.compiled.evaluate({})  # JSONata's own $now (a function: no JSON value)
    assert compile_expression("$$", "test").binding is None
    assert compile_expression("$$.a", "test").binding is None
    assert compile_expression("$f(a)", "test").binding is None

"""A page of records is mapped in one jlens evaluation (`Expression.each`): it must give, item by item,
what evaluating the record expression on each item alone gives, for every shipped record file."""
import json
from pathlib import Path

import pytest

from unified_ticketing.config import DEFAULT_MAPPINGS
from unified_ticketing.engine.expressions import compile_expression

RECORD_FILES = sorted(DEFAULT_MAPPINGS.glob("*/records/*.jsonata"))
PAYLOADS = Path(__file__).resolve().parents[3] / "shared" / "livechat-payloads"


def _objects(value):
    """Every JSON object inside `value` (the sample items: whatever shapes the payloads hold)."""
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _objects(v)
    elif isinstance(value, list):
        for v in value:
            yield from _objects(v)


def _samples() -> list:
    found = []
    for path in sorted(PAYLOADS.glob("**/*.json")):
        try:
            found += list(_objects(json.loads(path.read_text())))
        except ValueError:
            continue
    return found


SAMPLES = _samples()


@pytest.mark.parametrize("path", RECORD_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_a_page_mapped_at_once_equals_each_record_mapped_alone(path):
    expression = compile_expression(path.read_text(), str(path))
    bindings = {"base_url": "https://helpdesk.example", "version": "3.5", "filters": {}, "account": {}}
    items = SAMPLES[:400]
    assert len(items) >= 100  # the payloads give a real variety of objects
    alone = []
    for item in items:
        try:
            alone.append(expression(item, **bindings))
        except Exception as exc:  # noqa: BLE001 - an item this record file cannot map: then neither may the page
            alone.append(type(exc))
    if any(isinstance(a, type) for a in alone):
        good = [item for item, a in zip(items, alone, strict=True) if not isinstance(a, type)]
        alone = [a for a in alone if not isinstance(a, type)]
        items = good
    assert expression.each(items, **bindings) == alone


def test_undefined_results_keep_their_place_and_non_objects_are_mapped_one_by_one():
    expression = compile_expression('name ? {"n": name}', "test")
    assert expression.each([{"name": "a"}, {}, {"name": "b"}]) == [{"n": "a"}, None, {"n": "b"}]
    mixed = [[{"name": "a"}, {"name": "c"}], {"name": "b"}]
    assert expression.each(mixed) == [expression(mixed[0]), {"n": "b"}]


def test_an_expression_that_reads_the_root_sees_each_item_as_its_root():
    expression = compile_expression('{"first": $$.users[0]}', "test")
    assert expression.each([{"users": [1, 2]}, {"users": [3]}]) == [{"first": 1}, {"first": 3}]

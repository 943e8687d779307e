"""The filter vocabulary lives in the product (schemas/filters.py); mappings say only how their helpdesk
applies each filter. Datetime filters checked after mapping use one built-in range check."""
import re

import pytest

from tests.unit.test_schema import broken
from unified_ticketing.config import DEFAULT_MAPPINGS
from unified_ticketing.engine.expressions import ExpressionFailed
from unified_ticketing.engine.filters import DateRange
from unified_ticketing.engine.loader import load_all
from unified_ticketing.schemas.filters import FILTERS

MAY = {"gte": "2026-05-01T00:00:00.000000Z", "lt": "2026-06-01T00:00:00.000000Z"}


@pytest.mark.parametrize(("updated_at", "value", "matches"), [
    ("2026-05-10T08:00:00Z", MAY, True),
    ("2026-05-01T00:00:00Z", MAY, True),  # gte includes the bound
    ("2026-06-01T00:00:00Z", MAY, False),  # lt excludes it
    ("2026-04-30T23:59:59.999Z", MAY, False),
    ("2026-05-01T02:00:00+02:00", MAY, True),  # offsets are compared as instants
    ("2026-05-01T00:00:00", MAY, True),  # no zone: UTC
    ("2026-05-01T00:00:00.000900Z", {"lte": "2026-05-01T00:00:00.000100Z"}, True),  # compared to the millisecond
    ("2026-05-01T00:00:00.001Z", {"gt": "2026-05-01T00:00:00.000000Z"}, True),
    ("2026-05-01T00:00:00.000Z", {"gt": "2026-05-01T00:00:00.000000Z"}, False),
    (None, MAY, False),  # a record without the field matches no range
])
def test_the_built_in_range_check(updated_at, value, matches):
    assert DateRange("updated_at")({"id": "1", "updated_at": updated_at}, value=value) is matches


def test_the_range_check_refuses_a_record_field_that_is_not_a_date_time():
    with pytest.raises(ExpressionFailed, match="updated_at: not an ISO 8601 date-time: 'last week'"):
        DateRange("updated_at")({"updated_at": "last week"}, value=MAY)


def test_every_mapped_filter_is_declared_by_the_product_with_its_type_and_operators():
    for integration in load_all(DEFAULT_MAPPINGS).values():
        for (resource, _method, _version), op in integration.operations.items():
            declared = {f.name: f for f in FILTERS[resource]}
            for spec in getattr(op, "filters", {}).values():
                decl = declared[spec.name]
                assert (spec.type, spec.ops, spec.values, spec.required) == \
                       (decl.type, decl.ops, decl.values, decl.required), (integration.name, resource, spec.name)
                assert spec.applied in ("upstream", "after_mapping")


@pytest.mark.parametrize(("file", "old", "new", "match"), [
    ("livechat/tickets.list.yaml", "  q: upstream", "  q: upstream\n  priority: upstream",
     r"tickets\.list\.yaml:\d+ \(filters\.priority\): tickets have no filter priority; the product declares "
     r"created_at, updated_at, status"),
    ("livechat/tickets.list.yaml", '  status: {after_mapping: "status = $value"}', "  status: after_mapping",
     r"tickets\.list\.yaml:\d+ \(filters\.status\): only datetime filters have a built-in check"),
    ("livechat/tickets.list.yaml", "  tag: upstream", "  tag: {type: string}",
     r"tickets\.list\.yaml:\d+ \(filters\.tag\): expected upstream, after_mapping"),  # the old format
])
def test_a_mapping_cannot_invent_or_misapply_a_filter(tmp_path, file, old, new, match):
    message = broken(tmp_path, file, old, new)
    assert re.search(match, message), message


def test_a_filter_left_out_of_a_mapping_is_not_supported_there():
    integrations = load_all(DEFAULT_MAPPINGS)
    assert "created_at" in integrations["livechat"].operation("contacts", "list", "3.5").filters
    assert "created_at" not in integrations["rocketchat"].operation("contacts", "list", "1").filters

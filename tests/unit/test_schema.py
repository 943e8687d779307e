"""The mapping schema is the contract: every shipped mapping file validates against its kind's entry
schema (as an editor resolves it), and a broken file fails to load naming file:line (key)."""
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from unified_ticketing.config import DEFAULT_MAPPINGS
from unified_ticketing.engine import mapping_schema
from unified_ticketing.engine.events import load_events
from unified_ticketing.engine.expressions import MappingError
from unified_ticketing.engine.loader import load_integration

SHIPPED = sorted(DEFAULT_MAPPINGS.glob("*/*.yaml"))
SCHEMA_LINE = "# yaml-language-server: $schema="


def kind_of(path: Path) -> str:
    stem = path.stem
    if stem in ("integration", "events"):
        return stem
    method = stem.partition(".")[2]
    return method if method in ("list", "get") else "write"


def broken(tmp_path: Path, file: str, old: str, new: str) -> str:
    """Copy the shipped mappings, replace `old` (which must be there) with `new` in `file` (`<helpdesk>/...`);
    the error loading that helpdesk."""
    root = tmp_path / "mappings"
    shutil.copytree(DEFAULT_MAPPINGS, root)
    path = root / file
    text = path.read_text()
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(MappingError) as exc:
        load(root / file.split("/")[0])
    return str(exc.value)


def load(folder: Path) -> None:
    """What start-up loads of one helpdesk: its integration and its events."""
    load_events(folder, load_integration(folder).http_method)


def test_the_schema_is_valid_draft_2020_12():
    Draft202012Validator.check_schema(mapping_schema.root())
    for entry in mapping_schema.SCHEMA_DIR.glob("*.schema.json"):
        Draft202012Validator.check_schema(json.loads(entry.read_text()))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_file_validates_against_the_schema_its_first_line_names(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith(SCHEMA_LINE), f"{path.name} does not name its schema for editors"
    entry = (path.parent / first.removeprefix(SCHEMA_LINE)).resolve()
    assert entry == (mapping_schema.SCHEMA_DIR / f"{kind_of(path)}.schema.json").resolve()
    # resolve the entry's relative $ref the way an editor does: against the entry file's own location
    registry = Registry().with_resources(
        (p.name, Resource.from_contents(json.loads(p.read_text()))) for p in mapping_schema.SCHEMA_DIR.glob("*.json"))
    validator = Draft202012Validator(json.loads(entry.read_text()), registry=registry)
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert not errors, errors


@pytest.mark.parametrize(("file", "old", "new", "match"), [
    # an unknown key, at the top and deep inside, says where and what the keys are
    ("livechat/tickets.list.yaml", "response:", "respones:",
     r"livechat/tickets\.list\.yaml:\d+ \(respones\): unknown key; expected one of also, filters, request, "
     r"requires, response, versions"),
    ("livechat/integration.yaml", "  retry_types:", "  retry_type:",
     r"integration\.yaml:\d+ \(errors\.retry_type\): unknown key"),
    ("livechat/tickets.list.yaml", "  record_file: records/ticket.jsonata", "  record_fle: records/ticket.jsonata",
     r"tickets\.list\.yaml:\d+ \(response\.record_fle\): unknown key"),
    ("livechat/integration.yaml", "  request_keeps: [chat_id]", "  request_keeps: [chat_id]\n  page_size: 10",
     r"integration\.yaml:\d+ \(pagination\.page_size\): unknown key; expected one of in, next_cursor_path, param, "
     r"request_keeps, type"),
    ("livechat/events.yaml", "  license: organization_id", "  licence: organization_id",
     r"events\.yaml:\d+ \(delivery\.licence\): unknown key"),
    # a wrong type or value names the key and what it expects
    ("livechat/integration.yaml", "  attempts: 4", "  attempts: four",
     r"integration\.yaml:\d+ \(retry\.attempts\): expected an integer"),
    ("livechat/integration.yaml", "  retry_after_header: Retry-After",
     "  retry_after_header: Retry-After\n  retry_after_unit: minutes",
     r"integration\.yaml:\d+ \(rate_limit\.retry_after_unit\): expected one of seconds, epoch_ms, epoch_seconds"),
    ("livechat/integration.yaml", "  api_server: false", "  api_server: no thanks",
     r"integration\.yaml:\d+ \(files\.api_server\): expected true or false"),
    ("rocketchat/tickets.list.yaml", "  path: /api/v1/livechat/rooms", "  path: api/v1/livechat/rooms",
     r"tickets\.list\.yaml:\d+ \(request\.path\): expected a path starting with /"),
    ("livechat/tickets.list.yaml", "  tag: upstream", "  tag: sometimes",
     r"tickets\.list\.yaml:\d+ \(filters\.tag\): expected upstream, after_mapping or \{after_mapping"),
    ("livechat/comments.create.yaml", "status: 404", "status: 200",
     r"comments\.create\.yaml:\d+ \(steps\[0\] chat\.on_error\.not_found\.fail\.status\): expected an HTTP error"),
    ("livechat/comments.create.yaml", "  - id: chat\n", "  - id: 2chat\n",
     r"comments\.create\.yaml:\d+ \(steps\[0\] 2chat\.id\): expected an id"),
    ("rocketchat/events.yaml", "resource: tickets", "resource: rooms",
     r"events\.yaml:\d+ \(actions\.LivechatSessionStart\[0\]\.resource\): expected one of tickets"),
    # a missing key, and one-of rules
    ("livechat/tickets.get.yaml", "  record_file: records/ticket.jsonata\n", "",
     r"tickets\.get\.yaml \(response\): missing key record_file"),
    ("rocketchat/events.yaml", "fetch: payload._id}", "fetch: payload._id, item: payload}",
     r"events\.yaml:\d+ \(actions\.LivechatSessionStart\[0\]\): give exactly one of item, fetch"),
    ("rocketchat/integration.yaml", "  credential: server_url", "  credential: server_url\n  env: X",
     r"integration\.yaml:\d+ \(base_url\): give credential alone, or env and default"),
    ("livechat/contacts.create.yaml", "    unsupported: >-", "    steps: [{id: x, set: '1'}]\n    unsupported: >-",
     r"contacts\.create\.yaml:\d+ \(versions\.3\.6\): unsupported stands alone"),
])
def test_a_broken_file_fails_to_load_naming_file_line_and_key(tmp_path, file, old, new, match):
    message = broken(tmp_path, file, old, new)
    assert re.search(match, message), message


def test_an_error_names_the_line_of_the_key(tmp_path):
    text = (DEFAULT_MAPPINGS / "livechat" / "integration.yaml").read_text()
    line = text.splitlines().index("  attempts: 4") + 1
    message = broken(tmp_path, "livechat/integration.yaml", "  attempts: 4", "  attempts: -1")
    assert message.startswith(f"mappings/livechat/integration.yaml:{line} (retry.attempts): "), message


def test_the_schema_and_the_constructor_tables_name_the_same_kinds():
    from unified_ticketing.engine.loader import AUTH_KINDS, RESOURCES
    from unified_ticketing.engine.steps import STEP_KINDS
    from unified_ticketing.schemas.filters import FILTERS
    from unified_ticketing.schemas.ticketing import MODELS

    assert set(mapping_schema.definition("integration")["properties"]["auth"]["properties"]) == set(AUTH_KINDS)
    assert [alt["required"][0] for alt in mapping_schema.definition("step")["oneOf"]] == list(STEP_KINDS)
    assert set(RESOURCES) == set(MODELS) == set(FILTERS)

"""Mapping files: every file loads, every record expression renders sandbox data into its schema,
and a broken file fails at load time naming the file and line."""
import shutil
from pathlib import Path

import pytest

from tests.conftest import lc_call, sandbox_all
from unified_ticketing.config import DEFAULT_MAPPINGS
from unified_ticketing.engine.expressions import MappingError
from unified_ticketing.engine.loader import load_all
from unified_ticketing.schemas.ticketing import MODELS


@pytest.fixture
def mappings_copy(tmp_path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(DEFAULT_MAPPINGS, target)
    return target


def test_every_mapping_loads():
    livechat = load_all(DEFAULT_MAPPINGS)["livechat"]
    for resource in MODELS:
        for method in ("list", "get"):
            for version in livechat.versions:
                assert livechat.operation(resource, method, version) is not None


def test_sandbox_data_renders_through_every_record_expression_and_schema(sandbox):
    livechat = load_all(DEFAULT_MAPPINGS)["livechat"]
    archives = sandbox_all(sandbox, "list_archives", "chats", {"limit": 100})[:150]
    customers = sandbox_all(sandbox, "list_customers", "customers", {"limit": 100})
    threads = lc_call(sandbox, "list_threads", {"chat_id": archives[0]["id"], "limit": 100}).json()
    v36_chats = lc_call(sandbox, "list_chats", {"limit": 100}, version="3.6").json()
    samples = {
        ("tickets", "3.5"): {"chats": archives},
        ("contacts", "3.5"): {"customers": customers},
        ("contacts", "3.6"): v36_chats,
        ("comments", "3.5"): threads,
        ("attachments", "3.5"): {"threads": [{"id": e["thread"]["id"], "events": e["thread"]["events"]}
                                             for e in archives]},
    }
    for (resource, version), data in samples.items():
        op = livechat.operation(resource, "list", version)
        bindings = {"filters": {"ticket_id": "CHAT"}, "limit": 100, "version": version}
        items = op.items(data, **bindings)
        assert items, (resource, version)
        for item in items:
            record = op.record(item, **bindings)
            errors = MODELS[resource].validate(record)
            assert not errors, (resource, item, errors)


def test_bad_expression_fails_at_load_with_file_and_line(mappings_copy):
    path = mappings_copy / "livechat" / "tickets.list.yaml"
    path.write_text(path.read_text().replace("items: chats", "items: chats[[["))
    with pytest.raises(MappingError, match=r"livechat/tickets\.list\.yaml:\d+ \(response\.items\)"):
        load_all(mappings_copy)


def test_unknown_key_and_missing_record_file_fail_at_load(mappings_copy):
    path = mappings_copy / "livechat" / "contacts.get.yaml"
    original = path.read_text()
    path.write_text(original.replace("request:", "requets:"))
    with pytest.raises(MappingError, match=r"contacts\.get\.yaml:\d+ \(requets\): unknown key"):
        load_all(mappings_copy)
    path.write_text(original.replace("records/contact.jsonata", "records/nope.jsonata"))
    with pytest.raises(MappingError, match=r"contacts\.get\.yaml:\d+ .*nope\.jsonata not found"):
        load_all(mappings_copy)


def test_bad_record_file_and_unknown_operation_file_fail_at_load(mappings_copy):
    record = mappings_copy / "livechat" / "records" / "ticket.jsonata"
    record.write_text(record.read_text() + "\n )")
    with pytest.raises(MappingError, match=r"livechat/records/ticket\.jsonata"):
        load_all(mappings_copy)
    shutil.copy(DEFAULT_MAPPINGS / "livechat" / "records" / "ticket.jsonata", record)
    (mappings_copy / "livechat" / "widgets.list.yaml").write_text("request: {}\nresponse: {}\n")
    with pytest.raises(MappingError, match=r"widgets\.list\.yaml: expected <resource>\.<method>\.yaml"):
        load_all(mappings_copy)


def test_service_refuses_to_start_on_a_broken_mapping(mappings_copy, redis_server_url):
    from unified_ticketing.app import create_app

    path = mappings_copy / "livechat" / "integration.yaml"
    path.write_text(path.read_text().replace('detect: "$exists(error.type)"', 'detect: "$exists(("'))
    with pytest.raises(MappingError, match=r"integration\.yaml:\d+ \(errors\.detect\)"):
        create_app({"REDIS_URL": redis_server_url, "MAPPINGS_DIR": str(mappings_copy)})


def test_engine_names_no_helpdesk():
    """No Python of the product names a helpdesk or its API: those live in mappings/ (and the sandboxes, their
    own package in sandboxes/)."""
    root = Path(__file__).resolve().parents[2] / "unified_ticketing"
    words = ("livechat", "rocketchat", "rocket.chat", "list_archives", "list_threads", "get_chat", "chats_summary",
             "page_id", "rooms", "visitor", "x-auth-token", "omnichannel")
    files = list(root.rglob("*.py"))
    assert len(files) > 30
    for py in files:
        text = py.read_text().lower()
        found = [w for w in words if w in text]
        assert not found, f"{py.relative_to(root)} mentions {found}"


def test_write_operations_load_for_every_version():
    livechat = load_all(DEFAULT_MAPPINGS)["livechat"]
    for resource, method in [("tickets", "create"), ("tickets", "update"), ("comments", "create"),
                             ("contacts", "create"), ("contacts", "update"), ("attachments", "create")]:
        for version in livechat.versions:
            op = livechat.operation(resource, method, version)
            assert op is not None and (op.steps or op.unsupported), (resource, method, version)
    assert livechat.operation("contacts", "create", "3.6").unsupported
    assert livechat.operation("attachments", "create", "3.5").file_size_limit_bytes == 10 * 1024 * 1024


@pytest.mark.parametrize("file,old,new,match", [
    ("comments.create.yaml", "    on_error:\n", "    on_eror:\n",
     r"comments\.create\.yaml:\d+ \(steps\[0\] chat\.on_eror\): unknown key"),
    ("comments.create.yaml", "chat_inactive: ignore", "chat_inactive: {run: reopen}",
     r"comments\.create\.yaml:\d+ .*no step with id reopen"),
    ("comments.create.yaml", "chat_inactive: ignore", "chat_inactive: retry",
     r"comments\.create\.yaml:\d+ .*expected ignore"),
    ("comments.create.yaml", "action/send_event", "action/send_event\n      verb: GET",
     r"comments\.create\.yaml:\d+ \(steps\[3\] send\.request\.verb\): unknown key"),
    ("comments.create.yaml", "action/send_event", "action/send_event\n      method: FETCH",
     r"comments\.create\.yaml:\d+ \(steps\[3\] send\.request\.method\): expected one of GET"),
    ("tickets.update.yaml", "  - id: close\n", "  - id: chat\n",
     r"tickets\.update\.yaml:\d+ .*step id chat is used twice"),
    ("tickets.update.yaml", "    set: |", "    request: {path: /x, body: '{}'}\n    set: |",
     r"tickets\.update\.yaml:\d+ \(steps\[9\] plan\): a step has exactly one of"),
    ("tickets.update.yaml", "  - id: refuse_missing\n", "  - id: refuse_missing\n    read: true\n",
     r"tickets\.update\.yaml:\d+ \(steps\[\d+\] refuse_missing\.read\): only request steps take read"),
    ("tickets.update.yaml", "    read: true  # a lookup", "    read: yes please  # a lookup",
     r"tickets\.update\.yaml:\d+ \(steps\[0\] chat\.read\): expected true or false"),
    ("tickets.create.yaml", "  id: $steps.start.chat_id", "  id: $steps.start.chat_id[[",
     r"tickets\.create\.yaml:\d+ \(result\.id\)"),
    ("contacts.update.yaml", "status: 404", "status: 200",
     r"contacts\.update\.yaml:\d+ .*expected an HTTP error status"),
    ("attachments.create.yaml", "files: {file: file}", "", r"attachments\.create\.yaml:\d+ .*no step sends files"),
])
def test_a_broken_write_operation_fails_at_load_with_file_and_line(mappings_copy, file, old, new, match):
    fails_to_load(mappings_copy / "livechat" / file, old, new, match)


def fails_to_load(path, old: str, new: str, match: str) -> None:
    """Replace `old` (which must be there) with `new` in a copied mapping file: loading fails matching `match`."""
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(MappingError, match=match):
        load_all(path.parent.parent)


@pytest.mark.parametrize(("file", "old", "new", "match"), [
    ("tags.list.yaml", "requires: >-\n", "requires: [Enterprise]\nnote: >-\n",
     r"tags\.list\.yaml:\d+ \(note\): unknown key"),
    ("integration.yaml", "    unauthorized:\n      fail:", "    unauthorized:\n      ignore:",
     r"integration\.yaml:\d+ \(verify_credentials\.on_error\.unauthorized\.ignore\): unknown key"),
    ("integration.yaml", "        status: 422\n        param: credentials.user_id",
     "        status: 200\n        param: credentials.user_id",
     r"integration\.yaml:\d+ \(verify_credentials\.on_error\.unauthorized\.fail\.status\)"),
])
def test_requires_and_verify_errors_are_checked_at_load(mappings_copy, file, old, new, match):
    fails_to_load(mappings_copy / "rocketchat" / file, old, new, match)


def test_requires_must_be_a_sentence(mappings_copy):
    path = mappings_copy / "rocketchat" / "tags.get.yaml"
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("requires:"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("  "))
    path.write_text("".join(lines[:start] + ["requires: [Enterprise]\n"] + lines[end:]))
    with pytest.raises(MappingError, match=r"tags\.get\.yaml:\d+ \(requires\): expected a sentence"):
        load_all(mappings_copy)

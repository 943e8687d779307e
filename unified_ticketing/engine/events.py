"""Event mappings (`mappings/<helpdesk>/events.yaml`): how an upstream webhook is checked and which
unified events it becomes. Loaded and compiled at start-up like every other mapping file."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .calls import CallSpec, parse_call
from .expressions import Expression, MappingError
from .loader import RESOURCES, _File

EVENTS = ("ticket:created", "ticket:updated", "comment:created", "attachment:created", "contact:created",
          "contact:updated")


@dataclass(frozen=True)
class EventRule:
    event: str
    resource: str
    when: Expression | None = None
    item: Expression | None = None  # the record's upstream item, mapped with the resource's record file
    fetch: Expression | None = None  # or: the id to read back through the get operation


@dataclass(frozen=True)
class Registration:
    register: CallSpec
    id_path: str
    enable: CallSpec | None
    unregister: CallSpec


@dataclass
class EventMapping:
    secret: Expression
    action: Expression
    payload: Expression
    registration: Registration | None
    actions: dict[str, list[EventRule]] = field(default_factory=dict)


def load_events(folder: Path, default_method: str) -> EventMapping | None:
    path = folder / "events.yaml"
    if not path.exists():
        return None
    f = _File(path, folder.parent)
    d = f.data
    f.keys(d, "events", {"delivery", "registration", "actions"}, {"delivery", "actions"})
    delivery = f.section(d, "delivery", "delivery", {"secret", "action", "payload"}, {"secret", "action", "payload"})
    registration = None
    if "registration" in d:
        reg = f.section(d, "registration", "registration", {"register", "register_id", "enable", "unregister"},
                        {"register", "unregister"})
        calls = {name: parse_call(f, reg, name, f"registration.{name}", default_method)
                 for name in ("register", "enable", "unregister") if name in reg}
        registration = Registration(calls["register"], reg.get("register_id", "id"), calls.get("enable"),
                                    calls["unregister"])
    mapping = EventMapping(f.expr(delivery, "secret", "delivery.secret"), f.expr(delivery, "action", "delivery.action"),
                           f.expr(delivery, "payload", "delivery.payload"), registration)
    actions = d["actions"]
    if not isinstance(actions, dict) or not actions:
        raise MappingError(f"{f.where(d, 'actions', 'actions')}: expected a mapping of upstream actions")
    for action, rules in actions.items():
        if not isinstance(rules, list):
            raise MappingError(f"{f.where(actions, action, 'actions.' + action)}: expected a list of rules")
        compiled = []
        for i, rule in enumerate(rules):
            label = f"actions.{action}[{i}]"
            f.keys(rule, label, {"event", "resource", "when", "item", "fetch"}, {"event", "resource"})
            if rule["event"] not in EVENTS:
                raise MappingError(f"{f.where(rule, 'event', label)}: event must be one of {', '.join(EVENTS)}")
            if rule["resource"] not in RESOURCES:
                raise MappingError(f"{f.where(rule, 'resource', label)}: unknown resource {rule['resource']}")
            if ("item" in rule) == ("fetch" in rule):
                raise MappingError(f"{f.name} ({label}): give exactly one of item, fetch")
            compiled.append(EventRule(rule["event"], rule["resource"], f.opt_expr(rule, "when", label + ".when"),
                                      f.opt_expr(rule, "item", label + ".item"),
                                      f.opt_expr(rule, "fetch", label + ".fetch")))
        mapping.actions[str(action)] = compiled
    return mapping

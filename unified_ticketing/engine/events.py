"""Event mappings (`mappings/<helpdesk>/events.yaml`): how an upstream webhook is checked and which
unified events it becomes, and how the service registers its receiver. Loaded and compiled at
start-up like every other mapping file.

```yaml
delivery:            # JSONata over the delivery's JSON body; $headers: its headers, names in lower case
  secret: secret_key                  # compared with the account's secret in constant time
  action: action                      # which rules apply
  payload: payload                    # what is kept
registration:        # optional: without it, deliveries must be set up in the helpdesk by hand
  needs_oauth_client: true            # registering needs the OAuth client id ($client_id)
  register: [<steps>]                 # write steps (see steps.py); $url, $secret, $actions, $client_id
  ids: <JSONata over $steps>          # what to keep for unregister (a list)
  unregister: [<steps>]               # run once per kept id ($id, $url), failures only logged
actions:
  <upstream action>: [{event, resource, when?, item? | fetch?}]
```
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .expressions import Expression, MappingError
from .loader import RESOURCES, _File
from .steps import WriteOperation, parse_steps

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
    register: WriteOperation  # its steps
    ids: Expression
    unregister: WriteOperation
    needs_oauth_client: bool = False


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
        reg = f.section(d, "registration", "registration", {"needs_oauth_client", "register", "ids", "unregister"},
                        {"register", "ids", "unregister"})
        ops = {name: WriteOperation("webhooks", name, f.name, *parse_steps(f, reg, name, "registration.",
                                                                            default_method))
               for name in ("register", "unregister")}
        registration = Registration(ops["register"], f.expr(reg, "ids", "registration.ids"), ops["unregister"],
                                    bool(reg.get("needs_oauth_client")))
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

"""Event mappings (`mappings/<helpdesk>/events.yaml`): how an upstream webhook is checked and which
unified events it becomes, and how the service registers its receiver. Loaded and compiled at
start-up like every other mapping file; the format is the mapping schema's `events`
(docs/mapping-format.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import mapping_schema
from .expressions import Expression, MappingError
from .loader import _File
from .steps import WriteOperation, parse_steps

EVENTS = tuple(mapping_schema.definition("event")["enum"])


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
    scope: str = "account"
    secret_env: str | None = None  # scope client: the rest
    credentials: dict | None = None  # {"type": auth style, field: env variable name}
    list: WriteOperation | None = None
    listed: Expression | None = None
    enable: WriteOperation | None = None
    disable: WriteOperation | None = None

    def operator_credentials(self, env: dict) -> tuple[str, dict, list[str]]:
        """(auth type, credentials, names of the variables that are not set) from the environment."""
        fields = {k: v for k, v in self.credentials.items() if k != "type"}
        return (self.credentials["type"], {k: env.get(v) for k, v in fields.items()},
                [v for v in fields.values() if not env.get(v)])


@dataclass
class EventMapping:
    secret: Expression
    action: Expression
    payload: Expression
    registration: Registration | None
    actions: dict[str, list[EventRule]] = field(default_factory=dict)
    license: Expression | None = None

    @property
    def per_client(self) -> bool:
        """One receiver for the whole integration, deliveries routed by license (else one per account)."""
        return self.registration is not None and self.registration.scope == "client"


def load_events(folder: Path, default_method: str) -> EventMapping | None:
    path = folder / "events.yaml"
    if not path.exists():
        return None
    f = _File(path, folder.parent, "events")
    d = f.data
    delivery = d["delivery"]
    registration = _registration(f, d["registration"], default_method) if "registration" in d else None
    if registration is not None and registration.scope == "client" and "license" not in delivery:
        raise MappingError(f"{f.name} (delivery): scope client needs delivery.license to route deliveries")
    mapping = EventMapping(f.expr(delivery, "secret", "delivery.secret"), f.expr(delivery, "action", "delivery.action"),
                           f.expr(delivery, "payload", "delivery.payload"), registration,
                           license=f.opt_expr(delivery, "license", "delivery.license"))
    for action, rules in d["actions"].items():
        mapping.actions[str(action)] = [
            EventRule(rule["event"], rule["resource"], *(f.opt_expr(rule, k, f"actions.{action}[{i}].{k}")
                                                         for k in ("when", "item", "fetch")))
            for i, rule in enumerate(rules)]
    return mapping


def _registration(f: _File, reg: dict, default_method: str) -> Registration:
    def steps(name: str) -> WriteOperation:
        return WriteOperation("webhooks", name, f.name, *parse_steps(f, reg, name, "registration.", default_method))

    base = (steps("register"), f.expr(reg, "ids", "registration.ids"), steps("unregister"),
            bool(reg.get("needs_oauth_client")))
    if reg.get("scope", "account") == "account":
        return Registration(*base)
    creds = reg["credentials"]
    return Registration(*base, "client", str(reg["secret"]["env"]),
                        {"type": str(creds["type"]), **{k: str(v["env"]) for k, v in creds.items() if k != "type"}},
                        steps("list"), f.expr(reg, "listed", "registration.listed"), steps("enable"), steps("disable"))

"""Event mappings (`mappings/<helpdesk>/events.yaml`): how an upstream webhook is checked and which
unified events it becomes, and how the service registers its receiver. Loaded and compiled at
start-up like every other mapping file.

```yaml
delivery:            # JSONata over the delivery's JSON body; $headers: its headers, names in lower case
  secret: secret_key                  # compared with the expected secret in constant time
  action: action                      # which rules apply
  payload: payload                    # what is kept
  license: organization_id            # scope client: the license it is about (accounts' context.license)
registration:        # optional: without it, deliveries must be set up in the helpdesk by hand
  scope: account                      # account (default): one receiver URL and secret per account,
                                      # registered with the account's credentials when it connects
  needs_oauth_client: true            # registering needs the OAuth client id ($client_id)
  register: [<steps>]                 # write steps (see steps.py); $url, $secret, $actions, $client_id
  ids: <JSONata over $steps>          # what to keep for unregister (a list)
  unregister: [<steps>]               # run once per kept id ($id, $url), failures only logged
actions:
  <upstream action>: [{event, resource, when?, item? | fetch?}]
```

`scope: client`: the webhooks belong to the app (its OAuth client id), one receiver URL
(`/webhooks/<integration>`) for every account; the operator registers them once
(`unified-ticketing webhooks register`) with the app developer's credentials, and each delivery
goes to the accounts on the license it names. Further keys:

```yaml
  secret: {env: NAME}                 # the app's webhook secret
  credentials: {type: <auth style>, <field>: {env: NAME}, ...}   # the developer's, for register/list/unregister
  list: [<steps>]                     # the client's webhooks ...
  listed: <JSONata over $steps>       # ... as [{id, url, action}]
  enable: [<steps>]                   # with an account's credentials when it connects ($client_id)
  disable: [<steps>]                  # when the last account on its license goes
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
    f = _File(path, folder.parent)
    d = f.data
    f.keys(d, "events", {"delivery", "registration", "actions"}, {"delivery", "actions"})
    delivery = f.section(d, "delivery", "delivery", {"secret", "action", "payload", "license"},
                         {"secret", "action", "payload"})
    registration = _registration(f, d, default_method) if "registration" in d else None
    if registration is not None and registration.scope == "client" and "license" not in delivery:
        raise MappingError(f"{f.name} (delivery): scope client needs delivery.license to route deliveries")
    mapping = EventMapping(f.expr(delivery, "secret", "delivery.secret"), f.expr(delivery, "action", "delivery.action"),
                           f.expr(delivery, "payload", "delivery.payload"), registration,
                           license=f.opt_expr(delivery, "license", "delivery.license"))
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


_CLIENT_KEYS = {"secret", "credentials", "list", "listed", "enable", "disable"}


def _registration(f: _File, d: dict, default_method: str) -> Registration:
    scope = d["registration"].get("scope", "account") if isinstance(d["registration"], dict) else None
    if scope not in ("account", "client"):
        raise MappingError(f"{f.where(d['registration'], 'scope', 'registration.scope')}: expected account or client")
    base = {"scope", "needs_oauth_client", "register", "ids", "unregister"}
    extra = _CLIENT_KEYS if scope == "client" else set()
    reg = f.section(d, "registration", "registration", base | extra, {"register", "ids", "unregister"} | extra)

    def steps(name: str) -> WriteOperation:
        return WriteOperation("webhooks", name, f.name, *parse_steps(f, reg, name, "registration.", default_method))

    if scope == "account":
        return Registration(steps("register"), f.expr(reg, "ids", "registration.ids"), steps("unregister"),
                            bool(reg.get("needs_oauth_client")))
    secret = f.section(reg, "secret", "registration.secret", {"env"}, {"env"})
    creds = f.section(reg, "credentials", "registration.credentials", set(reg["credentials"] or {}), {"type"})
    names = {}
    for key, value in creds.items():
        if key == "type":
            continue
        if not isinstance(value, dict) or set(value) != {"env"}:
            raise MappingError(f"{f.where(creds, key, 'registration.credentials.' + key)}: expected {{env: NAME}}")
        names[key] = str(value["env"])
    return Registration(steps("register"), f.expr(reg, "ids", "registration.ids"), steps("unregister"),
                        bool(reg.get("needs_oauth_client")), "client", str(secret["env"]),
                        {"type": str(creds["type"]), **names}, steps("list"),
                        f.expr(reg, "listed", "registration.listed"), steps("enable"), steps("disable"))

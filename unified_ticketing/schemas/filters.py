"""The unified filter vocabulary: every list filter, declared once per resource.

A mapping file says only which of these its helpdesk supports and how (`upstream` or
`after_mapping`); the query parser, capabilities and the README's filter table read them here.
"""
from __future__ import annotations

from dataclasses import dataclass

TYPES = ("string", "enum", "datetime")
RANGE_OPS = ("gte", "lte", "gt", "lt")


@dataclass(frozen=True)
class Filter:
    name: str
    type: str = "string"  # string | enum | datetime (`name[op]=<ISO 8601>`, op among `ops`)
    ops: tuple[str, ...] = ()
    values: tuple[str, ...] = ()  # enum
    required: bool = False  # the list belongs to a parent record named by this filter
    description: str = ""

    @property
    def param(self) -> str:
        """How a caller writes it: `created_at[gte|lte]`, `status`."""
        return f"{self.name}[{'|'.join(self.ops)}]" if self.type == "datetime" else self.name


def _created(ops=("gte", "lte")) -> Filter:
    return Filter("created_at", "datetime", ops, description="created in the range")


def _of_ticket(what: str) -> tuple[Filter, ...]:
    return (Filter("ticket_id", required=True, description=f"the ticket whose {what} to list"), _created())


FILTERS: dict[str, tuple[Filter, ...]] = {
    "tickets": (
        _created(),
        Filter("updated_at", "datetime", ("gte", "lte"), description="last updated in the range"),
        Filter("status", "enum", values=("open", "closed")),
        Filter("contact_id", description="the ticket's contact"),
        Filter("tag", description="carries this tag"),
        Filter("assignee_id", description="assigned to this user"),
        Filter("team_id", description="belongs to this team"),
        Filter("q", description="the helpdesk's own search"),
    ),
    "comments": _of_ticket("comments"),
    "attachments": _of_ticket("attachments"),
    "contacts": (
        Filter("email", description="has this email address (case-insensitive)"),
        Filter("name", description="has this name"),
        _created(("gte", "lte", "gt", "lt")),
    ),
    "users": (Filter("email", description="has this email address (case-insensitive)"),
              Filter("team_id", description="a member of this team")),
    "teams": (),
    "tags": (Filter("team_id", description="available to this team"),),
}

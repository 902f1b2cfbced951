"""``assign``: assign the ticket; ``manager`` means the company's dedicated manager."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, fields

from rules.actions.base import ActionSpec, Run


class AssignSchema(Schema):
    """Params of ``assign``."""

    class Meta:
        unknown = RAISE

    to = fields.String(load_default="manager")


def run(r: Run, params: Mapping[str, Any]) -> None:
    agent = r.manager if params["to"] == "manager" else params["to"]
    if agent and r.ctx.event.ticket.assignee_id != agent:
        r.emit("assign", agent=agent)


SPEC = ActionSpec("assign", AssignSchema(), run)

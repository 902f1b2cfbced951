"""``notify``: tell someone outside the ticket (the dedicated manager, the admins)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, fields

from rules.actions.base import ActionSpec, Run


class NotifySchema(Schema):
    """Params of ``notify``; ``to`` is ``manager``, ``admins`` or an agent id."""

    class Meta:
        unknown = RAISE

    to = fields.String(load_default="manager")
    template = fields.String(required=True)


def run(r: Run, params: Mapping[str, Any]) -> None:
    to = params["to"]
    if to == "manager":
        to = r.manager or "admins"
    r.emit_template("notify", params["template"], to=to)


SPEC = ActionSpec("notify", NotifySchema(), run, template_keys=("template",))

"""``set_status``: push a status to the host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from rules.actions.base import ActionSpec, Run
from rules.event import STATUSES


class SetStatusSchema(Schema):
    """Params of ``set_status``."""

    class Meta:
        unknown = RAISE

    status = fields.String(required=True, validate=validate.OneOf(STATUSES))


def run(r: Run, params: Mapping[str, Any]) -> None:
    r.emit("set_status", status=params["status"])


SPEC = ActionSpec("set_status", SetStatusSchema(), run)

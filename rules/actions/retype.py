"""``retype``: change the task's type (opt-in automatic re-typing); units may follow logged time."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields

from rules.actions.base import ActionSpec, Run
from rules.fields import logged_minutes


class _Units(fields.Field):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if value == "logged_hours" or (isinstance(value, int) and value >= 1):
            return value
        raise ValidationError("use a whole number >= 1 or 'logged_hours'")


class RetypeSchema(Schema):
    """Params of ``retype``; ``type`` is checked against the configured types by the loader."""

    class Meta:
        unknown = RAISE

    type = fields.String(required=True)
    units = _Units(load_default=1)


def run(r: Run, params: Mapping[str, Any]) -> None:
    units = params["units"]
    if units == "logged_hours":
        units = max(1, math.ceil(logged_minutes(r.ctx) / 60))
    r.retype = (params["type"], int(units))


SPEC = ActionSpec("retype", RetypeSchema(), run)

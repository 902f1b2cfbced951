"""``flag``: mark the decision (shown internally and in reports)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from rules.actions.base import ActionSpec, Run


class FlagSchema(Schema):
    """Params of ``flag``."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]*$"))


def run(r: Run, params: Mapping[str, Any]) -> None:
    r.flag(params["name"])


SPEC = ActionSpec("flag", FlagSchema(), run)

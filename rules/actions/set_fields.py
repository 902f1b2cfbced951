"""``set_fields``: write host fields (e.g. a custom field the admin maps)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, fields

from rules.actions.base import ActionSpec, Run


class SetFieldsSchema(Schema):
    """Params of ``set_fields``."""

    class Meta:
        unknown = RAISE

    fields = fields.Dict(keys=fields.String(), required=True)  # type: ignore[assignment]


def run(r: Run, params: Mapping[str, Any]) -> None:
    r.emit("set_fields", fields=dict(params["fields"]))


SPEC = ActionSpec("set_fields", SetFieldsSchema(), run)

"""``add_note``: a client-visible or internal note on the ticket, from a template or text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from rules.actions.base import ActionSpec, Run


class AddNoteSchema(Schema):
    """Params of ``add_note``."""

    class Meta:
        unknown = RAISE

    visibility = fields.String(required=True, validate=validate.OneOf(["client", "internal"]))
    template = fields.String()
    text = fields.String()

    @validates_schema
    def _one_source(self, data: dict, **_: Any) -> None:
        if ("template" in data) == ("text" in data):
            raise ValidationError("give either 'template' or 'text'")


def run(r: Run, params: Mapping[str, Any]) -> None:
    if "template" in params:
        r.emit_template("add_note", params["template"], visibility=params["visibility"])
    else:
        r.emit("add_note", visibility=params["visibility"], text=params["text"])


SPEC = ActionSpec("add_note", AddNoteSchema(), run, template_keys=("template",))

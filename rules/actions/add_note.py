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
    text = r.render(params["template"]) if "template" in params else params["text"]
    out = {"visibility": params["visibility"], "text": text}
    if "template" in params:
        out = {"visibility": params["visibility"], "template": params["template"], "text": text}
    r.emit("add_note", **out)


SPEC = ActionSpec("add_note", AddNoteSchema(), run, template_keys=("template",))

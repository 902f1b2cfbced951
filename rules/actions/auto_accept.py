"""``auto_accept``: accept the task without a specialist (types that need no input)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema

from rules.actions.base import ActionSpec, Run


class AutoAcceptSchema(Schema):
    """``auto_accept`` takes no params."""

    class Meta:
        unknown = RAISE


def run(r: Run, params: Mapping[str, Any]) -> None:
    r.accept = True


SPEC = ActionSpec("auto_accept", AutoAcceptSchema(), run)

"""The action registry: every action the rules files may use, one module each.

The rules schema is built from this dict, so an action cannot skip validation.
"""

from __future__ import annotations

from rules.actions import (
    add_note,
    assign,
    auto_accept,
    flag,
    notify,
    retype,
    set_fields,
    set_status,
)
from rules.actions.base import ActionSpec, Run

ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        add_note.SPEC,
        notify.SPEC,
        set_status.SPEC,
        set_fields.SPEC,
        assign.SPEC,
        auto_accept.SPEC,
        flag.SPEC,
        retype.SPEC,
    )
}

__all__ = ["ACTIONS", "ActionSpec", "Run"]

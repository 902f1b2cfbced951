"""What an action module gets when it runs, and the helpers actions share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rules.decision import Action
from rules.fields import Context
from rules.templates import TemplateParams


@dataclass
class Run:
    """The engine's working state that actions read and extend."""

    ctx: Context
    #: render(template_name) -> text, in the company's language (set once facts are final)
    render: Callable[[str], str]
    manager: str | None = None
    actions: list[Action] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    #: set by ``auto_accept``
    accept: bool = False
    #: set by ``retype``: (type, units)
    retype: tuple[str, int] | None = None
    ticket_facts: dict[str, Any] = field(default_factory=dict)

    def emit(self, type_: str, **params: Any) -> None:
        self.actions.append(Action(type_, params))

    def emit_template(self, type_: str, template: str, **params: Any) -> None:
        """An action whose ``text`` is ``template`` rendered lazily (see TemplateParams)."""
        params["template"] = template
        self.actions.append(Action(type_, TemplateParams(params, lambda: self.render(template))))

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)


@dataclass(frozen=True)
class ActionSpec:
    """One registered action: its params schema and what it does."""

    name: str
    schema: Any
    run: Callable[[Run, Mapping[str, Any]], None]
    #: params keys naming templates (validated against the template set)
    template_keys: tuple[str, ...] = ()

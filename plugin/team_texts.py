"""Deskpilot's own notes to the team, in the team's language (issue 17).

The refused-write note, the rejected-rules note, a time log's comment and the digests are
written by Deskpilot itself, not by an automation; their texts are templates like every
other note (``config/rules/90-templates.yaml``, listed in
:mod:`rules.config.team_templates`) and are rendered by the one renderer
(:func:`rules.templates.renderer`) as internal notes, so in ``defaults.team_language``.

The rules in force come from :func:`plugin.rules_runtime.team_rules`. A template the
admin's rules lack (a config copied by an older ``deskpilot init``;
``rules check`` warns) is taken from the packaged defaults, still in the admin's team
language. When the admin's rules never loaded (nothing to take the language from), the
packaged rules are used whole.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.config.model import RuleSet
from rules.templates import Languages, Texts, renderer


@functools.cache
def packaged_rules() -> RuleSet:
    """The shipped rules (``plugin.defaults``): the fallback texts."""
    from plugin.config_discovery import packaged_config
    from rules.config.loader import load_rules

    rules: RuleSet = load_rules(packaged_config())
    return rules


@dataclass(frozen=True)
class _WithFallback:
    """The admin's language settings with their templates, the packaged ones beneath."""

    language: str
    team_language: str
    company_language: Mapping[str, str]
    templates: Mapping[str, Texts]


def team_text(rules: RuleSet, name: str, /, **values: Any) -> str:
    """The team template ``name`` rendered with ``values`` in the team's language."""
    texts: Languages = rules
    if name not in rules.templates:
        texts = _WithFallback(rules.language, rules.team_language, rules.company_language,
                              {**packaged_rules().templates, **rules.templates})
    return renderer(texts, lambda: values, None)(name)

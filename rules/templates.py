"""Rendering notification templates in the ticket's language, with placeholders."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from rules.model import RuleSet

_FORMATS = {"uk": "%d.%m.%Y %H:%M", "en": "%a %d %b %Y, %H:%M"}


class _Values(dict):
    """Formats a placeholder only when the template uses it."""

    def __init__(self, raw: Mapping[str, Any], lang: str) -> None:
        super().__init__()
        self.raw, self.lang = raw, lang

    def __missing__(self, key: str) -> str:
        return fmt_value(self.raw.get(key), self.lang)


def fmt_value(value: Any, lang: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime(_FORMATS.get(lang, _FORMATS["en"])) + f" ({value:%Z})"
    return str(value)


def language_for(rules: RuleSet, company: str | None) -> str:
    return rules.company_language.get(company or "") or rules.language


def renderer(
    rules: RuleSet, values: Callable[[], Mapping[str, Any]], company: str | None
) -> Callable[[str], str]:
    """``render(template_name) -> text`` in the company's language (else the default, else en)."""
    lang = language_for(rules, company)

    def render(name: str) -> str:
        tmpl = rules.templates[name]
        use = (
            lang
            if lang in tmpl.texts
            else (rules.language if rules.language in tmpl.texts else next(iter(tmpl.texts)))
        )
        data = _Values(values(), use)
        return tmpl.texts[use].format_map(data)

    return render

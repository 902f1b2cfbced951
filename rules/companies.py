"""Per-company settings in one place: ``config/companies.yaml`` (issue 17).

One obvious file an admin edits to say how Deskpilot treats one client company. Today it
holds the language of the company's client-visible notes; the client cabinet reads the
same setting (:func:`language_for`) so a company sees one language everywhere::

    companies:
      acme: {language: en}
      globex: {language: uk}

Which language a client-visible note uses, first that applies: the company's ``language``
here (or the older ``routing.companies.<id>.language`` in the rules), the requester's
locale when the host sends one (generic ``ticket.requester.locale``, Zendesk's and
Freshdesk's ``{{ticket.requester.language}}`` in our templates; Zammad, django-helpdesk and
Redmine send none: see their adapters), else
``defaults.language``. Internal notes use ``defaults.team_language`` (else
``defaults.language``). A language with no text in a template falls back to the default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from marshmallow import RAISE, Schema, fields, validate

from rules.config.source import Problem, Source, SourceError, load_file


class LanguageSettings(Protocol):
    """What choosing a note's language needs of a :class:`~rules.config.model.RuleSet`
    (a protocol: the rule set's module imports the templates, which import this one)."""

    @property
    def language(self) -> str: ...

    @property
    def team_language(self) -> str: ...

    @property
    def company_language(self) -> Mapping[str, str]: ...


FILE = "companies.yaml"
#: language codes a note may be written in (templates need a text for each one they use)
LANGUAGES = ("uk", "en")
_LOCALE_WORDS = {"english": "en", "ukrainian": "uk", "українська": "uk"}
_PARENTHESIS = re.compile(r"\([^)]*\)")


class _CompanySchema(Schema):
    class Meta:
        unknown = RAISE

    language = fields.String(load_default=None, allow_none=True,
                             validate=validate.OneOf(LANGUAGES))


class _FileSchema(Schema):
    class Meta:
        unknown = RAISE

    companies = fields.Dict(keys=fields.String(), values=fields.Nested(_CompanySchema),
                            load_default=dict)


def load_companies(config_dir: Path, problems: list[Problem]) -> tuple[Path | None,
                                                                       dict[str, str]]:
    """``(path or None, company id -> language)`` from ``config_dir/companies.yaml``."""
    from rules.config.schema import validate_with

    path = config_dir / FILE
    if not path.exists():
        return None, {}
    try:
        src: Source = load_file(path)
    except SourceError as exc:
        problems.extend(exc.problems)
        return path, {}
    data = validate_with(_FileSchema(), src, src.data or {}, (), problems)
    out: dict[str, str] = {}
    for cid, item in ((data or {}).get("companies") or {}).items():
        if item.get("language"):
            out[str(cid).casefold()] = item["language"]
    return path, out


def locale_language(locale: str | None) -> str | None:
    """A requester's locale as a host sends it → a note language, or None when not one we write.

    The one reader of every host's form (``Ticket.requester_locale`` keeps it as sent):

    - codes: ``uk``, ``uk-UA``, ``uk_UA``, ``en-US``, ``EN`` (the generic format; Freshdesk's
      ``{{ticket.requester.language}}``, a code of its ``config/languages.yml``: ``en``,
      ``uk``, ``ru-RU``, ``pt-BR``; a Zendesk user's ``locale``, which the poll reads);
    - names: ``English``, ``Українська``, ``Ukrainian`` and Zendesk's forms of them: its
      ``{{ticket.requester.language}}`` renders the locale's name (``'Italiano'`` in
      Zendesk's own case-statement example), its Locales API names regional locales with a
      parenthesis (``English (United Kingdom)``) and presents them as ``Spanish - español``.

    ``ru_RU``, ``Deutsch`` and any other language we write no notes in give None (the default).
    """
    if not locale:
        return None
    text = locale.strip().casefold()
    code = text.replace("_", "-").split("-", 1)[0]
    if code in LANGUAGES:
        return code
    # "english (united kingdom)" → "english"; "ukrainian - українська" → either half
    name = _PARENTHESIS.sub(" ", text)
    for part in (name, *name.split(" - ")):
        lang = _LOCALE_WORDS.get(" ".join(part.split()))
        if lang:
            return lang
    return None


def company_language(rules: LanguageSettings, company: str | None) -> str | None:
    """The language configured for ``company`` (companies.yaml or routing), or None."""
    table: Mapping[str, str] = rules.company_language
    if not company:
        return None
    return table.get(company) or table.get(company.casefold())


def language_for(rules: LanguageSettings, company: str | None, locale: str | None = None,
                 visibility: str = "client") -> str:
    """The language of a note to ``company`` (the accessor the cabinet uses too)."""
    if visibility == "internal":
        return rules.team_language or rules.language
    return company_language(rules, company) or locale_language(locale) or rules.language


def merged_languages(routing: Mapping[str, str], companies: Mapping[str, str]
                     ) -> dict[str, Any]:
    """routing.companies languages, overridden by companies.yaml (the one place to edit)."""
    return {**routing, **companies}

"""Rendering notification templates in the ticket's language, with placeholders."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any, Protocol

from rules.companies import LanguageSettings, language_for


class Texts(Protocol):
    """A template's text per language (:class:`rules.config.model.Template`)."""

    @property
    def texts(self) -> Mapping[str, str]: ...

    @property
    def visibility(self) -> str: ...


class Languages(LanguageSettings, Protocol):
    """What rendering needs of a :class:`~rules.config.model.RuleSet`: the language settings
    and the templates.

    A protocol, not the class: the rule set holds the actions, which import this module.
    """

    @property
    def templates(self) -> Mapping[str, Texts]: ...


_FORMATS = {"uk": "%d.%m.%Y %H:%M", "en": "%a %d %b %Y, %H:%M"}
#: a day alone (the daily cap's day): the weekday by name, never "today"; Ukrainian in the
#: accusative the templates use it in ("в суботу 05.12")
_WEEKDAYS = {
    "uk": ("понеділок", "вівторок", "середу", "четвер", "п'ятницю", "суботу", "неділю"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


#: plural categories per language, in the order a text lists a number's forms:
#: ``{idle_days:day|days}`` (en: one|other), ``{idle_days:день|дні|днів}`` (uk: one|few|many;
#: a fraction takes the last form). Another language uses the English rule.
PLURAL_CATEGORIES = {"en": ("one", "other"), "uk": ("one", "few", "many")}


def plural_index(n: Any, lang: str) -> int:
    """Which of the language's forms (:data:`PLURAL_CATEGORIES`) the number ``n`` takes."""
    whole = isinstance(n, int) and not isinstance(n, bool)  # a float shows a fraction ("1.0")
    if lang == "uk":
        if not whole:
            return 2
        k = abs(int(n))
        if k % 10 == 1 and k % 100 != 11:
            return 0
        return 1 if 2 <= k % 10 <= 4 and not 12 <= k % 100 <= 14 else 2
    return 0 if whole and n == 1 else 1


def counted(n: Any, forms: str, lang: str) -> str:
    """``n`` with the noun form that agrees with it: ``counted(1, "day|days", "en")`` is
    ``1 day``; ``forms`` lists the language's :data:`PLURAL_CATEGORIES` joined by ``|``."""
    words = forms.split("|")
    if not isinstance(n, int | float) or isinstance(n, bool):
        return f"{fmt_value(n, lang)} {words[-1]}"
    return f"{fmt_value(n, lang)} {words[min(plural_index(n, lang), len(words) - 1)]}"


class _Shown(str):
    """A placeholder's text; a format spec with ``|`` picks the agreeing noun form."""

    raw: Any
    lang: str

    def __format__(self, spec: str) -> str:
        if "|" in spec:
            return counted(self.raw, spec, self.lang)
        return super().__format__(spec)


class _Values(dict):
    """Formats a placeholder only when the template uses it."""

    def __init__(self, raw: Mapping[str, Any], lang: str) -> None:
        super().__init__()
        self.raw, self.lang = raw, lang

    def __missing__(self, key: str) -> str:
        shown = _Shown(fmt_value(self.raw.get(key), self.lang))
        shown.raw, shown.lang = self.raw.get(key), self.lang
        return shown


def fill(text: str, lang: str, values: Mapping[str, Any]) -> str:
    """``text`` (a note template, a page text) with its placeholders: dates, per-language
    labels and ``{n:one|other}`` plurals in ``lang``."""
    return text.format_map(_Values(values, lang))


class TemplateParams(Mapping[str, Any]):
    """Action params whose ``text`` is rendered from ``template`` on first read.

    Evaluation only names the template; the text is formatted when the action is executed
    or explained (dates are the costly part of an evaluation otherwise). The values it
    reads are the decision's final ones, so the text is the same whenever it is rendered.
    """

    __slots__ = ("_params", "_render", "_text")

    def __init__(self, params: Mapping[str, Any], render: Callable[[], str]) -> None:
        self._params, self._render = params, render
        self._text: str | None = None

    def __getitem__(self, key: str) -> Any:
        if key == "text":
            if self._text is None:
                self._text = self._render()
            return self._text
        return self._params[key]

    def __contains__(self, key: object) -> bool:
        return key == "text" or key in self._params

    def __iter__(self) -> Iterator[str]:
        yield from self._params
        yield "text"

    def __len__(self) -> int:
        return len(self._params) + 1

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled (e.g. into a job) as the plain rendered dict: the closure cannot travel
        return (dict, (dict(self),))


class PerLanguage(dict[str, str]):
    """A value with one text per language (a task type's label): the note's language picks,
    else ``fallback`` (the rule set's default language), else ``default``."""

    def __init__(self, texts: Mapping[str, str], fallback: str, default: str) -> None:
        super().__init__(texts)
        self.fallback, self.default = fallback, default

    def pick(self, lang: str) -> str:
        return self.get(lang) or self.get(self.fallback) or self.default

    def __str__(self) -> str:
        return self.pick(self.fallback)


def fmt_value(value: Any, lang: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, PerLanguage):
        return value.pick(lang)
    if isinstance(value, datetime):
        return value.strftime(_FORMATS.get(lang, _FORMATS["en"])) + f" ({value:%Z})"
    if isinstance(value, date):
        names = _WEEKDAYS.get(lang, _WEEKDAYS["en"])
        return f"{names[value.weekday()]} {value:%d.%m}"
    return str(value)


def renderer(
    rules: Languages, values: Callable[[], Mapping[str, Any]], company: str | None,
    locale: str | None = None,
) -> Callable[[str], str]:
    """``render(template_name) -> text``: client notes in the company's language (config,
    else the requester's locale), internal ones in the team's (else the default, else en)."""
    client = language_for(rules, company, locale)
    team = language_for(rules, company, locale, visibility="internal")

    def render(name: str) -> str:
        tmpl = rules.templates[name]
        lang = team if tmpl.visibility == "internal" else client
        use = (
            lang
            if lang in tmpl.texts
            else (rules.language if rules.language in tmpl.texts else next(iter(tmpl.texts)))
        )
        return fill(tmpl.texts[use], use, values())

    return render

"""The templates Deskpilot's own code writes to the team (issue 17: no texts in code).

Automations name the templates they use, and ``rules check`` checks those names. The notes
below are written by Deskpilot itself (a write the helpdesk refused, a rejected rules edit,
a time log's comment, the daily digest and the weekly report), so no rule names them: they
are listed here with the placeholders each may use. All are internal: rendered in
``defaults.team_language`` (:func:`rules.templates.renderer`).

A rules directory that lacks some of them (one copied by an older ``deskpilot init``) still
loads: ``rules check`` warns, naming them, and the plugin renders those from the packaged
defaults (``plugin.team_texts``) in the team's language. One that is there is checked like
every template (languages, visibility ``internal``, its own placeholders).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.config.source import PathKey, Problem, Source

#: the KPI lines of the digest, each a template ``digest_kpi_<key>`` (its label)
DIGEST_KPIS = ("within_1_day", "within_1_hour", "on_time", "first_time_resolution",
               "first_response_median", "first_response_p90", "messages_per_ticket",
               "csat_avg", "csat_satisfied", "nps", "solved_per_specialist_day", "stuck")

_KPI_LINE = ("kpi", "value")

#: template name -> the placeholders it may use
TEAM_TEMPLATES: Mapping[str, tuple[str, ...]] = {
    # a write the helpdesk refused (plugin.outbox.refusals): the note, one line per write,
    # and what each write was
    "refused_writes": ("refused", "refused_count"),
    "refused_write": ("write", "host_status", "host_message", "outbox_id"),
    "refused_client_message": (),
    "refused_internal_note": (),
    "refused_fields": ("fields", "field_count"),
    "refused_deadlines": ("deadlines", "deadline_count"),
    "refused_host_due": (),
    "refused_status": ("status",),
    "refused_assignee": (),
    "refused_balance": (),
    "refused_time": ("minutes",),
    # a rules edit rejected on reload (plugin.rules_runtime), on the admin ticket
    "rules_rejected": ("version", "problems", "problem_count"),
    # the comment a host shows on a time log (django-helpdesk followup, Zendesk private
    # comment)
    "time_logged": ("minutes",),
    "time_logged_note": ("minutes", "note"),
    # the daily digest and the weekly report (plugin.reports.digest), on the digest ticket
    "digest_daily_title": ("period",),
    "digest_weekly_title": ("period",),
    "digest_resolved": ("resolved",),
    "digest_kpi": _KPI_LINE,
    "digest_kpi_met": (*_KPI_LINE, "target"),
    "digest_kpi_missed": (*_KPI_LINE, "target"),
    **{f"digest_kpi_{key}": () for key in DIGEST_KPIS},
    "digest_breaches": ("accept", "first_response", "resolve"),
    "digest_stuck": ("ticket_id", "company", "due", "link"),
    "digest_credits": ("sold", "reserved", "used", "burned", "money"),
    "digest_no_money": (),
    "digest_paid": ("paid", "logged_hours", "estimate_hours", "overruns"),
    "digest_by_manager": (),
    "digest_by_type": (),
    "digest_group": ("name", "resolved", "within_1_day", "on_time", "first_time",
                     "per_day", "stuck"),
}


def check_team_templates(
    items: Mapping[str, tuple[Source, Any]], first: Source | None, problems: list[Problem]
) -> None:
    """Warn once, at the templates section, naming the team templates the files lack."""
    missing = [name for name in TEAM_TEMPLATES if name not in items]
    if not missing:
        return
    src = next(iter(items.values()))[0] if items else first
    if src is None:
        return
    at: PathKey = ("templates",)
    problems.append(src.problem(
        at, f"missing {len(missing)} of Deskpilot's own team templates ({', '.join(missing)}):"
            " their packaged texts are used; copy them from the shipped "
            "config/rules/90-templates.yaml to edit them", "warning"))


def template_problems(src: Source, base: PathKey, name: str, visibility: Any) -> list[Problem]:
    """A team template must be internal (it is written to the team)."""
    if name in TEAM_TEMPLATES and visibility == "client":
        return [src.problem((*base, "visibility"),
                            f"'{name}' is written to the team: visibility must be 'internal'")]
    return []

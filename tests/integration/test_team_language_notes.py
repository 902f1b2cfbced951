"""Issue 17: Deskpilot's own notes to the team are templates, written in the team language.

The refused-write note, the rejected-rules note, a time log's comment and the digests come
from ``config/rules/90-templates.yaml`` (``rules/config/team_templates.py``), rendered by
the one renderer as internal notes: ``defaults.team_language`` (shipped ``uk``), switched to
``en`` here in a copy of the shipped config. Each is produced through its real path.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import responses
from sqlalchemy import select

from plugin.context import Context, set_context
from plugin.hosts import make_client
from plugin.outbox.commands import Command
from plugin.outbox.push import PushFailed, push_ticket
from plugin.outbox.rows import OutboxRow, add_commands
from plugin.processing.apply import command_for
from plugin.reports.digest import daily_period, weekly_period
from plugin.reports.schedule import build_text
from plugin.rules_runtime import RulesHolder, note_admin_ticket
from plugin.settings import Connection, Secret
from rules.config.loader import load_rules
from rules.decision import Action
from tests.jobs_support import SECRET, connections_context

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
BASE = "http://host.test"


def team_config(tmp_path: Path, lang: str) -> Path:
    """A copy of the shipped config with ``defaults.team_language: <lang>``."""
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config,
                    ignore=shutil.ignore_patterns("tests", "deskpilot*.yaml"))
    service = config / "rules" / "00-service.yaml"
    text = service.read_text(encoding="utf-8")
    assert "\n  team_language: uk " in text
    service.write_text(text.replace("\n  team_language: uk ", f"\n  team_language: {lang} "),
                       encoding="utf-8")
    return config


@pytest.fixture(params=["uk", "en"])
def team(request: Any, sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, Context]]:
    conn = {"name": "h", "kind": "generic", "base_url": BASE, "inline_push": False,
            "webhook_secrets": [SECRET], "callback_url": f"{BASE}/callback",
            "credentials": {"callback_secret": "callback-secret-of-its-own"}}
    ctx = connections_context(sqlite_url, [conn], var_dir=str(tmp_path),
                              config_dir=str(team_config(tmp_path, request.param)),
                              settings={"rules_admin_ticket": "h:ADMIN-1"})
    yield request.param, ctx
    set_context(None)
    ctx.close()


def _rows(ctx: Context) -> list[OutboxRow]:
    with ctx.db.session() as s:
        return list(s.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars())


@responses.activate
def test_the_refused_write_note_is_in_the_team_language(team: tuple[str, Context]) -> None:
    lang, ctx = team

    def refuse_units(request: Any) -> tuple[int, dict[str, str], str]:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        if '"units"' in body:
            return 422, {}, json.dumps({"error": "units is not a number"})
        return 200, {}, "{}"

    responses.add_callback(responses.POST, f"{BASE}/callback", callback=refuse_units)
    with ctx.db.session() as s:
        add_commands(s, "h", "4", [Command.set_fields(units=1),
                                   Command.add_note("Accepted.", "client")],
                     "event:1", NOW, company_id="acme")
    with pytest.raises(PushFailed):
        push_ticket("h", "4", NOW)
    rows = _rows(ctx)
    refused, note = rows[0], rows[-1]
    assert refused.refused_status == 422
    message = (refused.last_error or "").split(": ", 1)[1]
    body = note.command["data"]["body"]
    assert note.command["data"]["visibility"] == "internal"
    assert body == {
        "uk": f"Хелпдеск відмовив Deskpilot у 1 записі в цю задачу:\n"
              f"- units (1 поле): HTTP 422: {message} (outbox #{refused.id})\n"
              "Усе інше записано. Адміністратор може надіслати запис повторно, виправивши "
              "поле чи конфігурацію: deskpilot outbox resend <id>.",
        "en": f"The helpdesk refused 1 write Deskpilot made to this ticket:\n"
              f"- units (1 field): HTTP 422: {message} (outbox #{refused.id})\n"
              "Everything else was written. An admin can resend it after fixing the field "
              "or the configuration: deskpilot outbox resend <id>.",
    }[lang]


def test_the_rejected_rules_note_is_in_the_team_language(team: tuple[str, Context]) -> None:
    lang, ctx = team
    config = ctx.settings.config_dir
    holder = RulesHolder(config, min_interval=0, on_error=note_admin_ticket)
    assert holder.rules.team_language == lang
    broken = config / "rules" / "10-classify.yaml"
    broken.write_text(broken.read_text().replace("type: bug", "type: bgu", 1))
    assert holder.reload() is False
    [problem] = holder.errors
    [row] = _rows(ctx)
    assert (row.connection, row.ticket_id) == ("h", "ADMIN-1")
    version = holder._disk_version
    assert row.command["data"] == {"visibility": "internal", "body": {
        "uk": f"Зміну правил {version} відхилено (1 помилка); діють попередні правила.\n"
              f"{problem}",
        "en": f"Rules edit {version} rejected (1 problem); the previous rules stay in force.\n"
              f"{problem}",
    }[lang]}


DIGESTS = {
    "uk": ("Щоденний звіт Deskpilot: 2026-11-15\n"
           "Вирішено 0 задач\n"
           "- Застряглі задачі: 0 (ціль <= 0) так\n"
           "Порушення термінів: прийом 0, перша відповідь 0, виконання 0\n"
           "Кредити: продано 0, зарезервовано 0, використано 0, згоріло 0; "
           "виставлено рахунків на 0",
           "Тижневий звіт Deskpilot: 2026-11-09 – 2026-11-15\n"
           "Вирішено 0 задач\n"
           "- Застряглі задачі: 0 (ціль <= 0) так\n"
           "Порушення термінів: прийом 0, перша відповідь 0, виконання 0\n"
           "Кредити: продано 0, зарезервовано 0, використано 0, згоріло 0; "
           "виставлено рахунків на 0\n"
           "0 платних задач: записано 0.0 год з 0.0 год оцінки, понад оцінку: 0\n"
           "За менеджерами:\n"
           "За типами задач:"),
    "en": ("Deskpilot daily digest: 2026-11-15\n"
           "Resolved: 0 tasks\n"
           "- Stuck tasks: 0 (target <= 0) ok\n"
           "Breaches: acceptance 0, first response 0, resolution 0\n"
           "Credits: sold 0, reserved 0, used 0, burned 0; money billed none",
           "Deskpilot weekly report: 2026-11-09 – 2026-11-15\n"
           "Resolved: 0 tasks\n"
           "- Stuck tasks: 0 (target <= 0) ok\n"
           "Breaches: acceptance 0, first response 0, resolution 0\n"
           "Credits: sold 0, reserved 0, used 0, burned 0; money billed none\n"
           "0 paid tasks: 0.0 h logged of 0.0 h estimated, 0 over estimate\n"
           "By manager:\n"
           "By type:"),
}


def test_the_digests_are_in_the_team_language(team: tuple[str, Context]) -> None:
    """A quiet period, every line there is; the lines a busy one adds (KPIs against their
    targets, stuck tasks, per manager and type) are in test_reports_interfaces."""
    lang, ctx = team
    now = datetime(2026, 11, 16, 9, 30, tzinfo=ZoneInfo("Europe/Kyiv"))
    daily, _ = build_text(ctx, now, daily_period, False)
    weekly, key = build_text(ctx, now, weekly_period, True)
    assert key == "2026-11-09"
    assert (daily, weekly) == DIGESTS[lang]


TIME_LOGGED = {"uk": ("Записано час роботи: 5 хвилин.",
                      "Записано час роботи: 1 хвилину. the import"),
               "en": ("Time logged: 5 minutes.", "Time logged: 1 minute. the import")}


@pytest.mark.parametrize("lang", ["uk", "en"])
@responses.activate
def test_a_time_logs_comment_is_in_the_team_language(tmp_path: Path, lang: str) -> None:
    """The comment django-helpdesk shows on a followup that carries only time (internal,
    staff see it) and the private comment Zendesk gets for a log with a note."""
    rules = load_rules(team_config(tmp_path, lang))
    plain = command_for(Action("log_time", {"minutes": 5}), rules)
    noted = command_for(Action("log_time", {"minutes": 1, "note": "the import"}), rules)
    assert plain is not None and noted is not None
    assert (plain.data["comment"], noted.data["comment"]) == TIME_LOGGED[lang]

    dh = Connection(name="dh", kind="django_helpdesk", base_url=BASE,
                    credentials={"token": Secret("k")})
    responses.get(f"{BASE}/api/tickets/4/", json={"id": 4, "status": 1, "resolution": None})
    responses.post(f"{BASE}/api/followups/", status=201, json={})
    with make_client(dh, sleep=lambda s: None) as client:
        client.push("4", [plain], idempotency_key="k1")
    followup = json.loads(responses.calls[-1].request.body or "")
    assert followup == {"ticket": 4, "comment": TIME_LOGGED[lang][0], "public": False,
                        "time_spent": "00:05:00"}

    zd = Connection(name="zd", kind="zendesk", base_url=BASE,
                    credentials={"email": "a@b.c", "api_token": Secret("t")},
                    field_map={"time_total": 80, "time_last": 81})
    responses.get(f"{BASE}/api/v2/tickets/4",
                  json={"ticket": {"id": 4, "custom_fields": [{"id": 80, "value": 0}]}})
    responses.put(f"{BASE}/api/v2/tickets/4", json={"ticket": {"id": 4}})
    with make_client(zd, sleep=lambda s: None) as client:
        client.push("4", [noted], idempotency_key="k2")
    comments = [json.loads(c.request.body or "")["ticket"].get("comment")
                for c in responses.calls if c.request.method == "PUT"]
    assert {"body": TIME_LOGGED[lang][1], "public": False} in comments

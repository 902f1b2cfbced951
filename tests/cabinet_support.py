"""The client cabinet's scripted lifecycle, run through the real path (stored event ->
processing job -> rules -> ledger -> outbox) on a copy of the shipped config where company
``acme`` works in New York (its own calendar, English) with manager ``olena`` (Kyiv, split
shift), and ``globex`` is a second company that must never show in acme's cabinet."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from plugin import ledger
from plugin.context import Context, build_context, set_context
from plugin.processing.process import process_event
from plugin.settings import load_settings
from plugin.storage.models import Company, EventState
from tests.jobs_support import payload, store

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-for-tests"
#: the cabinet's clock: Thursday 19 Nov 2026, 10:00 in New York, 17:00 in Kyiv
NOW = datetime(2026, 11, 19, 15, 0, tzinfo=UTC)
NY = "-05:00"
CALENDARS = {
    "acme_hours": {"timezone": "America/New_York", "week": {"mon-fri": "08:00-17:00"}},
    "manager_olena": {"timezone": "Europe/Kyiv",
                      "week": {"mon-thu": "08:00-12:00, 13:00-17:00", "fri": "08:00-14:00"}},
}


def make_config(tmp: Path) -> Path:
    """A copy of the shipped config with acme's calendar, language and manager routed."""
    config = tmp / "config"
    shutil.copytree(ROOT / "config", config)
    cal_path = config / "calendars.yaml"
    cals = yaml.safe_load(cal_path.read_text(encoding="utf-8"))
    cals["calendars"].update(CALENDARS)
    cal_path.write_text(yaml.safe_dump(cals, allow_unicode=True), encoding="utf-8")
    svc_path = config / "rules" / "00-service.yaml"
    svc = yaml.safe_load(svc_path.read_text(encoding="utf-8"))
    svc["routing"] = {
        "max_companies_per_manager": 10,
        "managers": {"olena": {"calendar": "manager_olena", "companies": ["acme", "globex"]}},
        "companies": {"acme": {"calendar": "acme_hours", "language": "en"}},
    }
    svc_path.write_text(yaml.safe_dump(svc, allow_unicode=True), encoding="utf-8")
    return config


#: a django-helpdesk beside the generic host: its tickets carry the queue slug reference
HELPDESK = {"name": "helpdesk", "kind": "django_helpdesk",
            "base_url": "https://helpdesk.example/helpdesk", "inline_push": False,
            "credentials": {"token": "dh-token"}, "webhook_tokens": ["dh-" + "t" * 40],
            "company_from": {"source": "email_domain", "map": {"acme.example": "acme"}}}


def make_ctx(db_url: str, tmp: Path) -> Context:
    import plugin.tables  # noqa: F401 - every table on Base.metadata

    settings = load_settings(env={}, overrides={
        "database_url": db_url, "redis_url": None, "config_dir": str(make_config(tmp)),
        "var_dir": str(tmp / "var"), "public_url": "https://desk.example",
        "connections": [{"name": "generic", "kind": "generic", "webhook_secrets": [SECRET],
                         # the team's link (dashboard) and the client's (cabinet) differ
                         "options": {"ticket_url": "https://host.example/t/{id}",
                                     "client_ticket_url": "https://portal.example/r/{id}"}},
                        HELPDESK],
    })
    ctx = build_context(settings)
    ctx.db.create_all()
    set_context(ctx)
    return ctx


SUBJECTS = {
    "T-1": "How do I export the monthly report?",
    "T-2": "Set up the new warehouse and its users",
    "T-3": "New feature: CSV export of invoices",
    "G-1": "Globex secret project question",
}


def _run(ctx: Context, tid: str, n: int, event: str, at: str, company: str = "acme",
         **kw: Any) -> None:
    body = payload(tid, event, at, company=company, created=kw.pop("created", None), **kw)
    body["ticket"]["subject"] = SUBJECTS[tid]
    when = datetime.fromisoformat(at)
    assert process_event(store(ctx, body, f"{tid}-{n}"), when) == EventState.PROCESSED


def _buy(ctx: Context, company: str, at: datetime, expires: datetime | None = None) -> None:
    with ctx.db.session() as s:
        if s.get(Company, company) is None:
            s.add(Company(id=company, name=company.upper() + " Corp"))
            s.flush()
        ledger.purchase(s, company, 10, Decimal("350"), "UAH", at, expires_at=expires)


def lifecycle(ctx: Context) -> None:
    """Purchases, an expiry, and three tasks of different types: T-1 simple and late,
    T-2 composite waiting for the client, T-3 an enhancement in progress with time logged.
    Globex gets a package and a task of its own."""
    # package A expires unused on 1 Nov; the expiry job burns it the next night
    _buy(ctx, "acme", datetime(2026, 8, 3, 9, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    with ctx.db.session() as s:
        ledger.expire_lots(s, datetime(2026, 11, 2, 0, 5, tzinfo=UTC))
    # package B expires in a week (expiring soon); package C lasts the plan's 90 days
    _buy(ctx, "acme", datetime(2026, 11, 2, 9, tzinfo=UTC), NOW + timedelta(days=7))
    _buy(ctx, "acme", datetime(2026, 11, 16, 12, tzinfo=UTC))
    _buy(ctx, "globex", datetime(2026, 11, 10, 9, tzinfo=UTC))

    created = f"2026-11-16T09:00:00{NY}"
    _run(ctx, "T-1", 1, "ticket.created", created, actor="client", created=created)
    _run(ctx, "T-1", 2, "ticket.updated", f"2026-11-16T09:10:00{NY}", status="accepted",
         created=created, changes={"status": ["new", "accepted"]})
    _run(ctx, "T-1", 5, "ticket.commented", f"2026-11-16T09:40:00{NY}", status="accepted",
         created=created, comment={"id": "c-1", "public": True, "body": "Looking into it"})
    _run(ctx, "T-1", 3, "time.logged", f"2026-11-16T11:00:00{NY}", status="accepted",
         created=created, time_entry={"id": "te-1", "minutes": 45, "agent_id": "a-1"})
    # 8 working hours from Monday 09:00 end Monday 17:00: resolved on Tuesday is late
    _run(ctx, "T-1", 4, "ticket.updated", f"2026-11-17T16:00:00{NY}", status="resolved",
         created=created, changes={"status": ["accepted", "resolved"]})

    created = f"2026-11-18T09:00:00{NY}"
    _run(ctx, "T-2", 1, "ticket.created", created, actor="client", created=created)
    _run(ctx, "T-2", 2, "ticket.updated", f"2026-11-18T09:05:00{NY}", status="accepted",
         created=created, fields={"task_type": "composite", "units": 2},
         changes={"status": ["new", "accepted"]})
    _run(ctx, "T-2", 3, "ticket.updated", f"2026-11-18T11:00:00{NY}", status="waiting_client",
         created=created, fields={"task_type": "composite", "units": 2},
         changes={"status": ["accepted", "waiting_client"]})

    created = f"2026-11-19T08:30:00{NY}"
    fields = {"task_type": "enhancement", "estimate_hours": 4}
    _run(ctx, "T-3", 1, "ticket.created", created, actor="client", created=created)
    _run(ctx, "T-3", 2, "ticket.updated", f"2026-11-19T08:40:00{NY}", status="in_progress",
         created=created, fields=fields, changes={"status": ["new", "in_progress"]})
    _run(ctx, "T-3", 3, "time.logged", f"2026-11-19T09:30:00{NY}", status="in_progress",
         created=created, fields=fields,
         time_entry={"id": "te-3", "minutes": 90, "agent_id": "a-1"})

    created = "2026-11-17T10:00:00+02:00"
    _run(ctx, "G-1", 1, "ticket.created", created, company="globex", actor="client",
         created=created)
    _run(ctx, "G-1", 2, "ticket.updated", "2026-11-17T10:20:00+02:00", company="globex",
         status="resolved", created=created, changes={"status": ["new", "resolved"]})


def helpdesk_ticket(ctx: Context, ticket_id: int, submitter: str, at: datetime,
                    answered_at: datetime | None = None) -> None:
    """A composite ticket of 2 units filed on the django-helpdesk in queue ``support``
    (reference ``support-<id>``) at ``at``, and answered by an agent at ``answered_at``
    (accepted: its credits reserved), through the adapter and the processing job."""
    import json

    from plugin.storage.models import Event
    from webhooks.hosts import django_helpdesk

    names = ["ticket_created"] + (["comment_added"] if answered_at else [])
    for name, when in zip(names, (at, answered_at), strict=False):
        assert when is not None
        data = json.loads((ROOT / "tests" / "fixtures" / "django_helpdesk" / f"{name}.json")
                          .read_text(encoding="utf-8"))
        t = data["ticket"]
        t.update(id=ticket_id, submitter_email=submitter, due_date=None,
                 title="Printer on the 2nd floor is offline")
        for f, f_at in zip(t["followup_set"], (at, answered_at), strict=False):
            f.update(ticket=ticket_id, date=(f_at or at).isoformat())
        raw = json.dumps(data).encode()
        (ev,) = django_helpdesk.parse(raw, {}, ctx.settings.connection("helpdesk"))
        with ctx.db.session() as s:
            row = Event(connection="helpdesk", delivery_key=ev.delivery_key,
                        body_sha256="x" * 64, received_at=when, headers={}, body=raw,
                        event_type=ev.event, ticket_id=ev.ticket.id,
                        occurred_at=ev.occurred_at, state=EventState.QUEUED, attempts=0)
            s.add(row)
        assert process_event(row.id, when) == EventState.PROCESSED


def issue_link(ctx: Context, company: str, days: int | None = None,
               at: datetime = NOW) -> str:
    from plugin.cabinet.links import issue

    with ctx.db.session() as s:
        return issue(s, company, at, days).token

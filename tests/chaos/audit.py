"""The final accounting of a chaos run: what was accepted, processed, debited and delivered.

Expectations come from what Deskpilot *stored* (every stored delivery is accepted in effect,
even one whose 202 was lost to a dropped connection), checked against what the senders were
told: an answer of 202/200 for a delivery that is not stored is a lost event.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from plugin.ledger.models import CreditEntry
from plugin.outbox.commands import coalesce
from plugin.outbox.rows import OutboxRow, OutboxState
from plugin.storage.db import Database
from plugin.storage.models import Event, EventState, Ticket
from tests.chaos.harness import HostRecord
from tests.chaos.stream import Delivery, SendLog


@dataclass
class Audit:
    """Every figure of the run and every problem found, readable in a failure message."""

    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return int(self.figures.get("lost", 0))

    @property
    def doubled(self) -> int:
        return int(self.figures.get("doubled", 0))

    def line(self) -> str:
        keys = ("sent", "accepted", "processed", "retried", "lost", "doubled")
        return " ".join(f"{k}={self.figures.get(k)}" for k in keys)


def _identity(ticket: str, command: dict[str, Any]) -> str:
    return ticket + "|" + json.dumps(command, sort_keys=True, default=str)


def audit(db_url: str, deliveries: list[Delivery], sends: SendLog, host: HostRecord,
          queue_depth: dict[str, int]) -> Audit:
    a = Audit()
    db = Database(db_url)
    try:
        with db.session() as s:
            events = {e.delivery_key: e for e in s.execute(select(Event)).scalars()}
            tickets = {t.host_ticket_id: t for t in s.execute(select(Ticket)).scalars()}
            entries = list(s.execute(select(CreditEntry)).scalars())
            rows = list(s.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars())
            balances = _balances(s, {e.company_id for e in entries})
    finally:
        db.dispose()
    by_id = {d.delivery_id: d for d in deliveries}
    stored = set(events)
    lost_events = sorted(d for d in sends.accepted if d not in stored)
    unprocessed = sorted(k for k, e in events.items()
                         if e.state not in (EventState.PROCESSED, EventState.IGNORED))
    for d in lost_events:
        a.problems.append(f"accepted but not stored: {d}")
    for k in unprocessed:
        e = events[k]
        a.problems.append(f"not processed: {k} state={e.state} attempts={e.attempts} "
                          f"error={(e.last_error or '')[:200]}")

    # ledger: per ticket, the net debit equals the units when the resolution was stored
    lost_debits = doubled_debits = 0
    net: dict[str, int] = defaultdict(int)
    reserved: dict[str, int] = defaultdict(int)
    debit_rows: Counter[tuple[str, int | None]] = Counter()
    for en in entries:
        if en.ticket_key:
            tid = en.ticket_key.split(":", 1)[1]
            if en.kind in ("debit", "reversal"):
                net[tid] += en.units
            reserved[tid] += en.reserved
            if en.kind == "debit":
                debit_rows[(en.ticket_key, en.cycle)] += 1
    resolved = {by_id[k].ticket_id for k in stored if k in by_id and by_id[k].kind == "resolved"}
    accepted_t = {by_id[k].ticket_id for k in stored if k in by_id and by_id[k].kind == "accepted"}
    units = {d.ticket_id: d.units for d in deliveries}
    for tid in sorted(set(units)):
        want = -units[tid] if tid in resolved else 0
        got = net.get(tid, 0)
        if got < want:
            doubled_debits += 1
            a.problems.append(f"ticket {tid}: debited {-got}, expected {-want}")
        elif got > want:
            lost_debits += 1
            a.problems.append(f"ticket {tid}: debited {-got}, expected {-want}")
        if tid in resolved and reserved.get(tid, 0) != 0:
            a.problems.append(f"ticket {tid}: resolved but {reserved[tid]} still reserved")
        if tid in accepted_t and tid not in resolved and reserved.get(tid, 0) != units[tid]:
            a.problems.append(f"ticket {tid}: accepted, reserved {reserved.get(tid, 0)}")
        t = tickets.get(tid)
        if tid in resolved and (t is None or t.status != "resolved"):
            a.problems.append(f"ticket {tid}: status {t.status if t else None}, not resolved")
    for (tkey, cycle), n in debit_rows.items():
        if n > 1:
            a.problems.append(f"{tkey} cycle {cycle}: {n} debit entries")
    for company, (summed, bal) in balances.items():
        if summed != bal:
            a.problems.append(f"company {company}: entries sum {summed} != balance {bal}")

    # host: every outbox row sent once, in exactly the batch it was claimed in
    stuck_rows = [r for r in rows if r.state != OutboxState.SENT]
    for r in stuck_rows:
        a.problems.append(f"outbox row {r.id} ({r.ticket_id}) {r.state} attempts={r.attempts} "
                          f"error={(r.last_error or '')[:200]}")
    batches: dict[str, list[OutboxRow]] = defaultdict(list)
    for r in rows:
        if r.batch_key:
            batches[r.batch_key].append(r)
    # what each claimed batch may put at the host (any state: a batch whose answer was
    # lost is at the host before its rows say sent), and what the sent ones must have put
    claimed: Counter[str] = Counter()
    expected: Counter[str] = Counter()
    received: Counter[str] = Counter()
    for members in batches.values():
        ids = Counter(_identity(members[0].ticket_id, {"type": c.type, **c.to_json()["data"]})
                      for c in coalesce([r.to_command() for r in members]))
        claimed += ids
        if all(r.state == OutboxState.SENT for r in members):
            expected += ids
    # a copy: the fake host may still be receiving (a load run's pushes still draining)
    for key, payload in dict(host.deliveries).items():
        if key not in batches:
            a.problems.append(f"host got delivery {key} that no outbox batch has")
        for c in payload.get("commands", []):
            received[_identity(str(payload.get("ticket_id")), c)] += 1
    doubled_cmds = sum((received - claimed).values())
    lost_cmds = sum((expected - received).values())
    if doubled_cmds or lost_cmds:
        a.problems.append(f"host commands: {doubled_cmds} extra, {lost_cmds} missing")
    for name, depth in queue_depth.items():
        if depth:
            a.problems.append(f"queue {name} still holds {depth}")

    processed = sum(1 for e in events.values() if e.state == EventState.PROCESSED)
    a.figures.update({
        "sent": sends.sent, "accepted": len(sends.accepted), "stored": len(stored),
        "processed": processed, "retried": sends.retries,
        "push_attempts": sum(r.attempts for r in rows), "outbox_rows": len(rows),
        "host_calls": host.calls, "host_faults": dict(host.faults),
        "host_deliveries": len(host.deliveries),
        "host_redeliveries": sum(dict(host.repeats).values()),
        "given_up": len(sends.given_up - stored),
        "lost": len(lost_events) + len(unprocessed) + lost_debits + lost_cmds + len(stuck_rows),
        "doubled": doubled_debits + doubled_cmds + sum(n - 1 for n in debit_rows.values()),
        "problems": len(a.problems),
        "unprocessed_ids": [events[k].id for k in unprocessed],
    })
    return a


def _balances(session: Any, companies: set[str]) -> dict[str, tuple[int, int]]:
    from plugin import ledger

    out = {}
    now = datetime.now(UTC)
    for company in sorted(companies):
        summed = sum(e.units for e in session.execute(
            select(CreditEntry).where(CreditEntry.company_id == company)).scalars())
        out[company] = (summed, int(ledger.balance(session, company, now).balance))
    return out

"""The human view of ``deskpilot rules explain``: rules and conditions with ✓/✗, timelines."""

from __future__ import annotations

from typing import Any

from rules.decision import Decision, iso


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def _conditions(items: list[dict[str, Any]], indent: str, out: list[str]) -> None:
    for c in items:
        if "group" in c:
            out.append(f"{indent}{_mark(c['ok'])} {c['group']}:")
            _conditions(c["conditions"], indent + "    ", out)
        else:
            out.append(
                f"{indent}{_mark(c['ok'])} {c['field']} {c['op']} {c['value']!r}"
                f"  (actual: {c['actual']!r})"
            )


def render(d: Decision) -> str:
    """A readable explanation of ``d``."""
    out = [
        f"ticket {d.ticket_id}: {d.task_type} × {d.units}  (rule: {d.rule}, calendar: {d.calendar})"
    ]
    if d.ignored:
        out.append(f"ignored: {d.ignored}")
    out.append("")
    out.append("rules:")
    for t in d.trace:
        kept = "  (kept from filing)" if t.get("kept") else ""
        out.append(f"  {_mark(t['matched'])} {t['rule']}{kept}")
        _conditions(list(t["conditions"]), "      ", out)
    out.append("")
    out.append("deadlines:")
    for name in ("accept", "first_response", "resolve"):
        due = getattr(d, f"{name}_due")
        out.append(f"  {name}: {iso(due) or '—'}")
        for e in d.timelines.get(name, ()):
            out.append(f"      {e.kind:8} {e.label}  ({e.minutes} min)")
    if d.deferred_to:
        out.append(f"  deferred to: {iso(d.deferred_to)}")
    out.append("")
    money = f" + {d.money.amount} {d.money.currency}" if d.money else ""
    out.append(f"credits on completion: {d.credits_on_resolve}{money}")
    for op in d.credit_ops:
        out.append(f"  {op.kind} {op.units}  [{op.key}] {op.reason}")
    if d.transitions.names():
        out.append(f"transitions: {', '.join(d.transitions.names())}")
    if d.flags:
        out.append(f"flags: {', '.join(d.flags)}")
    out.append("actions:")
    for a in d.actions:
        js = a.to_json()
        text = js.pop("text", None)
        out.append(f"  {js}")
        if text:
            out.append(f"      “{text}”")
    out.append(f"rules version: {d.rules_version}")
    return "\n".join(out)

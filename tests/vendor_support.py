"""Vendor-shaped bodies shared by the vendor-format tests: our shipped templates filled the
way Zendesk and Freshdesk fill placeholders (see tests/unit/test_vendor_formats_*.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).parent.parent / "webhooks" / "hosts" / "templates"


def render(template: str, values: dict[str, str]) -> dict[str, Any]:
    """Fill ``{{placeholder}}``s as the host does: JSON-escaped text, unknown ones empty."""
    text = (TEMPLATES / template).read_text()
    out, rest = [], text
    while "{{" in rest:
        head, _, tail = rest.partition("{{")
        name, _, rest = tail.partition("}}")
        out.append(head + json.dumps(values.get(name.strip(), ""))[1:-1])
    return json.loads("".join(out) + rest)


ZENDESK = {
    "ticket.id": "4512", "ticket.title": "Printer \"HP 4\" offline", "ticket.description":
    "It stopped\nprinting.", "ticket.status": "Open", "ticket.priority": "-",
    "ticket.via": "Mail", "ticket.tags": "vip printers",
    "ticket.created_at_with_timestamp": "2026-12-04T08:00Z",
    "ticket.updated_at_with_timestamp": "2026-12-04T10:10Z",
    "ticket.requester.id": "9001", "ticket.requester.email": "olena@acme.example",
    "ticket.organization.id": "77", "ticket.organization.name": "ACME Ltd",
    "ticket.latest_comment.is_public": "true", "ticket.latest_comment.value": "On it.",
    "ticket.latest_comment.author.id": "12", "current_user.id": "12",
    "current_user.role": "Agent",
}
FRESHDESK = {
    "ticket.id": "88", "ticket.subject": "Printer offline", "ticket.status": "Open",
    "ticket.priority": "Medium", "ticket.source": "Email", "ticket.tags": "vip, printers",
    "ticket.created_on": "2026-12-04 10:00:00 +0200", "ticket.modified_on":
    "2026-12-04 12:10:00 +0200", "ticket.requester.id": "5", "ticket.requester.email":
    "olena@acme.example", "ticket.requester.name": "Olena Koval", "ticket.company.name":
    "ACME Ltd", "ticket.total_time_spent": "26:15", "triggered_event": "{reply_sent:sent}",
    "ticket.latest_public_comment_text": "Ivan Petrenko : On it.",
}

"""Seed the e2e helpdesk: staff users with API tokens, a queue, Deskpilot's custom fields.

Run with the helpdesk venv's Python after ``manage.py migrate``; prints one JSON object with
the ids and tokens the harness needs. Idempotent, so a reused database is fine.
"""

import json
import os
import sys
from typing import Any

import django

#: custom fields Deskpilot reads (type, units) and writes (balance, acceptance deadline)
CUSTOM_FIELDS: list[dict[str, Any]] = [
    {"name": "task_type", "label": "Task type", "data_type": "varchar", "max_length": 32},
    {"name": "units", "label": "Units", "data_type": "integer"},
    {
        "name": "estimate_hours",
        "label": "Estimate (hours)",
        "data_type": "decimal",
        "max_length": 8,
        "decimal_places": 2,
    },
    {"name": "balance", "label": "Credits left", "data_type": "integer"},
    {"name": "accept_due", "label": "Accept by", "data_type": "datetime"},
]


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from helpdesk.models import CustomField, Queue
    from rest_framework.authtoken.models import Token

    users = get_user_model()
    out: dict[str, Any] = {}
    # "deskpilot" is the plugin's own API user (its followups are the loop guard's key);
    # "agent" is the specialist the tests act as.
    for username in ("deskpilot", "agent"):
        user, _ = users.objects.get_or_create(
            username=username,
            defaults={
                "email": f"{username}@support.example",
                "is_staff": True,
                "is_superuser": True,
            },
        )
        token, _ = Token.objects.get_or_create(user=user)
        out[username] = {"id": user.id, "token": token.key}
    queue, _ = Queue.objects.get_or_create(
        slug="support", defaults={"title": "Support", "allow_public_submission": True}
    )
    out["queue"] = {"id": queue.id, "slug": queue.slug}
    for order, spec in enumerate(CUSTOM_FIELDS):
        CustomField.objects.get_or_create(
            name=spec["name"], defaults={**spec, "required": False, "ordering": order}
        )
    out["custom_fields"] = [spec["name"] for spec in CUSTOM_FIELDS]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

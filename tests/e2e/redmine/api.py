"""Redmine's REST API as its users call it: clients file and comment, agents work issues."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests


def parse_time(value: str) -> datetime:
    """Redmine's API times (``2026-12-05T05:37:50Z``) as aware datetimes."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


class RedmineAPI:
    """One Redmine user's API key; every call checks the status it expects."""

    def __init__(self, base_url: str, key: str, custom_fields: dict[str, int]):
        self.base_url = base_url
        self.key = key
        self.fields = custom_fields
        self.session = requests.Session()
        self.session.headers.update({"X-Redmine-API-Key": key})

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200,),
             **kwargs: Any) -> requests.Response:
        resp = self.session.request(method, self.base_url + path, timeout=30, **kwargs)
        assert resp.status_code in expect, (
            f"{method} {path} answered {resp.status_code} (expected {expect}): {resp.text[:500]}"
        )
        return resp

    def custom(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"id": self.fields[k], "value": str(v)} for k, v in values.items()]

    def file_issue(self, project_id: int, tracker_id: int, subject: str,
                   description: str = "", **custom: Any) -> dict[str, Any]:
        issue: dict[str, Any] = {"project_id": project_id, "tracker_id": tracker_id,
                                 "subject": subject, "description": description or subject}
        if custom:
            issue["custom_fields"] = self.custom(custom)
        found: dict[str, Any] = self.call("POST", "/issues.json", (201,),
                                          json={"issue": issue}).json()["issue"]
        return found

    def update(self, issue_id: int, expect: tuple[int, ...] = (204,), *,
               notes: str | None = None, private: bool = False, status_id: int | None = None,
               **custom: Any) -> requests.Response:
        issue: dict[str, Any] = {}
        if notes is not None:
            issue.update(notes=notes, private_notes=private)
        if status_id is not None:
            issue["status_id"] = status_id
        if custom:
            issue["custom_fields"] = self.custom(custom)
        return self.call("PUT", f"/issues/{issue_id}.json", expect, json={"issue": issue})

    def log_time(self, issue_id: int, hours: float, comments: str = "") -> dict[str, Any]:
        entry = {"issue_id": issue_id, "hours": hours, "comments": comments}
        found: dict[str, Any] = self.call("POST", "/time_entries.json", (201,),
                                          json={"time_entry": entry}).json()["time_entry"]
        return found

    def issue(self, issue_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self.call(
            "GET", f"/issues/{issue_id}.json", params={"include": "journals"}).json()["issue"]
        return found

    def journals(self, issue_id: int) -> list[dict[str, Any]]:
        return list(self.issue(issue_id).get("journals") or [])

    def field(self, issue: dict[str, Any], name: str) -> Any:
        wanted = self.fields[name]
        for cf in issue.get("custom_fields") or []:
            if cf["id"] == wanted:
                return cf.get("value")
        raise AssertionError(f"custom field {name} ({wanted}) not on issue {issue['id']}")

"""The cabinet's ticket links: each host's client-facing page (never the agent view the
team's dashboard opens), the admin's override, and no link when none can be built."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from plugin.cabinet.host_links import client_url, entry_reference, reference
from plugin.reports.service import ticket_url
from plugin.settings import Settings, load_settings

SNAP = {"reference": None, "requester_email": "olena+it@acme.example"}


def _settings(*connections: dict[str, Any]) -> Settings:
    return load_settings(env={}, overrides={
        "database_url": "sqlite://", "redis_url": None, "config_dir": "config",
        "var_dir": "/tmp/deskpilot-test-var", "connections": list(connections)})


def _conn(kind: str, **extra: Any) -> dict[str, Any]:
    base = {"zammad": "https://zammad.example/", "zendesk": "https://acme.zendesk.com",
            "freshdesk": "https://acme.freshdesk.com", "redmine": "https://redmine.example",
            "django_helpdesk": "https://helpdesk.example/helpdesk", "generic": None}[kind]
    return {"name": kind, "kind": kind, "base_url": base, "credentials": {"token": "x"},
            "webhook_secrets": ["s" * 16], "webhook_tokens": ["t" * 32], **extra}


@pytest.mark.parametrize(("kind", "snapshot", "client", "agent"), [
    ("zendesk", SNAP, "https://acme.zendesk.com/hc/requests/42",
     "https://acme.zendesk.com/agent/tickets/42"),
    ("freshdesk", SNAP, "https://acme.freshdesk.com/support/tickets/42",
     "https://acme.freshdesk.com/a/tickets/42"),
    ("zammad", {**SNAP, "reference": "#31042"}, "https://zammad.example/#ticket/zoom/42",
     "https://zammad.example/#ticket/zoom/42"),
    ("redmine", SNAP, "https://redmine.example/issues/42", "https://redmine.example/issues/42"),
    ("django_helpdesk", {**SNAP, "reference": "support-42"},
     "https://helpdesk.example/helpdesk/view/?ticket=support-42&email=olena%2Bit@acme.example",
     "https://helpdesk.example/helpdesk/tickets/42/"),
])
def test_each_host_links_the_client_to_its_own_page(kind: str, snapshot: dict[str, Any],
                                                    client: str, agent: str) -> None:
    settings = _settings(_conn(kind))
    assert client_url(settings, kind, "42", snapshot) == client
    assert ticket_url(settings, kind, "42") == agent  # the team's link is unchanged


def test_no_link_where_none_can_be_built() -> None:
    settings = _settings(_conn("django_helpdesk"), _conn("generic"),
                         _conn("zendesk", base_url=None))
    # django-helpdesk's public view needs the submitter's address
    assert client_url(settings, "django_helpdesk", "42", {"reference": "support-42"}) is None
    # without its reference the id alone finds the ticket (queue_and_id_from_query("42"))
    assert client_url(settings, "django_helpdesk", "42", SNAP) == (
        "https://helpdesk.example/helpdesk/view/?ticket=42&email=olena%2Bit@acme.example")
    assert client_url(settings, "generic", "42", SNAP) is None  # no known client page
    assert client_url(settings, "zendesk", "42", SNAP) is None  # no base_url
    assert client_url(settings, "nowhere", "42", SNAP) is None


def test_the_admin_overrides_the_client_link(caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(
        _conn("generic", options={"ticket_url": "https://desk.example/agent/{id}",
                                  "client_ticket_url": "https://portal.example/r/{ref}?u={email}"}),
        _conn("zendesk", options={"client_ticket_url": "{base}/hc/uk/requests/{id}"}),
        _conn("redmine", options={"client_ticket_url": "{base}/issues/{id}?key={api_key}"}))
    assert client_url(settings, "generic", "a/b c", SNAP) == (
        "https://portal.example/r/a%2Fb%20c?u=olena%2Bit@acme.example")  # values are encoded
    assert client_url(settings, "zendesk", "42", SNAP) == "https://acme.zendesk.com/hc/uk/requests/42"
    with caplog.at_level(logging.WARNING, logger="deskpilot.cabinet"):
        assert client_url(settings, "redmine", "42", SNAP) is None  # unknown placeholder
    assert "api_key" in caplog.text


def test_the_reference_is_the_hosts_own_else_the_id() -> None:
    assert reference({"reference": "support-4"}, "4") == "support-4"
    assert reference({"reference": "#31081"}, "81") == "#31081"
    assert reference({}, "T-1") == reference(None, "T-1") == "#T-1"
    refs = {"helpdesk:4": "support-4"}
    assert entry_reference("helpdesk:4", refs) == "support-4"
    assert entry_reference("generic:T-1", refs) == "#T-1"
    assert entry_reference(None, refs) is None

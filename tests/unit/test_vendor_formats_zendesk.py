"""Zendesk placeholders as Zendesk renders them into our shipped trigger template.

Zendesk's "Zendesk placeholders reference" (support.zendesk.com, article 203662156):
``{{ticket.created_at_with_timestamp}}`` is ISO 8601 to the minute (``2013-12-12T05:35Z``),
``{{ticket.tags}}`` space-separated, ``{{ticket.latest_comment.is_public}}`` ``true`` /
``false``, every value text, an empty priority ``-``, a placeholder without a value empty;
``{{current_user.role}}`` the role's label.
"""

from __future__ import annotations

import json

import pytest

from plugin.settings import Connection
from rules.companies import locale_language
from tests.vendor_support import ZENDESK, render
from webhooks.hosts import zendesk

CONN = Connection(name="zd", kind="zendesk", plugin_user_id="955")


def parse(values: dict[str, str], event: str = "ticket.commented"):
    data = render("zendesk_trigger.json", values)
    data["event"] = event
    return zendesk.parse(json.dumps(data).encode(), {}, CONN)


def test_minute_precision_dates_space_tags_and_a_dash_priority():
    (ev,) = parse(ZENDESK)
    assert ev.ticket.created_at.isoformat() == "2026-12-04T08:00:00+00:00"
    assert ev.occurred_at.isoformat() == "2026-12-04T10:10:00+00:00"
    assert ev.ticket.tags == ("vip", "printers") and ev.ticket.priority is None
    assert ev.ticket.subject == 'Printer "HP 4" offline' and ev.ticket.channel == "email"
    assert ev.comment is not None and ev.comment.public and ev.comment.body == "On it."


@pytest.mark.parametrize(("label", "kind"), [
    ("End-user", "client"), ("End user", "client"), ("end-user", "client"),
    ("Agent", "agent"), ("Administrator", "agent"), ("Light agent", "agent"), ("", "system")])
def test_the_current_user_role_label_decides_the_actor(label, kind):
    (ev,) = parse({**ZENDESK, "current_user.role": label})
    assert ev.actor.kind == kind


def test_a_private_comment_is_not_public():
    (ev,) = parse({**ZENDESK, "ticket.latest_comment.is_public": "false"})
    assert ev.comment is not None and not ev.comment.public


# {{ticket.requester.language}} renders the locale's *name* (Zendesk's case-statement example
# branches on 'Italiano'; the Locales API names en-US "English"); unset, it renders empty
@pytest.mark.parametrize(("rendered", "language"), [
    ("Українська", "uk"), ("Ukrainian", "uk"), ("English", "en"),
    ("English (United Kingdom)", "en"), ("Deutsch", None)])
def test_the_requesters_language_name_is_kept_and_read_as_a_note_language(rendered, language):
    (ev,) = parse({**ZENDESK, "ticket.requester.language": rendered}, "ticket.created")
    assert ev.ticket.requester_locale == rendered
    assert locale_language(ev.ticket.requester_locale) == language


def test_a_requester_without_a_language_or_an_older_template_has_no_locale():
    (unset,) = parse(ZENDESK)  # the placeholder renders empty
    assert unset.ticket.requester_locale is None
    data = render("zendesk_trigger.json", ZENDESK)
    del data["ticket"]["requester"]["language"]  # a trigger body from before the key
    (older,) = zendesk.parse(json.dumps(data).encode(), {}, CONN)
    assert older.ticket.requester_locale is None

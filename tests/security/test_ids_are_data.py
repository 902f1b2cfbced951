"""Ids are data, never paths (issue 16, findings 1 and 6).

Outbound: a hostile ticket or organisation id, given to every host client, stays one
percent-encoded path segment — the method, the path's other segments and the query are the
client's own. Inbound: the receiver refuses ids that are not the host's shape, and NUL or
control characters in ids, subjects and company ids, with a 422 naming the field (never a
503 or a worker DataError).
"""

from __future__ import annotations

import copy
import json
import random
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import responses

from plugin.hosts import make_client
from plugin.hosts.base import segment
from plugin.hosts.errors import HostError
from plugin.outbox.commands import Command
from plugin.settings import Connection, Secret
from tests.integration.test_receiver_security import HOSTS, counts, fixture, send, stack  # noqa: F401

BASE = "https://desk.example"
HOSTILE = ["1/../../companies/777?x=", "../users/1#", "../../users/9",
           "1.json?key=../../users/1", "5%2F..%2Fusers", "7\r\nX-Evil: 1"]
FIELDS = {"task_type": "tt", "units": "un", "company.balance": "bal"}
CREDENTIALS = {"api_key": Secret("k"), "token": Secret("t"), "email": Secret("e@x.example"),
               "api_token": Secret("at"), "password": Secret("p"), "username": Secret("u")}
KINDS = ["zammad", "zendesk", "freshdesk", "redmine", "django_helpdesk"]


def _client(kind: str) -> Any:
    conn = Connection(name=kind, kind=kind, base_url=BASE, credentials=CREDENTIALS,
                      field_map=FIELDS, plugin_user_id="3")
    return make_client(conn, sleep=lambda s: None, rng=random.Random(0), max_attempts=1)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_id_cannot_change_method_path_or_query(kind: str, hostile: str) -> None:
    calls: list[tuple[str, str]] = []

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        calls.append((request.method, request.url))
        return 200, {}, json.dumps({"id": 1, "ticket": {"id": 1}, "issue": {"id": 1}})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("GET", "POST", "PUT", "PATCH"):
            mock.add_callback(method, re.compile(re.escape(BASE) + ".*"), callback=callback)
        with _client(kind) as client:
            client.push(hostile, [Command.set_fields(task_type="x"), Command.add_note("n"),
                                  Command.log_time(5), Command.set_balance(
                                      company_id="acme", balance=1, reserved=0, available=1)],
                        company=hostile, idempotency_key="k")
            try:
                client.get_ticket(hostile)
            except (HostError, KeyError, TypeError, ValueError):
                pass  # the reply's shape is not the point: the request's URL is
    assert calls
    encoded = segment(hostile)
    for method, url in calls:
        parts = urlsplit(url)
        assert method in ("GET", "POST", "PUT", "PATCH")
        assert parts.netloc == "desk.example"
        assert parts.fragment == ""
        assert "x=" not in parts.query and "key=" not in parts.query
        assert "/users/" not in parts.path and "/companies/777" not in parts.path
        if encoded in parts.path:  # the id is one segment: the path's others are ours
            before, _, after = parts.path.partition(encoded)
            assert before.endswith("/") and (after == "" or after[0] in "/.")
    assert any(encoded in urlsplit(u).path for _, u in calls)


def test_segment_refuses_dot_segments_and_encodes_everything_else() -> None:
    for bad in ("", ".", ".."):
        with pytest.raises(HostError):
            segment(bad)
    assert segment("1/../../companies/777?x=") == "1%2F..%2F..%2Fcompanies%2F777%3Fx%3D"
    assert segment("../users/1#") == "..%2Fusers%2F1%23"
    assert segment(42) == "42"


def test_a_host_link_to_another_origin_is_not_followed() -> None:
    with _client("zendesk") as client, pytest.raises(HostError, match="outside"):
        client.request("GET", "https://attacker.example/api/v2/tickets.json")


# -- inbound: the receiver -------------------------------------------------------------------
def _with(host: Any, path: tuple[Any, ...], value: Any, name: str = "ticket_created") -> Any:
    data = copy.deepcopy(fixture(host.kind, name))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize("host", HOSTS, ids=[h.name for h in HOSTS])
@pytest.mark.parametrize("hostile", ["1/../../companies/777?x=", "../users/1#", "12\x00",
                                     "1.json?key=x", "9" * 101])
def test_receiver_refuses_an_id_that_is_not_the_hosts_shape(stack, host, hostile) -> None:  # noqa: F811
    client, ctx = stack
    resp = send(client, host, _with(host, host.id_path, hostile), delivery="hostile-1")
    assert resp.status_code == 422, resp.get_json()
    errors = resp.get_json()["errors"]
    assert "id" in json.dumps(errors), errors
    assert counts(ctx) == (0, 0)


@pytest.mark.parametrize("host", [h for h in HOSTS if h.kind != "generic"],
                         ids=[h.name for h in HOSTS if h.kind != "generic"])
def test_numeric_hosts_still_take_numeric_ids(stack, host) -> None:  # noqa: F811
    client, _ = stack
    resp = send(client, host, _with(host, host.id_path, 4321), delivery="numeric-1")
    assert resp.status_code in (200, 202), resp.get_json()


def test_generic_ids_take_a_safe_charset(stack) -> None:  # noqa: F811
    client, _ = stack
    host = next(h for h in HOSTS if h.kind == "generic")
    for n, ok in enumerate(["T-1001", "jira:ABC-12", "mail+42@desk", "a.b_c~d"]):
        resp = send(client, host, _with(host, ("ticket", "id"), ok), delivery=f"ok-{n}")
        assert resp.status_code == 202, (ok, resp.get_json())
    for n, bad in enumerate([".", "..", "a b", "a/b", "-x", "a%2Fb", "a?b"]):
        resp = send(client, host, _with(host, ("ticket", "id"), bad), delivery=f"bad-{n}")
        assert resp.status_code == 422, bad
        assert "ticket.id" in resp.get_json()["errors"]


@pytest.mark.parametrize("path,field", [
    (("ticket", "subject"), "ticket.subject"),
    (("ticket", "company"), "ticket.company.id"),
    (("ticket", "company"), "ticket.company.name"),
])
def test_nul_and_controls_in_subject_and_company_are_422(stack, path, field) -> None:  # noqa: F811
    client, ctx = stack
    host = next(h for h in HOSTS if h.kind == "generic")
    if field == "ticket.subject":
        value: Any = "hello\x00world"
    elif field == "ticket.company.id":
        value = {"id": "acme\x00"}
    else:
        value = {"id": "acme", "name": "Acme\x1b[31m"}
    resp = send(client, host, _with(host, path, value), delivery="nul-1")
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["errors"]
    assert counts(ctx) == (0, 0)


def test_a_nul_in_a_ticket_id_is_422_on_postgresql(tmp_path, pg_url, redis_url) -> None:
    from tests.integration.test_receiver_security import make_stack

    app, ctx = make_stack(tmp_path, pg_url, redis_url)
    try:
        host = next(h for h in HOSTS if h.kind == "generic")
        resp = send(app.test_client(), host, _with(host, ("ticket", "id"), "T-1\x00"),
                    delivery="pg-nul")
        assert resp.status_code == 422
        assert "Retry-After" not in resp.headers
        assert "ticket.id" in resp.get_json()["errors"]
    finally:
        ctx.close()


def test_a_delivery_id_longer_than_the_column_is_refused_not_cut(stack) -> None:  # noqa: F811
    client, ctx = stack
    host = next(h for h in HOSTS if h.kind == "generic")
    base = fixture("generic", "ticket_created")
    long_a, long_b = "d" * 200 + "-a", "d" * 200 + "-b"
    for delivery in (long_a, long_b):
        resp = send(client, host, base, delivery=delivery)
        assert resp.status_code == 422
        assert "X-Deskpilot-Delivery" in resp.get_json()["errors"]
    assert send(client, host, base, delivery="d" * 200).status_code == 202

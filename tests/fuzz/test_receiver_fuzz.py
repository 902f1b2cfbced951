"""Hypothesis against every receiver route for every host kind: never a 5xx, never a crash.

Bodies are mutated from each host's captured fixtures and signed correctly, so the parsers
are reached, not only the signature check. About 2,400 cases in CI; ``bench/fuzz.py`` runs
100,000 through the same code.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.receiver import build_case, check_answer
from tests.integration.test_receiver_security import HOSTS, IDS, make_stack
from tests.services import leased_redis_db

pytestmark = pytest.mark.redis
CASES_PER_HOST = 300


@pytest.fixture(scope="module")
def client(tmp_path_factory, redis_url_module):
    tmp = tmp_path_factory.mktemp("fuzz")
    app, ctx = make_stack(tmp, f"sqlite:///{tmp / 'fuzz.sqlite3'}", redis_url_module)
    yield app.test_client()
    ctx.close()


@pytest.fixture(scope="module")
def redis_url_module():
    # the shared fixture is function-scoped; lease one Redis db for the whole module
    with leased_redis_db(ttl_seconds=600) as url:
        yield url


@pytest.mark.parametrize("host", HOSTS, ids=IDS)
def test_receiver_never_fails_on_mutated_input(client, host):
    @settings(max_examples=CASES_PER_HOST, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(rng=st.randoms(use_true_random=False))
    def case(rng: random.Random) -> None:
        c = build_case(rng, host)
        method, url, body, headers = c
        check_answer(client.open(url, method=method, data=body, headers=headers), c)

    case()


@pytest.mark.parametrize("host", HOSTS, ids=IDS)
def test_deep_nesting_is_a_payload_error(client, host):
    from tests.fuzz.mutate import DEEP
    from tests.integration.test_receiver_security import NEW

    headers = host.headers(DEEP, NEW, "deep") if host.headers else {}
    resp = client.post(host.url, data=DEEP, headers=headers)
    c = ("POST", host.url, DEEP[:50], headers)
    assert check_answer(resp, c) in {"not-json", "invalid-payload"}


def test_django_helpdesk_blank_ticket_id_is_a_payload_error(client):
    import json

    from tests.integration.test_receiver_security import fixture
    host = next(h for h in HOSTS if h.kind == "django_helpdesk")
    data = fixture("django_helpdesk", "ticket_created")
    data["ticket"]["id"] = " "
    body = json.dumps(data).encode()
    url = host.url
    resp = client.post(url, data=body, headers={"Content-Type": "application/json"})
    assert check_answer(resp, ("POST", url, body, {})) == "invalid-payload"


@pytest.mark.parametrize("kind", ["generic", "django_helpdesk"])
def test_lone_surrogate_ticket_id_is_a_payload_error(client, kind):
    import json

    from tests.integration.test_receiver_security import NEW, fixture

    host = next(h for h in HOSTS if h.kind == kind)
    data = fixture(kind, "ticket_created")
    data["ticket"]["id"] = "\ud800"
    body = json.dumps(data).encode()  # ASCII: the surrogate travels as the escape \\ud800
    headers = {"Content-Type": "application/json"}
    if host.headers:
        headers.update(host.headers(body, NEW, "surrogate"))
    resp = client.post(host.url, data=body, headers=headers)
    assert check_answer(resp, ("POST", host.url, body, headers)) == "invalid-payload"


def test_redmine_blank_issue_id_is_a_payload_error(client):
    import json

    from tests.integration.test_receiver_security import NEW, fixture

    host = next(h for h in HOSTS if h.kind == "redmine")
    data = fixture("redmine", "status_changed")
    data["payload"]["issue"]["id"] = " "
    body = json.dumps(data).encode()
    assert host.headers is not None
    headers = {"Content-Type": "application/json", **host.headers(body, NEW, "blank")}
    resp = client.post(host.url, data=body, headers=headers)
    assert check_answer(resp, ("POST", host.url, body, headers)) == "invalid-payload"

"""One fuzz case against the receiver, shared by the CI test and ``bench/fuzz.py``.

Cases are built from each host kind's captured fixtures: the JSON tree mutated (and then
signed correctly, so the adapter's parser is reached), raw bytes damaged, headers forged,
routes and methods varied. Every answer must be a JSON envelope with a status below 500,
and never the receiver's catch-all for an adapter exception.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

from tests.fuzz.mutate import mutate_bytes, mutate_tree
from tests.integration.test_receiver_security import HOSTS, NEW, TOKEN, Host, fixture

FIXTURE_NAMES = ("ticket_created", "comment_added", "status_changed", "time_logged",
                 "own_user_echo", "unknown_event", "missing_field")
#: the receiver's answer when an adapter raised instead of reporting a payload problem
ADAPTER_GAP = "the payload could not be read"
OK_CODES = {200, 202, 400, 401, 404, 405, 409, 413, 422}
_fixtures: dict[tuple[str, str], Any] = {}


def base(host: Host, name: str) -> Any:
    key = (host.kind, name)
    if key not in _fixtures:
        _fixtures[key] = fixture(host.kind, name)
    return _fixtures[key]


def build_case(rng: random.Random, host: Host) -> tuple[str, str, bytes, dict[str, str]]:
    """``(method, url, body, headers)`` of one random case for ``host``."""
    data = base(host, rng.choice(FIXTURE_NAMES))
    mode = rng.random()
    if mode < 0.65:
        body = json.dumps(mutate_tree(data, rng), ensure_ascii=rng.random() < 0.5).encode(
            "utf-8", "surrogatepass")
    elif mode < 0.9:
        body = mutate_bytes(json.dumps(data).encode(), rng)
    else:
        body = json.dumps(data).encode()
    headers = {"Content-Type": rng.choice(["application/json", "text/plain", "", "a/b; x"])}
    url = host.url
    sign = rng.random()
    if host.headers and sign < 0.8:
        headers.update(host.headers(body, NEW, f"fz-{rng.getrandbits(48):x}"))
    elif host.headers and sign < 0.9:
        headers.update(host.headers(body, "wrong-secret-0123456789", "fz"))
    if rng.random() < 0.1:  # forged or damaged headers on top
        name = rng.choice(sorted(headers)) if headers else "X-Any"
        headers[name] = rng.choice(["", "sha256=", "sha1=00", "x" * 300, "ü", "1,2"])
    route = rng.random()
    if route < 0.05:
        url = f"/webhooks/{host.name}/{rng.choice([TOKEN[:-1], 'x', TOKEN + 'x', '%00'])}"
    elif route < 0.08:
        url = rng.choice(["/webhooks/nope", "/webhooks/", f"/webhooks/{host.name}/a/b"])
    method = "POST" if rng.random() < 0.96 else rng.choice(["GET", "HEAD", "PUT", "DELETE"])
    return method, url, body, headers


def check_answer(resp: Any, case: tuple[str, str, bytes, dict[str, str]]) -> str:
    """Assert one answer is well-formed; returns a short outcome label for the tally."""
    method, url, body, _ = case
    where = f"{method} {url} body={body[:300]!r}"
    assert resp.status_code < 500, f"{resp.status_code} for {where}: {resp.get_data()[:500]!r}"
    assert resp.status_code in OK_CODES, f"{resp.status_code} for {where}"
    if method == "HEAD":
        return "head"
    payload = resp.get_json(silent=True)
    # every answer, unknown URLs and methods included, is JSON (the app's error handler)
    assert isinstance(payload, dict), f"non-JSON answer {resp.get_data()[:200]!r} for {where}"
    if resp.status_code in (200, 202) and "status" in payload and "code" not in payload:
        assert payload["status"] in {"queued", "duplicate", "ignored", "ok"}, payload
        return str(payload["status"])
    assert set(payload) == {"code", "status", "message", "errors"}, payload
    assert payload["message"] != ADAPTER_GAP, f"adapter raised on {where}"
    return str(payload["code"])


def run_cases(client: Any, rng: random.Random, n: int, hosts: list[Host] | None = None,
              failures: list[str] | None = None) -> Counter[str]:
    """Send ``n`` random cases round-robin over ``hosts``; tally the outcomes.

    With ``failures`` given, a failed check is recorded there and the run goes on.
    """
    tally: Counter[str] = Counter()
    hosts = hosts or HOSTS
    for i in range(n):
        host = hosts[i % len(hosts)]
        case = build_case(rng, host)
        method, url, body, headers = case
        resp = client.open(url, method=method, data=body, headers=headers)
        try:
            tally[f"{host.kind}:{check_answer(resp, case)}"] += 1
        except AssertionError as exc:
            if failures is None:
                raise
            failures.append(str(exc)[:400])
            tally[f"{host.kind}:FAILED"] += 1
    return tally

"""Host clients read the proxy and CA-bundle environment once per origin, as requests would."""

from __future__ import annotations

from typing import Any

import pytest

from plugin.hosts import make_client
from plugin.settings import Connection, Secret


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, method: str, url: str, **kw: Any) -> Any:
        self.calls.append({"url": url, **kw})
        raise _Stop


class _Stop(Exception):
    pass


def _call(client: Any, url: str) -> dict[str, Any]:
    rec = client.session.request = _Recorder()
    with pytest.raises(_Stop):
        client.request("POST", url, json={})
    return rec.calls[-1]


def _client(verify: bool = True) -> Any:
    # inside.example: a second configured origin (absolute URLs must stay on one)
    return make_client(Connection(name="gen", kind="generic", verify_tls=verify,
                                  base_url="https://inside.example",
                                  callback_url="https://hooks.example/x",
                                  webhook_secrets=(Secret("s3cret-generic-1"),)))


def test_proxies_and_ca_bundle_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "inside.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company.pem")
    client = _client()
    assert client.session.trust_env is False  # not re-read on every call
    out = _call(client, "https://hooks.example/x")
    assert out["proxies"].get("https") == "http://proxy.example:3128"
    assert out["verify"] == "/etc/ssl/company.pem"
    inside = _call(client, "https://inside.example/x")
    assert "https" not in inside["proxies"]  # NO_PROXY holds


def test_environment_is_read_once_per_origin(monkeypatch) -> None:
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    client = _client()
    assert _call(client, "https://hooks.example/x")["verify"] is True
    monkeypatch.setenv("HTTPS_PROXY", "http://later.example:3128")
    assert "https" not in _call(client, "https://hooks.example/y")["proxies"]


def test_verification_turned_off_stays_off(monkeypatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company.pem")
    assert _call(_client(verify=False), "https://hooks.example/x")["verify"] is False

"""The threat model's claims that had no test of their own (SECURITY.md names each one here).

- the signature or token is checked on the raw bytes before any parsing;
- TLS is verified by default in every host client's calls (no setting, no environment);
- ``var/`` and the secrets ``deskpilot up`` keeps there are created private (0700 / 0600),
  whatever the umask, and the SQLite WAL/SHM files are as private as the database;
- credentials never reach logs or error messages when a push fails, even when the host
  echoes the key or the Authorization header it refused, and no body text is logged at INFO;
- rule files are data: a YAML tag that would construct a Python object is refused at
  ``file:line:col`` and runs nothing; a regular expression is compiled at load, so a bad one
  is a load error at its position, never a failure while an event is evaluated.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
import responses

from plugin.hosts import make_client
from plugin.outbox.commands import Command
from plugin.runner import admin_token, generic_secret
from plugin.settings import load_settings
from rules.config.loader import analyse
from tests.security.support import SECRETS, connections

ROOT = Path(__file__).resolve().parents[2]
HOST_KINDS = ("zammad", "zendesk", "freshdesk", "redmine", "django_helpdesk", "generic")


class _Stop(Exception):
    pass


def _settings(tmp_path: Path, **extra: Any) -> Any:
    conns = []
    for conn in connections(callback_url="https://callback.example/deskpilot"):
        conn = {**conn, **({"base_url": "https://helpdesk.example/"}
                           if conn["kind"] != "generic" else {})}
        conn.pop("verify_tls", None)  # the default is what is proved
        conns.append(conn)
    return load_settings({}, {"database_url": "sqlite://", "config_dir": str(ROOT / "config"),
                              "var_dir": str(tmp_path / "var"), "connections": conns, **extra})


def test_tls_is_verified_by_default_in_every_host_client(tmp_path: Path, monkeypatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    settings = _settings(tmp_path)
    assert {c.kind for c in settings.connections} >= set(HOST_KINDS)
    for conn in settings.connections:
        assert conn.verify_tls is True, conn.name
        client = make_client(conn, max_attempts=1)
        seen: list[Any] = []

        def record(method: str, url: str, seen: list[Any] = seen, **kw: Any) -> Any:
            seen.append(kw.get("verify"))
            raise _Stop

        client.session.request = record
        with pytest.raises(_Stop):
            client.request("GET", "https://callback.example/deskpilot"
                           if conn.kind == "generic" else "/probe")
        assert seen == [True], conn.name


def test_var_and_the_secrets_up_keeps_are_created_private(tmp_path: Path, monkeypatch) -> None:
    for name in ("DESKPILOT_GENERIC_SECRET", "DESKPILOT_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings({}, {"database_url": "sqlite://",
                                  "config_dir": str(ROOT / "config"),
                                  "var_dir": str(tmp_path / "home" / "var")})
    old = os.umask(0o022)  # a permissive umask: the modes must not depend on it
    try:
        generic_secret(settings)  # what `deskpilot up` calls first
        admin_token(settings)
    finally:
        os.umask(old)
    var = settings.var_dir.absolute()
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    for name in ("generic_secret", "admin_token"):
        assert stat.S_IMODE((var / name).stat().st_mode) == 0o600, name


def _echo(request: Any) -> tuple[int, dict[str, str], str]:
    """A host that refuses and repeats back everything it was sent."""
    sent = " ".join(f"{k}: {v}" for k, v in request.headers.items())
    return 401, {}, f'{{"error": "invalid credentials", "you sent": "{sent} {request.url}"}}'


def test_credentials_never_logged_when_a_push_fails(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    settings = _settings(tmp_path, log_level="DEBUG")
    seen: list[str] = []
    sent_auth: set[str] = set()
    for conn in settings.connections:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            for method in ("GET", "POST", "PUT", "PATCH"):
                mock.add_callback(method, re.compile(r"https?://.*"), callback=_echo)
            client = make_client(conn, retry_budget=0.0, max_attempts=1)
            sent_auth |= {v for v in client.auth_headers().values() if len(v) >= 6}
            try:
                result = client.push("7", [Command.add_note("hello"),
                                           Command.set_status("resolved")],
                                     idempotency_key="leak-1")
                seen.append(repr(result))
            except Exception as exc:  # noqa: BLE001 - the message is what is searched
                seen += [str(exc), repr(exc)]
            assert mock.calls, conn.name
            # the host did echo a credential: the search below means something
            echoed = " ".join(str(c.response.text) for c in mock.calls)
            assert conn.kind == "generic" or any(
                v in echoed for v in (*SECRETS.values(), *sent_auth)), conn.name
    seen += [caplog.text, *(str(r.__dict__) for r in caplog.records)]
    haystack = "\n".join(seen)
    assert "invalid credentials" in haystack  # the host's message itself is kept
    leaked = [name for name, value in SECRETS.items() if value in haystack]
    assert leaked == [] and not [v for v in sent_auth if v in haystack]


def _rules_copy(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config, ignore=shutil.ignore_patterns("tests"))
    return config


def test_rule_files_are_data_a_python_tag_runs_nothing(tmp_path: Path) -> None:
    config = _rules_copy(tmp_path)
    marker = tmp_path / "ran"
    evil = config / "rules" / "90-evil.yaml"
    for tagged in (f"!!python/object/apply:os.system ['touch {marker}']",
                   "!!python/name:os.system"):
        evil.write_text(f"version: 1\ntemplates:\n  x: {tagged}\n", encoding="utf-8")
        ruleset, problems = analyse(config)
        assert ruleset is None and not marker.exists()
        # reported where it stands (the tag is never constructed: a sequence stays a list,
        # a scalar tag is a YAML error)
        assert [p.line for p in problems if p.file == str(evil)] == [3], problems


def test_rule_regexes_are_compiled_at_load_with_their_position(tmp_path: Path) -> None:
    config = _rules_copy(tmp_path)
    classify = config / "rules" / "10-classify.yaml"
    text = classify.read_text(encoding="utf-8")
    bad = text.replace('value: "(?i)(оцін|estimate|quote)"', 'value: "(?i)(оцін|estimate"')
    assert bad != text
    classify.write_text(bad, encoding="utf-8")
    line = next(i for i, row in enumerate(bad.splitlines(), 1) if '"(?i)(оцін|estimate"' in row)
    ruleset, problems = analyse(config)
    assert ruleset is None
    (problem,) = [p for p in problems if "regular expression" in p.message]
    assert (problem.file, problem.line) == (str(classify), line)
    assert problem.message.startswith("invalid regular expression: missing )")


def test_the_sqlite_wal_and_shm_files_are_as_private_as_the_database(tmp_path: Path) -> None:
    from plugin.storage.db import make_engine

    old = os.umask(0o022)
    try:
        path = tmp_path / "var" / "deskpilot.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        with engine.connect() as conn:  # open: the WAL and its index exist
            companions = [Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert all(p.exists() for p in companions)
            assert [stat.S_IMODE(p.stat().st_mode) for p in (path, *companions)] == [0o600] * 3
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
    finally:
        os.umask(old)


@pytest.mark.redis
def test_bodies_are_not_logged_at_info(tmp_path: Path, sqlite_url: str, redis_url: str,
                                       caplog) -> None:
    from tests.integration.test_receiver_security import HOSTS, fixture
    from tests.security.support import make_app, url_of

    caplog.set_level(logging.INFO)
    app, ctx = make_app(tmp_path, sqlite_url, redis_url)
    try:
        host = next(h for h in HOSTS if h.kind == "generic")
        data = fixture("generic", "ticket_created")
        data["ticket"]["subject"] = "BODY-MARKER-5c1e subject"
        body = json.dumps(data).encode()
        headers = {"Content-Type": "application/json",
                   **(host.headers(body, SECRETS["new"], "info-1") if host.headers else {})}
        assert app.test_client().post(url_of(host), data=body,
                                      headers=headers).status_code == 202
    finally:
        ctx.close()
    assert "webhook" in caplog.text  # the delivery was logged, by its dotted key
    assert "BODY-MARKER" not in caplog.text
    assert not [r for r in caplog.records if "BODY-MARKER" in str(r.__dict__)]


@pytest.mark.redis
def test_the_signature_is_checked_on_the_raw_bytes_before_any_parsing(
    tmp_path: Path, sqlite_url: str, redis_url: str,
) -> None:
    """Unsigned garbage is a 401 (never a 400 from a parser that read it first)."""
    from tests.integration.test_receiver_security import HOSTS, counts, make_stack, send

    app, ctx = make_stack(tmp_path, sqlite_url, redis_url)
    try:
        client = app.test_client()
        for host in HOSTS:
            if host.headers:
                answer = send(client, host, None, raw=b"{not json", secret="not-our-secret")
            else:
                answer = client.post(f"/webhooks/{host.name}/wrong-token-0123456789",
                                     data=b"{not json")
            assert answer.status_code == 401, host.name
        assert counts(ctx) == (0, 0)
    finally:
        ctx.close()

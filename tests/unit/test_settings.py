"""Settings: one schema, every problem at once with its key path, no secret ever shown."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from plugin.settings import Secret, SettingsError, load_settings

SECRET = "s3cr3t-value-that-must-never-print"


def test_defaults_are_embedded(tmp_path):
    settings = load_settings({"DESKPILOT_CONFIG_DIR": str(tmp_path),
                              "DESKPILOT_VAR_DIR": str(tmp_path / "var")})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("var/deskpilot.sqlite3")
    assert settings.redis_url is None
    assert settings.timezone == "Europe/Kyiv"
    assert settings.connections == ()


def test_file_then_environment_then_overrides(tmp_path):
    (tmp_path / "deskpilot.yaml").write_text(
        "timezone: America/New_York\nredis_url: redis://file:6379/0\nlog_level: DEBUG\n"
        "connections:\n  - {name: zd, kind: zendesk, webhook_secrets: [" + SECRET + "]}\n"
    )
    env = {"DESKPILOT_CONFIG_DIR": str(tmp_path), "DESKPILOT_REDIS_URL": "redis://env:6379/1"}
    settings = load_settings(env, {"log_level": "WARNING"})
    assert settings.timezone == "America/New_York"
    assert settings.redis_url == "redis://env:6379/1"
    assert settings.log_level == "WARNING"
    conn = settings.connection("zd")
    assert conn is not None and conn.kind == "zendesk"
    assert conn.webhook_secrets == (SECRET,)
    assert isinstance(conn.webhook_secrets[0], Secret)
    assert SECRET not in repr(settings)


def test_every_problem_reported_with_its_key_path():
    bad = {
        "timezone": "Mars/Olympus",
        "log_level": "LOUD",
        "database_url": "mysql://x",
        "connections": [
            {"name": "Bad Name", "kind": "zamad", "webhook_secrets": ["short"]},
            {"name": "ok", "kind": "generic", "surprise": 1,
             "company_from": {"source": "custom_field"}},
            {"name": "ok", "kind": "generic"},
        ],
    }
    with pytest.raises(SettingsError) as info:
        load_settings({}, bad)
    problems = info.value.problems
    assert set(problems) >= {
        "timezone", "log_level", "database_url", "connections[0].name", "connections[0].kind",
        "connections[0].webhook_secrets[0]", "connections[1].surprise",
        "connections[1].company_from.field", "connections",
    }
    assert "duplicate connection names: ok" in problems["connections"][0]


def test_secret_values_never_appear_in_errors():
    bad = {"connections": [{"name": "x", "kind": "nope", "webhook_secrets": [SECRET],
                            "credentials": {"token": SECRET}, "body_limit": 1}]}
    with pytest.raises(SettingsError) as info:
        load_settings({}, bad)
    assert SECRET not in str(info.value)


def test_built_in_generic_connection_from_environment(tmp_path):
    settings = load_settings({"DESKPILOT_CONFIG_DIR": str(tmp_path),
                              "DESKPILOT_GENERIC_SECRET": SECRET})
    conn = settings.connection("generic")
    assert conn is not None and conn.kind == "generic" and conn.webhook_secrets == (SECRET,)


def test_django_helpdesk_gets_the_larger_body_limit():
    settings = load_settings({}, {"connections": [
        {"name": "dh", "kind": "django_helpdesk"}, {"name": "zm", "kind": "zammad"}]})
    assert settings.connection("dh").body_limit == 16 * 1024 * 1024  # type: ignore[union-attr]
    assert settings.connection("zm").body_limit == 1024 * 1024  # type: ignore[union-attr]


def test_cli_exits_2_with_every_problem_and_no_secret(tmp_path):
    from plugin.cli import main

    (tmp_path / "deskpilot.yaml").write_text(
        "timezone: Nowhere/City\nconnections:\n"
        f"  - {{name: a, kind: wrong, webhook_secrets: ['{SECRET}']}}\n"
    )
    result = CliRunner().invoke(main, ["db", "upgrade"],
                                env={"DESKPILOT_CONFIG_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "timezone: not an IANA time zone" in result.output
    assert "connections[0].kind" in result.output
    assert SECRET not in result.output


def test_production_processes_need_redis(tmp_path):
    from plugin.cli import main

    env = {"DESKPILOT_CONFIG_DIR": str(tmp_path), "DESKPILOT_VAR_DIR": str(tmp_path / "v"),
           "DESKPILOT_REDIS_URL": ""}
    for command in (["worker"], ["scheduler"], ["serve"]):
        result = CliRunner().invoke(main, command, env=env)
        assert result.exit_code == 2, command
        assert "needs DESKPILOT_REDIS_URL" in result.output

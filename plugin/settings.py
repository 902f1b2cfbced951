"""Settings: ``config/deskpilot.yaml`` plus ``DESKPILOT_*`` overrides, validated at start.

One marshmallow schema checks everything and reports every problem at once with its key
path. The result is a frozen :class:`Settings`. Secret values never appear in messages:
marshmallow's messages describe the rule, not the value, and ``Secret`` hides itself in
``repr``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

HOST_KINDS = ("zammad", "zendesk", "freshdesk", "redmine", "django_helpdesk", "generic")
COMPANY_SOURCES = ("organization", "email_domain", "custom_field", "project", "none")
DEFAULT_BODY_LIMIT = 1024 * 1024
#: django-helpdesk sends every followup of the ticket in each webhook, so it grows.
KIND_BODY_LIMITS = {"django_helpdesk": 16 * 1024 * 1024}


class SettingsError(Exception):
    """Settings are invalid; ``problems`` maps key paths to messages."""

    def __init__(self, problems: Mapping[str, list[str]]):
        self.problems = dict(problems)
        lines = [f"{path}: {msg}" for path, msgs in sorted(self.problems.items()) for msg in msgs]
        super().__init__("invalid settings:\n  " + "\n  ".join(lines))


class Secret(str):
    """A string whose ``repr`` never shows the value."""

    def __repr__(self) -> str:
        return "Secret('***')"


@dataclass(frozen=True)
class CompanyFrom:
    """How a requester maps to a client company on one host connection."""

    source: str = "organization"
    field: str | None = None
    #: explicit mapping, e.g. e-mail domain or organisation name → company id
    map: Mapping[str, str] = dc_field(default_factory=dict)


@dataclass(frozen=True)
class Connection:
    """One helpdesk the plugin is connected to."""

    name: str
    kind: str
    base_url: str | None = None
    credentials: Mapping[str, Secret] = dc_field(default_factory=dict)
    webhook_secrets: tuple[Secret, ...] = ()
    webhook_tokens: tuple[Secret, ...] = ()
    plugin_user_id: str | None = None
    company_from: CompanyFrom = dc_field(default_factory=CompanyFrom)
    status_map: Mapping[str, Any] = dc_field(default_factory=dict)
    field_map: Mapping[str, Any] = dc_field(default_factory=dict)
    body_limit: int = DEFAULT_BODY_LIMIT
    callback_url: str | None = None
    timeout_seconds: float = 10.0
    verify_tls: bool = True
    reconcile_minutes: int = 10
    #: the processing job pushes its own new commands (one job per event instead of two);
    #: false sends every push through a push job
    inline_push: bool = True
    options: Mapping[str, Any] = dc_field(default_factory=dict)

    def secrets(self) -> tuple[Secret, ...]:
        return self.webhook_secrets


@dataclass(frozen=True)
class Settings:
    """The validated, frozen settings of one Deskpilot installation."""

    database_url: str = dc_field(repr=False)
    redis_url: str | None = dc_field(repr=False)
    config_dir: Path
    var_dir: Path
    timezone: str = "Europe/Kyiv"
    log_level: str = "INFO"
    public_url: str = "http://127.0.0.1:8700"
    admin_tokens: tuple[Secret, ...] = ()
    connections: tuple[Connection, ...] = ()
    worker_count: int = 2
    #: ``<connection>:<ticket id>`` that gets an internal note when a rules edit is rejected
    rules_admin_ticket: str | None = None
    # -- issue 16 (security): operators' /metrics, sign-in throttling ----------------------
    #: bearer tokens Prometheus scrapes ``/metrics`` with (admin tokens work too)
    metrics_tokens: tuple[Secret, ...] = ()
    #: label debit metrics with company ids (off: one ``company="all"`` series)
    metrics_company_labels: bool = False
    #: wrong sign-ins (dashboard, admin API) per client address per window before 429
    signin_failures_allowed: int = 100
    signin_window_seconds: int = 600

    def connection(self, name: str) -> Connection | None:
        for conn in self.connections:
            if conn.name == name:
                return conn
        return None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def secret_values(self) -> list[str]:
        """Every configured secret, for redaction and for the tests that search output."""
        out: list[str] = [str(t) for t in (*self.admin_tokens, *self.metrics_tokens)]
        for conn in self.connections:
            out += [str(s) for s in (*conn.webhook_secrets, *conn.webhook_tokens)]
            out += [str(v) for v in conn.credentials.values()]
        return [s for s in out if s]


class _SecretField(fields.String):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Secret:
        return Secret(super()._deserialize(value, attr, data, **kwargs))


class _CompanyFromSchema(Schema):
    class Meta:
        unknown = RAISE

    source = fields.String(load_default="organization", validate=validate.OneOf(COMPANY_SOURCES))
    field = fields.String(load_default=None)
    map = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)

    @validates_schema
    def _field_needed(self, data: dict, **_: Any) -> None:
        if data.get("source") == "custom_field" and not data.get("field"):
            raise ValidationError("required when source is custom_field", "field")

    @post_load
    def _make(self, data: dict, **_: Any) -> CompanyFrom:
        return CompanyFrom(**data)


class _ConnectionSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[a-z0-9][a-z0-9_-]{0,62}$", error="use lower-case letters, digits, - and _"
        ),
    )
    kind = fields.String(required=True, validate=validate.OneOf(HOST_KINDS))
    base_url = fields.Url(load_default=None, require_tld=False, schemes={"http", "https"})
    credentials = fields.Dict(keys=fields.String(), values=_SecretField(), load_default=dict)
    webhook_secrets = fields.List(_SecretField(validate=validate.Length(min=8)), load_default=list)
    webhook_tokens = fields.List(_SecretField(validate=validate.Length(min=16)), load_default=list)
    plugin_user_id = fields.Raw(load_default=None)
    company_from = fields.Nested(_CompanyFromSchema, load_default=lambda: CompanyFrom())
    status_map = fields.Dict(keys=fields.String(), load_default=dict)
    field_map = fields.Dict(keys=fields.String(), load_default=dict)
    body_limit = fields.Integer(load_default=None, validate=validate.Range(min=1024))
    callback_url = fields.Url(load_default=None, require_tld=False, schemes={"http", "https"})
    timeout_seconds = fields.Float(load_default=10.0, validate=validate.Range(min=0.1, max=120))
    verify_tls = fields.Boolean(load_default=True)
    reconcile_minutes = fields.Integer(load_default=10, validate=validate.Range(min=1))
    inline_push = fields.Boolean(load_default=True)
    options = fields.Dict(keys=fields.String(), load_default=dict)

    @post_load
    def _make(self, data: dict, **_: Any) -> Connection:
        if data.get("plugin_user_id") is not None:
            data["plugin_user_id"] = str(data["plugin_user_id"])
        if data.get("body_limit") is None:
            data["body_limit"] = KIND_BODY_LIMITS.get(data["kind"], DEFAULT_BODY_LIMIT)
        data["webhook_secrets"] = tuple(data["webhook_secrets"])
        data["webhook_tokens"] = tuple(data["webhook_tokens"])
        return Connection(**data)


class SettingsSchema(Schema):
    """The one schema every settings source is validated by."""

    class Meta:
        unknown = RAISE

    database_url = fields.String(required=True, validate=validate.Length(min=1))
    redis_url = fields.String(load_default=None)
    config_dir = fields.String(required=True)
    var_dir = fields.String(required=True)
    timezone = fields.String(load_default="Europe/Kyiv")
    log_level = fields.String(
        load_default="INFO", validate=validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR"])
    )
    public_url = fields.Url(load_default="http://127.0.0.1:8700", require_tld=False)
    admin_tokens = fields.List(_SecretField(validate=validate.Length(min=16)), load_default=list)
    connections = fields.List(fields.Nested(_ConnectionSchema), load_default=list)
    worker_count = fields.Integer(load_default=2, validate=validate.Range(min=1, max=64))
    rules_admin_ticket = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[a-z0-9][a-z0-9_-]*:[^\s:]+$",
                                 error="use <connection>:<ticket id>"),
    )
    # -- issue 16 (security) --
    metrics_tokens = fields.List(_SecretField(validate=validate.Length(min=16)),
                                 load_default=list)
    metrics_company_labels = fields.Boolean(load_default=False)
    signin_failures_allowed = fields.Integer(load_default=100,
                                             validate=validate.Range(min=1, max=100000))
    signin_window_seconds = fields.Integer(load_default=600,
                                           validate=validate.Range(min=1, max=86400))

    @validates("timezone")
    def _zone(self, value: str, **_: Any) -> None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError("not an IANA time zone (e.g. Europe/Kyiv)") from exc

    @validates("redis_url")
    def _redis(self, value: str | None, **_: Any) -> None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValidationError("must start with redis://, rediss:// or unix://")

    @validates("database_url")
    def _database(self, value: str, **_: Any) -> None:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValidationError("must be a sqlite:/// or postgresql:// URL")

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _unique_names(self, data: dict, original: Any, **_: Any) -> None:
        # checked on the raw input so a duplicate is reported beside other errors
        raw = original.get("connections") if isinstance(original, dict) else None
        names = [str(c["name"]) for c in raw or [] if isinstance(c, dict) and c.get("name")]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValidationError(f"duplicate connection names: {', '.join(dupes)}", "connections")

    @post_load
    def _make(self, data: dict, **_: Any) -> Settings:
        data["config_dir"] = Path(data["config_dir"])
        data["var_dir"] = Path(data["var_dir"])
        data["admin_tokens"] = tuple(data["admin_tokens"])
        data["metrics_tokens"] = tuple(data["metrics_tokens"])
        data["connections"] = tuple(data["connections"])
        return Settings(**data)


SCHEMA = SettingsSchema()

#: environment variable → settings key
ENV_KEYS = {
    "DESKPILOT_DATABASE_URL": "database_url",
    "DESKPILOT_REDIS_URL": "redis_url",
    "DESKPILOT_CONFIG_DIR": "config_dir",
    "DESKPILOT_VAR_DIR": "var_dir",
    "DESKPILOT_TIMEZONE": "timezone",
    "DESKPILOT_LOG_LEVEL": "log_level",
    "DESKPILOT_PUBLIC_URL": "public_url",
    "DESKPILOT_RULES_ADMIN_TICKET": "rules_admin_ticket",
}


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = str(key) if key != "_schema" else ""
            path = f"{prefix}.{name}" if prefix and name else (name or prefix)
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            for p, msgs in _flatten(value, path).items():
                out.setdefault(p, []).extend(msgs)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "<root>"] = list(messages)
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            out.update(_flatten(value, f"{prefix}[{i}]"))
    else:
        out[prefix or "<root>"] = [str(messages)]
    return out


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SettingsError({"<file>": [f"{where}: YAML syntax error"]}) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError({"<file>": [f"{path}: must be a mapping of settings"]})
    return data


def deployment_home(config_dir: Path) -> Path:
    """The directory that holds ``config/`` (what ``deskpilot init DIR`` made): relative
    paths in the settings file (``var_dir``, a ``sqlite:///`` file) are read against it,
    not against the current directory, so ``deskpilot --config DIR/config …`` run from
    anywhere keeps its state in ``DIR/var``."""
    return config_dir.absolute().parent


def _sqlite_from_home(url: str, home: Path) -> str:
    """A file's relative ``sqlite:///path`` made absolute against the deployment's home."""
    prefix = "sqlite:///"
    path = url[len(prefix):] if url.startswith(prefix) else ""
    if not path or path.startswith("/") or path == ":memory:" or path.startswith("file:"):
        return url
    return f"{prefix}{home / path}"


def load_settings(
    env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build settings from the settings file, ``DESKPILOT_*`` variables and overrides.

    Precedence: overrides > environment > file > defaults. The file is
    ``$DESKPILOT_SETTINGS`` or ``<config dir>/deskpilot.yaml`` when it exists. ``var_dir``
    is always absolute: ``DESKPILOT_VAR_DIR`` relative to the current directory, the file's
    (default ``var``) relative to :func:`deployment_home`.
    """
    env = os.environ if env is None else env
    config_dir = Path(env.get("DESKPILOT_CONFIG_DIR") or "config")
    settings_file = Path(env["DESKPILOT_SETTINGS"]) if env.get("DESKPILOT_SETTINGS") else None
    if settings_file is None and (config_dir / "deskpilot.yaml").exists():
        settings_file = config_dir / "deskpilot.yaml"
    raw: dict[str, Any] = _read_file(settings_file) if settings_file else {}
    raw.setdefault("config_dir", str(config_dir))
    home = deployment_home(config_dir)
    var_dir = (Path(env["DESKPILOT_VAR_DIR"]).absolute() if env.get("DESKPILOT_VAR_DIR")
               else home / str(raw.get("var_dir") or "var"))
    if isinstance(raw.get("database_url"), str):
        raw["database_url"] = _sqlite_from_home(raw["database_url"], home)
    raw.setdefault("database_url", f"sqlite:///{var_dir / 'deskpilot.sqlite3'}")
    for var, key in ENV_KEYS.items():
        if env.get(var):
            raw[key] = env[var]
    raw["var_dir"] = str(var_dir)
    if env.get("DESKPILOT_ADMIN_TOKEN"):
        raw["admin_tokens"] = [env["DESKPILOT_ADMIN_TOKEN"], *raw.get("admin_tokens", [])]
    if env.get("DESKPILOT_METRICS_TOKEN"):  # issue 16
        raw["metrics_tokens"] = [env["DESKPILOT_METRICS_TOKEN"], *raw.get("metrics_tokens", [])]
    generic_secret = env.get("DESKPILOT_GENERIC_SECRET")
    if generic_secret and not any(
        isinstance(c, dict) and c.get("name") == "generic" for c in raw.get("connections") or []
    ):
        # the built-in connection of ``deskpilot up``: the generic webhook (docs/generic-format.md)
        raw["connections"] = [
            *(raw.get("connections") or []),
            {"name": "generic", "kind": "generic", "webhook_secrets": [generic_secret],
             "callback_url": env.get("DESKPILOT_GENERIC_CALLBACK_URL") or None,
             "credentials": ({"callback_secret": env["DESKPILOT_GENERIC_CALLBACK_SECRET"]}
                             if env.get("DESKPILOT_GENERIC_CALLBACK_SECRET") else {})},
        ]
    raw.update(overrides or {})
    try:
        return SCHEMA.load(raw)
    except ValidationError as exc:
        raise SettingsError(_flatten(exc.messages)) from None

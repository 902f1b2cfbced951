"""``deskpilot init [DIR]``: a working starter installation to edit.

Writes into DIR (default: the current directory):

- ``config/`` — the shipped rules, calendars, plans, reports config, rule tests and
  ``companies.yaml`` (per-company settings: none, commented examples) — the packaged
  defaults, :func:`plugin.config_discovery.packaged_config`;
- ``config/deskpilot.yaml`` (mode 0600) — the settings, with a generated secret for the
  built-in ``generic`` webhook connection and a generated admin token;
- ``examples/`` — generic events of one ticket's lifecycle, for ``deskpilot send``;
- ``.gitignore`` — keeps ``var/`` and ``config/deskpilot.yaml`` (secrets) out of git
  (lines are added to an existing file, never removed).

An existing ``config/`` is not touched unless ``--force``; even then an existing
``config/deskpilot.yaml`` is kept (its secrets are already pasted into helpdesks), and so is
an existing ``config/companies.yaml`` (the admin's list of client companies: the shipped
one holds none, so rewriting it could only lose settings).
"""

from __future__ import annotations

import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path

import click

from rules.companies import FILE as COMPANIES

GITIGNORE_LINES = ("var/", "config/deskpilot.yaml")


def settings_text(generic_secret: str, admin_token: str) -> str:
    """The starter ``deskpilot.yaml`` (valid as written: ``deskpilot up`` runs on it)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""\
# Deskpilot settings, written by `deskpilot init` on {stamp}.
# This file holds secrets: keep it out of git (.gitignore) and readable by its owner only.
# DESKPILOT_* environment variables override these keys (README: Configuration);
# config/deskpilot.example.yaml shows every connection kind.

# SQLite under var/ is the embedded default; production uses PostgreSQL:
# database_url: postgresql://deskpilot@db.internal:5432/deskpilot

# Required by `deskpilot serve|worker|scheduler`; `deskpilot up` starts an embedded server
# when this is unset.
# redis_url: redis://127.0.0.1:6379/0

timezone: Europe/Kyiv
log_level: INFO

# The address your clients and team open (cabinet links, links in notes). Unset: the running
# `deskpilot up`'s own address, else http://127.0.0.1:8700.
# public_url: https://support-deskpilot.example.com

# The admin API (Authorization: Bearer <token>) and the dashboard (/dashboard?token=<token>).
admin_tokens:
  - "{admin_token}"

connections:
  # The generic webhook (docs/generic-format.md): `deskpilot send` signs with this secret.
  - name: generic
    kind: generic
    webhook_secrets: ["{generic_secret}"]
  # Add your helpdesk here (README: Connecting your helpdesk), e.g.
  # - name: zammad
  #   kind: zammad
  #   base_url: https://support.example.com
  #   credentials: {{token: "zammad-api-token"}}
  #   webhook_secrets: ["hmac-sha1-signature-token"]
  #   plugin_user_id: 42
  #   company_from: {{source: organization}}
"""


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _gitignore(path: Path) -> list[str]:
    have = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    missing = [line for line in GITIGNORE_LINES if line not in {h.strip() for h in have}]
    if missing:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if text and not text.endswith("\n"):
            text += "\n"
        header = "# Deskpilot: local state and secrets\n"
        path.write_text(text + header + "\n".join(missing) + "\n", encoding="utf-8")
    return missing


def _copy_tree(src: Path, dst: Path, skip: set[str]) -> None:
    for item in sorted(src.rglob("*")):
        rel = item.relative_to(src)
        if item.name in skip or "__pycache__" in rel.parts or item.name == "__init__.py":
            continue
        target = dst / rel
        if item.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(item, target)


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True,
              help="Rewrite the shipped files of an existing config/ (deskpilot.yaml is kept).")
def init_cmd(directory: Path, force: bool) -> None:
    """Write a starter config/, deskpilot.yaml with generated secrets, examples/, .gitignore."""
    from plugin.cli.core import fail
    from plugin.config_discovery import packaged_config, packaged_examples

    config = directory / "config"
    settings_file = config / "deskpilot.yaml"
    if config.exists() and not force:
        fail(f"{config} already exists; edit it, or pass --force to rewrite its shipped "
             "files (config/deskpilot.yaml and its secrets are kept)")
    source = packaged_config()
    if not (source / "rules").is_dir():
        fail(f"the packaged configuration is missing ({source}): reinstall deskpilot")
    if source.resolve() == config.resolve():
        fail(f"{config} is the shipped configuration itself")
    directory.mkdir(parents=True, exist_ok=True)
    # the admin's own files: the settings (secrets) and the client companies
    kept_files = {name for name in (COMPANIES,) if (config / name).exists()}
    _copy_tree(source, config, skip={"deskpilot.yaml", *kept_files})
    kept = settings_file.exists()
    if not kept:
        _write_private(settings_file, settings_text(secrets.token_urlsafe(32),
                                                    secrets.token_urlsafe(32)))
    examples = directory / "examples"
    if not examples.exists() or force:
        _copy_tree(packaged_examples(), examples, skip=set())
    added = _gitignore(directory / ".gitignore")

    click.echo(f"wrote {config}/ (rules, calendars, plans, reports, rule tests, companies) "
               f"and {examples}/")
    if kept_files:
        click.echo(f"kept {config / COMPANIES} (your companies)")
    click.echo(f"{'kept' if kept else 'wrote'} {settings_file} (mode 0600: the generic webhook "
               "secret and the admin token)")
    if added:
        click.echo(f"{directory / '.gitignore'}: added {', '.join(added)}")
    prefix = "" if directory.resolve() == Path.cwd().resolve() else f"cd {directory} && "
    click.echo("\nnext:")
    click.echo(f"  {prefix}deskpilot up                              # receiver, worker, "
               "scheduler; prints the dashboard URL")
    click.echo(f"  {prefix}deskpilot send examples/01-filed.json     # in a second terminal")
    click.echo(f"  {prefix}deskpilot rules explain examples/02-accepted-composite.json")

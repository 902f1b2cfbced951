"""The CLI's one error boundary: what a user can cause ends in one line, never a traceback.

The one format of a refusal is ``error: <message>`` on stderr (a list of problems, when
there are several, follows on indented lines), with exit 2 when the configuration or the
input is wrong and 1 when the operation failed (:data:`INPUT`, :data:`FAILED`). Commands
refuse through :func:`refuse`; click's own usage errors (a missing argument, a number out of
its range) are printed by :func:`usage_error` in the same form; expected exceptions (bad
settings or rules, a missing config, an unreachable Redis or database, a refused ledger
operation, a file that cannot be read) by :func:`handle`. Anything else prints one line too,
naming its class and ``--debug``. ``--debug`` or ``DESKPILOT_DEBUG=1`` lets the traceback
through instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import NoReturn

import click

DEBUG_ENV = "DESKPILOT_DEBUG"
#: exit codes: the configuration or the input is wrong / the operation failed
INPUT, FAILED = 2, 1
PREFIX = "error: "


def error_text(message: str) -> str:
    """``message`` as a refusal: ``error: <message>`` (never prefixed twice)."""
    return message if message.startswith(PREFIX) else PREFIX + message


def refuse(message: str, code: int = INPUT) -> NoReturn:
    """Print the refusal on stderr and exit ``code``."""
    click.echo(error_text(message), err=True)
    sys.exit(code)


def refuse_each(lines: Iterable[str], code: int = INPUT) -> NoReturn:
    """Several refused values at once (``--units: …``, ``ticket.id: …``): one
    ``error: `` line each, then exit ``code``."""
    for line in lines:
        click.echo(error_text(line), err=True)
    sys.exit(code)


def usage_error(exc: click.ClickException) -> int:
    """Print click's own refusal (a bad argument or option) as one line; its exit code.

    ``deskpilot GROUP`` without a subcommand still shows the group's help, as click does.
    """
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        exc.show()
        return exc.exit_code
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message += f" (see {ctx.command_path} --help)"
    click.echo(error_text(message), err=True)
    return exc.exit_code


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def classify(exc: BaseException) -> tuple[str, int] | None:
    """``(message, exit code)`` for an expected error; ``None`` for anything else."""
    from plugin.config_discovery import ConfigMissing
    from plugin.ledger.accounts import LedgerError
    from plugin.ledger.plans import PlansError
    from plugin.settings import SettingsError
    from rules.config.source import SourceError

    if isinstance(exc, ConfigMissing | SettingsError | PlansError):
        return str(exc), 2
    if isinstance(exc, SourceError):
        return "invalid rules:\n  " + "\n  ".join(str(p) for p in exc.problems), INPUT
    if isinstance(exc, LedgerError):
        return str(exc), 1
    mro = {f"{k.__module__}.{k.__name__}" for k in type(exc).__mro__}
    if mro & {"redis.exceptions.ConnectionError", "redis.exceptions.TimeoutError"}:
        return f"cannot reach Redis: {exc}", 1
    orig = str(getattr(exc, "orig", "") or "")
    if mro & {"sqlalchemy.exc.OperationalError", "sqlalchemy.exc.ProgrammingError"} and (
        "no such table" in orig or ("relation" in orig and "does not exist" in orig)
    ):
        return ("the database has no Deskpilot schema yet: run `deskpilot db upgrade` "
                "(`deskpilot up` does it at start)"), 1
    if mro & {"sqlalchemy.exc.OperationalError", "sqlalchemy.exc.InterfaceError"}:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()
        return f"database unavailable: {first[0] if first else type(exc).__name__}", 1
    if isinstance(exc, OSError):
        return str(exc), 1
    return None


def handle(exc: Exception) -> int:
    """Print one line for ``exc`` and return the exit code (the caller re-raises on --debug)."""
    known = classify(exc)
    if known is None:
        first = str(exc).strip().splitlines()
        message = f"{type(exc).__name__}: {first[0] if first else ''}".rstrip(": ")
        click.echo(error_text(f"{message} (run with --debug or {DEBUG_ENV}=1 for the traceback)"),
                   err=True)
        return FAILED
    message, code = known
    click.echo(error_text(message), err=True)
    return code

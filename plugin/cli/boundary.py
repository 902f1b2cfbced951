"""The CLI's one error boundary: what a user can cause ends in one line, never a traceback.

Expected errors (bad settings or rules, a missing config, an unreachable Redis or database, a
refused ledger operation, a file that cannot be read) print ``error: <message>`` and exit 2
(the configuration or the input is wrong) or 1 (the operation failed). Anything else prints
one line too, naming its class and ``--debug``. ``--debug`` or ``DESKPILOT_DEBUG=1`` lets
the traceback through instead.
"""

from __future__ import annotations

import os

import click

DEBUG_ENV = "DESKPILOT_DEBUG"


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
        return "invalid rules:\n  " + "\n  ".join(str(p) for p in exc.problems), 2
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
        click.echo(f"error: {message} (run with --debug or {DEBUG_ENV}=1 for the traceback)",
                   err=True)
        return 1
    message, code = known
    click.echo(message if message.startswith(("invalid ", "error: ")) else f"error: {message}",
               err=True)
    return code

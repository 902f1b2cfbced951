"""Hot reload of the rules: a holder that re-reads ``config/`` when its content hash changes.

An invalid edit keeps the last good rules running; every error is logged, counted in a
metric, and kept in ``errors``. Workers get their rules from :func:`current` (the
processing job looks it up); when the ``rules_admin_ticket`` setting names a ticket
(``<connection>:<host ticket id>``) a rejected edit also queues an internal note on it.
Every decision records ``rules.version``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge

from rules.config.loader import analyse, version_of
from rules.config.model import RuleSet
from rules.config.source import Problem

log = logging.getLogger("deskpilot.rules")

RELOAD_ERRORS = Counter("deskpilot_rules_reload_errors", "Rules reloads rejected as invalid")
RELOADS = Counter("deskpilot_rules_reloads", "Rules reloads that took effect")
INVALID = Gauge("deskpilot_rules_invalid", "1 while the files on disk are invalid")


class RulesHolder:
    """The current :class:`RuleSet`; ``get()`` reloads at most every ``min_interval`` seconds."""

    def __init__(
        self,
        config_dir: str | Path,
        min_interval: float = 2.0,
        on_error: Callable[[str, list[Problem], RuleSet | None], None] | None = None,
    ) -> None:
        self.config_dir = Path(config_dir)
        self.min_interval = min_interval
        self.on_error = on_error
        self._rules: RuleSet | None = None
        self._disk_version: str | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.errors: list[Problem] = []

    @property
    def rules(self) -> RuleSet:
        rules = self.get()
        if rules is None:
            raise RuntimeError("no valid rules loaded: " + "; ".join(str(p) for p in self.errors))
        return rules

    def get(self) -> RuleSet | None:
        if time.monotonic() - self._checked >= self.min_interval:
            self.reload()
        return self._rules

    def reload(self) -> bool:
        """Re-read when the files changed; True when new rules took effect."""
        with self._lock:
            self._checked = time.monotonic()
            disk = version_of(self.config_dir)
            if disk == self._disk_version:
                return False
            self._disk_version = disk
            rules, problems = analyse(self.config_dir)
            errors = [p for p in problems if p.severity == "error"]
            if rules is None:
                self.errors = errors
                RELOAD_ERRORS.inc()
                INVALID.set(1)
                kept = self._rules.version if self._rules else "none"
                for p in errors:
                    log.error("rules.invalid %s", p)
                log.error("rules.reload-rejected version=%s keeping=%s", disk, kept)
                if self.on_error is not None:
                    self.on_error(disk, errors, self._rules)
                return False
            self.errors = []
            INVALID.set(0)
            RELOADS.inc()
            self._rules = rules
            log.info("rules.reloaded version=%s", rules.version)
            return True


def admin_note_text(rules: RuleSet, version: str, problems: list[Problem]) -> str:
    """The internal note for the admin ticket when an edit is rejected (template
    ``rules_rejected`` of ``rules``, the last good rules, in their team language)."""
    from plugin.team_texts import team_text

    return team_text(rules, "rules_rejected", version=version, problem_count=len(problems),
                     problems="\n".join(str(p) for p in problems))


def describe(holder: RulesHolder) -> dict[str, Any]:
    """Status for a dashboard or health endpoint."""
    r = holder._rules
    return {"version": r.version if r else None, "errors": [str(p) for p in holder.errors]}


_HOLDERS: dict[Path, RulesHolder] = {}
_HOLDERS_LOCK = threading.Lock()


def holder_for(config_dir: str | Path) -> RulesHolder:
    """The process-wide holder of ``config_dir`` (one per directory)."""
    key = Path(config_dir).resolve()
    with _HOLDERS_LOCK:
        holder = _HOLDERS.get(key)
        if holder is None:
            holder = _HOLDERS[key] = RulesHolder(key, on_error=note_admin_ticket)
        return holder


def current(config_dir: str | Path) -> RuleSet:
    """The rules workers evaluate with: reloaded on edit, the last good ones on a bad edit.

    Raises when the directory never held valid rules (nothing to fall back to).
    """
    return holder_for(config_dir).rules


def team_rules(config_dir: str | Path) -> RuleSet:
    """The rules Deskpilot's own team notes are written with: those in force (the last good
    ones on a bad edit), else the packaged ones (:func:`plugin.team_texts.packaged_rules`)."""
    from plugin.team_texts import packaged_rules

    return holder_for(config_dir).get() or packaged_rules()


def note_admin_ticket(version: str, problems: list[Problem], last_good: RuleSet | None) -> None:
    """Queue an internal note on the configured admin ticket (once per rejected version),
    in the team language of the rules still in force (none yet: the packaged rules')."""
    from plugin.context import get_context

    ctx = get_context()
    target = ctx.settings.rules_admin_ticket or ""
    connection, _, ticket = target.partition(":")
    if not (connection and ticket):
        return
    try:
        from plugin.outbox.commands import Command
        from plugin.outbox.rows import add_commands
        from plugin.storage.db import utcnow
        from plugin.team_texts import packaged_rules

        text = admin_note_text(last_good or packaged_rules(), version, problems)
        with ctx.db.session() as session:
            add_commands(
                session,
                connection,
                ticket,
                [Command.add_note(text, "internal")],
                f"rules-rejected:{version}",
                utcnow(),
            )
    except Exception:  # noqa: BLE001 - a failed note must not stop the workers
        log.exception("rules.admin-note-failed ticket=%s", target)

"""``deskpilot rules check | explain | test | replay`` (README: "Everyday admin commands")."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from plugin.cli.boundary import refuse, refuse_each
from plugin.cli.params import MAX_PROCESSES
from rules.casetest import run_dir
from rules.config.loader import check, config_paths, load_rules
from rules.config.source import SourceError
from rules.engine import evaluate
from rules.event_checks import check_numbers
from rules.explain import render
from rules.generic_event import EventError, event_from_dict
from rules.state_json import StateError, state_from_json

#: the events ``rules replay`` names when it could not evaluate them (the rest are counted)
UNEVALUATED_SHOWN = 20


def _default_config() -> str:
    """--config / DESKPILOT_CONFIG_DIR, else ./config, else the packaged defaults (read-only)."""
    from plugin.config_discovery import discover

    found = discover(allow_packaged=True)
    if found.source == "packaged defaults":
        click.echo(f"(no config/ here: using the packaged defaults in {found.path}; "
                   "`deskpilot init` copies them to edit)", err=True)
    return str(found.path)


@click.group("rules")
def rules_group() -> None:
    """Check, explain, test and replay the rules in config/rules/."""


@rules_group.command("check")
@click.argument("directory", required=False)
def check_cmd(directory: str | None) -> None:
    """Validate the rules (exit 1 with file:line:col: key.path: message per problem)."""
    problems = check(directory or _default_config())
    for p in problems:
        click.echo(str(p))
    errors = sum(1 for p in problems if p.severity == "error")
    if errors:
        click.echo(f"{errors} error(s)", err=True)
        sys.exit(1)
    warnings = len(problems)
    click.echo(f"rules ok{f' ({warnings} warning(s))' if warnings else ''}", err=True)


def _load_or_exit(config: str) -> Any:
    try:
        return load_rules(config)
    except SourceError as exc:
        refuse("invalid rules:\n  " + "\n  ".join(str(p) for p in exc.problems))


@rules_group.command("explain")
@click.argument("event_file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="print the decision as one JSON object")
@click.option("--now", help="ISO 8601 time of evaluation (default: the event's occurred_at)")
@click.option("--state", "state_file", type=click.Path(dir_okay=False), help="JSON facts")
@click.option("--config", "config", help="config directory (default: config/)")
@click.option("--ignore-limits", is_flag=True,
              help="explain an event whose numbers are outside limits.input (the receiver "
                   "refuses it; the engine does not use such a value), e.g. one stored "
                   "before a limit was narrowed")
def explain_cmd(
    event_file: str, as_json: bool, now: str | None, state_file: str | None, config: str | None,
    ignore_limits: bool,
) -> None:
    """Show what the rules decide for EVENT_FILE; writes nothing, reads no database.

    The event is read as the receiver reads it (rules/generic_event.py): a body the receiver
    would refuse (422) exits 2 with the same field errors, one ``error: path: message`` line
    each.
    """
    try:
        body = json.loads(Path(event_file).read_text(encoding="utf-8"))
        event = event_from_dict(body)
        state = state_from_json(
            json.loads(Path(state_file).read_text(encoding="utf-8")) if state_file else {}
        )
        when = datetime.fromisoformat(now) if now else event.occurred_at
        if when.tzinfo is None:
            raise EventError("invalid --now", {"--now": ["needs a UTC offset"]})
    except (OSError, ValueError, EventError, StateError) as exc:
        _exit_with(exc)
    rules = _load_or_exit(config or _default_config())
    try:
        if not ignore_limits:
            check_numbers(event, rules.bounds)  # the receiver's limits.input, these rules'
    except EventError as exc:
        _exit_with(exc)
    decision = evaluate(rules, event, state, when)
    if as_json:
        click.echo(json.dumps(decision.to_json(), ensure_ascii=False, default=str))
    else:
        click.echo(render(decision))


def _exit_with(exc: Exception) -> NoReturn:
    """Exit 2 with the problem: a refused event's field errors one ``error: path: message``
    line each."""
    refuse_each(exc.lines() if isinstance(exc, EventError) else [str(exc)])


@rules_group.command("test")
@click.argument("directory", required=False)
def test_cmd(directory: str | None) -> None:
    """Run the YAML test cases in config/tests/ against config/rules/."""
    config_dir, _ = config_paths(directory or _default_config())
    tests_dir = (
        Path(directory)
        if directory and Path(directory, "..", "rules").is_dir() and Path(directory).name == "tests"
        else config_dir / "tests"
    )
    rules = _load_or_exit(str(config_dir))
    results = run_dir(rules, tests_dir)
    failed = [r for r in results if not r.ok]
    for r in failed:
        click.echo(f"FAIL {r.file}:{r.line}: {r.name}")
        if r.error:
            click.echo(f"    error: {r.error}")
        for key, want, got in r.diffs:
            click.echo(f"    {key}:\n      expected: {want!r}\n      actual:   {got!r}")
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed or not results:
        sys.exit(1)


@rules_group.command("replay")
@click.option("--since", required=True, help="date (YYYY-MM-DD, UTC) or ISO datetime")
@click.option("--config", "config", help="config directory to replay with (default: config/)")
@click.option("--apply", "apply", is_flag=True,
              help="write the corrections (ledger, host writes, timers)")
@click.option(
    "--workers",
    type=click.IntRange(0, MAX_PROCESSES),
    default=None,
    help="helper processes parsing ahead (default: one on a multi-core machine, 0: none)",
)
def replay_cmd(since: str, config: str | None, apply: bool, workers: int | None) -> None:
    """Re-run stored events through the given config and show what would change per ticket.

    Every host kind is replayed (each raw body is parsed again by its connection's adapter).
    Nothing is written without --apply; --apply corrects each ticket as a worker on these
    rules would have left it: ledger charges re-typed through reversals, the host's fields,
    deadlines and the company's balance queued, the ticket's timers re-armed.
    """
    from plugin.rules_replay import parse_since, replay_events
    from plugin.rules_replay_apply import apply_changes
    from plugin.storage import Database

    try:
        start = parse_since(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    from plugin.cli.core import settings_or_exit

    settings = settings_or_exit(database=True)
    rules = _load_or_exit(config or _default_config())
    db = Database(settings.database_url)
    try:
        if workers is None:
            workers = 1 if (os.cpu_count() or 1) > 1 else 0
        res = replay_events(db, rules, settings, start, progress=sys.stderr, workers=workers)
        for ch in res.changes:
            click.echo(f"{ch.connection}/{ch.ticket_id}:")
            for key, (old, new) in ch.diff.items():
                click.echo(f"    {key}: {old} -> {new}")
        for why, n in sorted(res.reasons.items()):
            click.echo(f"skipped {n} event(s): {why}", err=True)
        for event_id, why in res.unevaluated[:UNEVALUATED_SHOWN]:
            click.echo(f"  event {event_id} {why}", err=True)
        if len(res.unevaluated) > UNEVALUATED_SHOWN:
            click.echo(f"  … and {len(res.unevaluated) - UNEVALUATED_SHOWN} more", err=True)
        click.echo(
            f"{res.events} event(s), {res.tickets} ticket(s) replayed with rules "
            f"{rules.version}; {len(res.changes)} would change"
            + ("" if apply else " (dry run: nothing written; --apply to write)")
        )
        if apply and res.changes:
            now = datetime.now(UTC)
            for line in apply_changes(db, res.changes, now, rules=rules, settings=settings):
                click.echo(f"applied {line}")
    finally:
        db.dispose()

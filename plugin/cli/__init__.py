"""The ``deskpilot`` command line. Each command group lives in its own module.

Commands are imported only when invoked, so a process (the gunicorn master of ``serve``, a
``send``) does not carry the whole application in memory.
"""

from __future__ import annotations

import importlib

import click

#: command name → "module:attribute"; every capability registers its group here
COMMANDS = {
    "up": "plugin.cli.core:up_cmd",
    "serve": "plugin.cli.core:serve_cmd",
    "worker": "plugin.cli.core:worker_cmd",
    "scheduler": "plugin.cli.core:scheduler_cmd",
    "send": "plugin.cli.core:send_cmd",
    "db": "plugin.cli.core:db_group",
    "rules": "plugin.cli.rules_cmd:rules_group",
    "credits": "plugin.cli.credits_cmd:credits_group",
    "jobs": "plugin.cli.jobs_cmd:jobs_group",
    "hosts": "plugin.cli.hosts_cmd:hosts_group",
    "report": "plugin.cli.report_cmd:report_cmd",
    "cabinet": "plugin.cli.cabinet_cmd:cabinet_group",
    "outbox": "plugin.cli.outbox_cmd:outbox_group",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="deskpilot")
def main() -> None:
    """Deskpilot: working-time deadlines, task rules and prepaid credits for your helpdesk."""

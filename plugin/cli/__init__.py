"""The ``deskpilot`` command line. Each command group lives in its own module.

Commands are imported only when invoked, so a process (the gunicorn master of ``serve``, a
``send``) does not carry the whole application in memory. Every command runs inside one
error boundary (:mod:`plugin.cli.boundary`): no traceback for anything a user can cause.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

#: command name → "module:attribute"; every capability registers its group here
COMMANDS = {
    "init": "plugin.cli.init_cmd:init_cmd",
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
    """A group whose subcommands are imported on first use, run inside the error boundary."""

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

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        from plugin.cli.boundary import usage_error

        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:  # deskpilot's own options (`--bogus`)
            sys.exit(usage_error(exc))

    def invoke(self, ctx: click.Context) -> Any:
        from plugin.cli.boundary import debug_enabled, handle, usage_error

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.ClickException as exc:  # a subcommand's usage: one `error:` line
            ctx.exit(usage_error(exc))
        except Exception as exc:
            if debug_enabled():
                raise
            ctx.exit(handle(exc))


#: what someone who just installed the wheel reads first (README: Installing as a package)
GETTING_STARTED = """\b
Getting started, in an empty directory:
  deskpilot init                           # config/, secrets, examples/
  deskpilot up                             # prints the receiver and dashboard URLs
  deskpilot send examples/01-filed.json    # in a second terminal
"""


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=GETTING_STARTED)
@click.version_option(package_name="deskpilot")
@click.option("--config", "config_dir", metavar="DIR", default=None,
              help="Configuration directory (default: $DESKPILOT_CONFIG_DIR, else ./config).")
@click.option("--debug", is_flag=True, help="Show tracebacks (also DESKPILOT_DEBUG=1).")
def main(config_dir: str | None, debug: bool) -> None:
    """Deskpilot: working-time deadlines, task rules and prepaid credits for your helpdesk."""
    # through the environment, so the children of `up` see the same choices
    if config_dir:
        os.environ["DESKPILOT_CONFIG_DIR"] = config_dir
    if debug:
        os.environ["DESKPILOT_DEBUG"] = "1"

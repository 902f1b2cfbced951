"""The ``deskpilot`` command line. Each command group lives in its own module."""

from __future__ import annotations

import click

from plugin.cli.core import db_group, scheduler_cmd, send_cmd, serve_cmd, up_cmd, worker_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="deskpilot")
def main() -> None:
    """Deskpilot: working-time deadlines, task rules and prepaid credits for your helpdesk."""


main.add_command(up_cmd)
main.add_command(serve_cmd)
main.add_command(worker_cmd)
main.add_command(scheduler_cmd)
main.add_command(send_cmd)
main.add_command(db_group)

# Command groups of the other capabilities register here, one line each.
from plugin.cli.rules_cmd import rules_group  # noqa: E402

main.add_command(rules_group)
from plugin.cli.jobs_cmd import jobs_group  # noqa: E402

main.add_command(jobs_group)
from plugin.cli.report_cmd import report_cmd  # noqa: E402

main.add_command(report_cmd)
from plugin.cli.hosts_cmd import hosts_group  # noqa: E402

main.add_command(hosts_group)
from plugin.cli.credits_cmd import credits_group  # noqa: E402

main.add_command(credits_group)

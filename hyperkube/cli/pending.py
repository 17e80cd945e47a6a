"""Commands for components whose issue has not landed yet.

They take the common flags and ``--help`` like every component, and say plainly, with exit
code 1, that the component is not built yet instead of pretending to run.
"""

from __future__ import annotations

import sys

import click

from hyperkube.cli.options import CONTEXT_SETTINGS, common_options


def pending_command(name: str, summary: str, issue: int) -> click.Command:
    @click.command(name=name, context_settings=CONTEXT_SETTINGS, help=summary)
    @common_options
    def command() -> None:
        click.echo(f"hyperkube {name}: not built yet (tracked in issue {issue})", err=True)
        sys.exit(1)

    return command

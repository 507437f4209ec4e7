"""``attempts sweep``: close and grade attempts whose time is up."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from cbt_server.delivery.service import sweep


@click.group(help="Attempt maintenance.")
def attempts() -> None:
    pass


@attempts.command("sweep")
@with_appcontext
def sweep_command() -> None:
    """Close and grade every running attempt past its deadline (plus the save grace)."""
    closed = sweep()
    click.echo(f"closed and graded {closed} expired attempt(s)")

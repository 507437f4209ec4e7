"""``demo``: a ready lab session with accounts for every role."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from cbt_server.sessions.demo import DemoError, build_demo


@click.command("demo", help="Create or refresh the demo lab session and print its accounts.")
@with_appcontext
def demo() -> None:
    try:
        lab = build_demo()
    except DemoError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Demo session {lab.session_code}: {lab.session_name}")
    click.echo(f"  battery: {lab.battery_title}; room: {lab.room}; token: {lab.token}")
    click.echo(f"  open: {lab.window} (lab time)")
    click.echo(f"  {'role':<12} {'login':<12} {'password':<12} name (seat)")
    for account in lab.accounts:
        seat = f" ({account.seat})" if account.seat else ""
        click.echo(
            f"  {account.role:<12} {account.username:<12} {account.password:<12} "
            f"{account.full_name}{seat}"
        )
    for username in lab.skipped:
        click.echo(
            f"  {username!r} is an account the demo did not make: left as it is (no new password)"
        )

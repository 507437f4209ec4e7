"""``people identity``: an admin changes a person's name, position or unit, audited."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from cbt_server.accounts.service import AccountError, change_identity


@click.group(help="People (participants' identity).")
def people() -> None:
    pass


@people.command("identity")
@click.argument("nip")
@click.option("--name", "full_name", help="the person's full name")
@click.option("--position", "position_code", help="position code from the job standards")
@click.option("--unit", help="work unit (unit kerja)")
@click.option("--reason", required=True, help="why (written to the audit log)")
@with_appcontext
def identity_command(
    nip: str, full_name: str | None, position_code: str | None, unit: str | None, reason: str
) -> None:
    """Change the identity of the person with NIP (a roster import never does)."""
    try:
        changed = change_identity(
            None, nip, reason=reason, full_name=full_name, position_code=position_code, unit=unit
        )
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    if not changed:
        click.echo(f"NIP {nip}: nothing to change")
    for name, (before, after) in changed.items():
        click.echo(f"NIP {nip}: {name} {before!r} -> {after!r}")

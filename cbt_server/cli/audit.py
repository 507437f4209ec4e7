"""``audit verify|seal-existing|digest``: check the hash chains and the stored scores
(docs/tamper-evidence.md)."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from cbt_server import audit_check, integrity
from cbt_server.db import write_transaction


@click.group(help="Tamper evidence: the audit log's and the scores' hash chains.")
def audit() -> None:
    pass


@audit.command("verify")
@click.option(
    "--seal-existing",
    "seal_first",
    is_flag=True,
    help="first seal the scores stored before sealing began (once, audited)",
)
@with_appcontext
def verify_command(seal_first: bool) -> None:
    """Recompute every link of both chains and compare each attempt's scores with its seal.

    Exit code 0 when everything matches, 1 at the first broken link or changed score."""
    if seal_first and not audit_check.seal_existing_done():
        _seal()
    report = audit_check.verify()
    for line in report.lines():
        click.echo(line)
    offer = report.unsealed_existing and report.ok and sys.stdin.isatty()
    if offer and click.confirm("Seal those scores now?", default=False):
        _seal()
        report = audit_check.verify()
        click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


def _seal() -> None:
    with write_transaction():
        count = audit_check.seal_existing()
    click.echo(f"sealed the scores of {count} attempt(s) stored before sealing began")


@audit.command("seal-existing")
@with_appcontext
def seal_existing_command() -> None:
    """Seal the scores stored before sealing began (allowed once; written to the audit log)."""
    try:
        _seal()
    except ValueError as refused:
        raise click.ClickException(str(refused)) from None


@audit.command("digest")
@click.option("--session", "session_code", help="a session's code: the berita acara's digest")
@click.option("--battery", "battery_code", help="a battery's code: its score sheet's digest")
@with_appcontext
def digest_command(session_code: str | None, battery_code: str | None) -> None:
    """Print the current digest of a session's (or a battery's) scores, as printed on paper."""
    if bool(session_code) == bool(battery_code):
        raise click.UsageError("give one of --session or --battery")
    if session_code:
        session = audit_check.session_by_code(session_code)
        if session is None:
            raise click.ClickException(f"no session {session_code}")
        digest = audit_check.session_digest(session)
    else:
        digest = audit_check.battery_digest(battery_code or "")
    click.echo(f"{integrity.short(digest)}  {digest}")

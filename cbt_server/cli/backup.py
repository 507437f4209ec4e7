"""``backup now|list|restore|prune``: backups of the database while the server runs
(docs/backup.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from cbt_server.backup import service
from cbt_server.backup.scheduler import prune_now, run_backup
from cbt_server.backup.service import BackupError
from cbt_server.backup.settings import folder_of, load_settings
from cbt_server.localtime import to_local


@click.group(help="Backups of the database: take one now, list, restore, prune.")
def backup() -> None:
    pass


@backup.command("now")
@click.option(
    "--to",
    "folder",
    type=click.Path(file_okay=False),
    help="folder for this backup (default: the folder set on /admin/backup, else instance/backups)",
)
@with_appcontext
def now_command(folder: str | None) -> None:
    """Back the database up now (safe while an exam runs), verify it and write its manifest."""
    try:
        manifest = run_backup("cli", actor_label="cli", folder=folder, wait=True)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    target = Path(folder).resolve() if folder else folder_of(load_settings())
    click.echo(f"{target / manifest['file']}")
    click.echo(
        f"  {manifest['size_bytes']} bytes, sha256 {manifest['sha256']}, schema "
        f"{manifest['schema_revision']}, {manifest['integrity']}, "
        f"{manifest['duration_seconds']} s"
    )
    click.echo("  rows: " + ", ".join(f"{t} {n}" for t, n in manifest["counts"].items()))


@backup.command("list")
@click.option("--folder", type=click.Path(file_okay=False), help="default: the configured folder")
@with_appcontext
def list_command(folder: str | None) -> None:
    """The backups in the folder, newest first."""
    where = Path(folder) if folder else folder_of(load_settings())
    found = service.list_backups(where)
    click.echo(f"{where}: {len(found)} backup(s)")
    for b in found:
        local = to_local(b.created_at).strftime("%Y-%m-%d %H:%M:%S %z")  # type: ignore[union-attr]
        verified = "verified" if b.verified else "NOT verified (no manifest)"
        click.echo(f"{local}  {b.name}  {b.size} bytes  {verified}")


@backup.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--into",
    required=True,
    help="a new instance folder (its cbt.sqlite3), or the URL of an empty database "
    "(sqlite:///PATH, postgresql://…)",
)
@click.option(
    "--copy-secret-key/--no-copy-secret-key",
    default=True,
    help="give a new instance folder this server's secret key, so printed exam cards still work",
)
@with_appcontext
def restore_command(file: str, into: str, copy_secret_key: bool) -> None:
    """Restore FILE into a new, empty place and check it (integrity, schema revision, row
    counts against the manifest). Never overwrites a database. Exit code 1 if a check fails."""
    secret = current_app.config["SECRET_KEY"] if copy_secret_key else None
    try:
        report = service.restore(file, into, secret_key=secret)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    for line in report.lines():
        click.echo(line)
    if report.ok:
        click.echo("restore checked: start the server on it (docs/backup.md, 'After a crash')")
    sys.exit(0 if report.ok else 1)


@backup.command("prune")
@click.option("--keep", type=click.IntRange(min=1), help="keep this many newest backups")
@click.option(
    "--max-age-days",
    type=click.FloatRange(min=0, min_open=True),
    help="delete backups older than this (never the newest)",
)
@with_appcontext
def prune_command(keep: int | None, max_age_days: float | None) -> None:
    """Delete old backups of the configured folder (default: keep the configured number)."""
    removed = prune_now(keep, max_age_days)
    click.echo(f"removed {len(removed)} backup(s)" + "".join(f"\n  {n}" for n in removed))

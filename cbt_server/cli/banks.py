"""``banks validate`` and ``banks import``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from cbt_server.banks.format import Repository, load_repository
from cbt_server.banks.importer import ImportRefused, import_repository


@click.group(help="Check and import question banks, the competency dictionary and batteries.")
def banks() -> None:
    pass


def _load(path: str | None) -> Repository:
    target = Path(path or current_app.config["CBT_BANKS_PATH"])
    if not target.exists():
        raise click.ClickException(f"{target}: no such file or folder")
    return load_repository(target)


def _print_problems(repo: Repository) -> None:
    for problem in repo.problems:
        click.echo(str(problem), err=True)
    click.echo(f"{len(repo.problems)} problem(s) found.", err=True)


@banks.command("validate")
@click.argument("path", required=False)
@with_appcontext
def validate_command(path: str | None) -> None:
    """Check every file under PATH (default: the configured question_banks folder)."""
    repo = _load(path)
    if not repo.ok:
        _print_problems(repo)
        raise SystemExit(1)
    items = sum(len(bank.items) for bank in repo.banks.values())
    click.echo(
        f"OK: {len(repo.competencies)} competencies, {len(repo.positions)} positions, "
        f"{len(repo.banks)} banks ({items} items), {len(repo.batteries)} batteries."
    )


@banks.command("import")
@click.argument("path", required=False)
@with_appcontext
def import_command(path: str | None) -> None:
    """Validate, then import PATH as immutable versions (nothing is imported on any error)."""
    repo = _load(path)
    try:
        report = import_repository(repo)
    except ImportRefused:
        _print_problems(repo)
        click.echo("Nothing was imported.", err=True)
        raise SystemExit(1) from None
    for line in report.new_banks:
        click.echo(f"new bank version: {line}")
    for line in report.new_batteries:
        click.echo(f"new battery version: {line}")
    unchanged = len(report.unchanged_banks) + len(report.unchanged_batteries)
    if unchanged:
        click.echo(f"unchanged (already imported): {unchanged}")
    click.echo(
        f"dictionary: {report.competencies} competencies, {report.positions} positions up to date."
    )

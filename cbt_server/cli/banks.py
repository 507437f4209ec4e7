"""``banks validate``, ``banks import`` and ``banks calibrate``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from cbt_server.assessment.calibration import CalibrationRefused, Outcome, calibrate_bank
from cbt_server.banks.format import Repository, load_repository
from cbt_server.banks.importer import ImportRefused, import_repository


@click.group(
    help="Check and import question banks, the competency dictionary and batteries; "
    "calibrate a bank's items from stored responses."
)
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


@banks.command("calibrate")
@click.argument("bank")
@click.option(
    "--sessions",
    required=True,
    help="codes of the sessions whose graded attempts are read, comma-separated",
)
@click.option(
    "--model",
    type=click.Choice(["rasch", "2pl"]),
    default="rasch",
    show_default=True,
    help="the item response model (2pl: a slope per item where there are 200 responses)",
)
@click.option(
    "--anchor-previous",
    is_flag=True,
    help="keep the parameters of the items calibrated in the bank's previous calibration "
    "(same model), so both versions share one scale",
)
@click.option("--note", help="a note stored with the calibration")
@with_appcontext
def calibrate_command(
    bank: str, sessions: str, model: str, anchor_previous: bool, note: str | None
) -> None:
    """Calibrate BANK's items (item response theory) from the graded attempts of the sessions
    and store the result as the bank's next calibration version (docs/psychometrics.md).

    Items are scored 1 for full marks and 0 for less; weighted-option and Likert items are
    excluded. Nothing is stored on any error."""
    try:
        outcome = calibrate_bank(
            None,
            bank,
            sessions.split(","),
            model=model,
            anchor_previous=anchor_previous,
            note=note,
        )
    except CalibrationRefused as refused:
        raise click.ClickException(str(refused)) from None
    for line in _summary(outcome):
        click.echo(line)


def _summary(o: Outcome) -> list[str]:
    linked = (
        f", anchored to v{o.anchored_to_version} ({o.anchors} anchor items)"
        if o.anchored_to_version is not None
        else ""
    )
    missing = ", ".join(f"{status} {n}" for status, n in sorted(o.not_calibrated.items()))
    misfits = ", ".join(o.misfits) if o.misfits else "none"
    return [
        f"bank {o.bank_code}: calibration v{o.version} stored ({o.model}{linked})",
        f"persons: {o.persons}, responses: {o.responses}",
        f"items calibrated: {o.calibrated}; not calibrated: "
        f"{sum(o.not_calibrated.values())}" + (f" ({missing})" if missing else ""),
        f"population: mean {o.population_mean:.3f}, SD {o.population_sd:.3f}",
        f"converged: {'yes' if o.converged else 'NO'} ({o.iterations} iterations)",
        f"misfitting items (infit or outfit outside 0.5-1.5): {misfits}",
    ]

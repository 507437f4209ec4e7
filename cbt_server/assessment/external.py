"""Importing self/supervisor ratings and performance results: all rows or none, audited."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from cbt_server import audit
from cbt_server.assessment.imports import parse_performance, parse_ratings
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import (
    Competency,
    CompetencyRating,
    PerformanceRating,
    PerformanceTarget,
    User,
    db,
)
from cbt_server.tabular import RowProblem, TableError, read_table

SOURCES = {"self": "penilaian diri", "supervisor": "penilaian atasan"}


@dataclass
class ImportReport:
    rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _known_nips() -> dict[str, int]:
    return dict(db.session.execute(select(User.nip, User.id).where(User.nip.is_not(None))).all())


def _table(filename: str, data: bytes) -> tuple[list[list[str]] | None, list[RowProblem]]:
    try:
        return read_table(filename, data), []
    except TableError as error:
        return None, [error.problem()]  # keeps the row and column it names


def import_ratings(actor: User, source: str, filename: str, data: bytes) -> ImportReport:
    """Store a self- or supervisor-assessment file; a re-import replaces the same ratings."""
    if source not in SOURCES:
        return ImportReport(problems=[RowProblem(None, None, f"sumber {source!r} tidak dikenal")])
    table, problems = _table(filename, data)
    if table is None:
        return ImportReport(problems=problems)
    nips = _known_nips()
    names = dict(db.session.execute(select(Competency.code, Competency.name)).all())
    rows, problems = parse_ratings(table, names, nips)
    if problems:
        return ImportReport(problems=problems)
    stamp = now()
    with write_transaction():
        for row in rows:
            rating = db.session.scalar(
                select(CompetencyRating).where(
                    CompetencyRating.user_id == nips[row.nip],
                    CompetencyRating.source == source,
                    CompetencyRating.competency_code == row.competency_code,
                    CompetencyRating.period == row.period,
                )
            )
            if rating is None:
                rating = CompetencyRating(
                    user_id=nips[row.nip],
                    source=source,
                    competency_code=row.competency_code,
                    period=row.period,
                )
                db.session.add(rating)
            rating.level, rating.rater, rating.imported_at = row.level, row.rater, stamp
        audit.record(
            f"import.ratings.{source}",
            actor=actor,
            target=filename,
            details={"rows": len(rows), "people": len({r.nip for r in rows})},
        )
    return ImportReport(rows=len(rows))


def import_performance(actor: User, filename: str, data: bytes) -> ImportReport:
    """Store performance targets/realisation and ratings; a re-import replaces a period's data."""
    table, problems = _table(filename, data)
    if table is None:
        return ImportReport(problems=problems)
    nips = _known_nips()
    targets, ratings, problems = parse_performance(table, nips)
    if problems:
        return ImportReport(problems=problems)
    stamp = now()
    with write_transaction():
        periods = {(nips[r.nip], r.period) for r in targets}
        for user_id, period in periods:
            for old in db.session.scalars(
                select(PerformanceTarget).where(
                    PerformanceTarget.user_id == user_id, PerformanceTarget.period == period
                )
            ):
                db.session.delete(old)
        db.session.flush()
        for row in targets:
            db.session.add(
                PerformanceTarget(
                    user_id=nips[row.nip],
                    period=row.period,
                    indicator=row.indicator,
                    target=row.target,
                    realisation=row.realisation,
                    unit=row.unit,
                    imported_at=stamp,
                )
            )
        for row in ratings:
            rating = db.session.get(PerformanceRating, (nips[row.nip], row.period))
            if rating is None:
                rating = PerformanceRating(user_id=nips[row.nip], period=row.period)
                db.session.add(rating)
            rating.predicate, rating.score, rating.imported_at = row.predicate, row.score, stamp
        audit.record(
            "import.performance",
            actor=actor,
            target=filename,
            details={"targets": len(targets), "ratings": len(ratings)},
        )
    return ImportReport(rows=len(targets) + len(ratings))

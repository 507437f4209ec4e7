"""Score sheets: one row per participant of a session or of a battery, built to stream.

The columns are found first (one query over the scores); the rows then come in chunks, each
chunk's scores fetched in one query, so a sheet of thousands of rows never sits in memory. The
response-quality flags (rapid guessing, careless responding, the lie scale against its norm,
collusion of seat neighbours: assessment/response_quality.py) are computed once for the
session or battery when the rows start, with their evidence in words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, func, select

from cbt_server.accounts import reach
from cbt_server.analytics.precision import QUALITY_LABELS, band_text
from cbt_server.assessment import response_quality as rq
from cbt_server.assessment.cut_scores import CutSource, cut_sources
from cbt_server.audit_check import battery_digest, session_digest
from cbt_server.clock import now
from cbt_server.localtime import to_local, window_text
from cbt_server.models import (
    Attempt,
    AttemptScore,
    BatteryVersion,
    Competency,
    Enrolment,
    ExamSession,
    Position,
    User,
    db,
)
from cbt_server.proctoring.reports import STATUS_LABELS

CHUNK = 500
#: how dates are written in a sheet's subtitle (day-month-year, the lab's zone)
DATE = "%d-%m-%Y"


@dataclass(frozen=True)
class Column:
    label: str
    #: text | number | int | percent (0–100)
    kind: str = "text"


@dataclass
class ScoreSheet:
    title: str
    filename: str
    columns: list[Column]
    rows: Iterator[list[Any]]
    #: battery, date and room, and when it was made: the line under the title in a file
    subtitle: str = ""
    #: columns that stay in view when scrolling sideways (NIP, Nama)
    key_columns: int = 2
    #: SHA-256 of the stored scores the sheet covers (docs/tamper-evidence.md), so a printed or
    #: downloaded sheet can be checked against the database later
    digest: str = ""
    #: where the levels' cuts came from: set by a method (who, when) or the bank's percentages
    cut_sources: list[CutSource] = field(default_factory=list)

    @property
    def file_subtitle(self) -> str:
        """The subtitle of a file, ending with the digest of the scores it holds."""
        return f"{self.subtitle} · sidik hasil SHA-256 {self.digest}"


def _enrolments(scope: Select) -> Select:
    """The sheet's rows: enrolments the request's assessor may see (accounts/reach.py)."""
    return (
        scope.add_columns(User, Position.name, ExamSession.code, Attempt)
        .join(User, User.id == Enrolment.user_id)
        .join(ExamSession, ExamSession.id == Enrolment.session_id)
        .outerjoin(Position, Position.code == User.position_code)
        .outerjoin(Attempt, Attempt.enrolment_id == Enrolment.id)
        .where(reach.current().rows(Enrolment.session_id, Enrolment.user_id))
    )


def session_sheet(session: ExamSession) -> ScoreSheet:
    scope = _enrolments(select(Enrolment.id)).where(Enrolment.session_id == session.id)
    battery = db.session.get(BatteryVersion, session.battery_version_id)
    window = window_text(session.starts_at, session.ends_at, day_format=DATE)
    subtitle = (
        f"Baterai {battery.code} — {battery.title} · Tanggal {window}"
        f" · Ruang {session.room} · {made_at()}"
    )
    return _sheet(
        f"Lembar skor sesi {session.code} — {session.name}",
        f"skor-sesi-{session.code}",
        scope.order_by(User.full_name, Enrolment.id),
        [battery.definition],
        subtitle,
        session_digest(session),
        lambda session_id=session.id: rq.session_quality(session_id),  # read now, run later
    )


def battery_sheet(battery_code: str) -> ScoreSheet:
    versions = db.session.scalars(
        select(BatteryVersion)
        .where(BatteryVersion.code == battery_code)
        .order_by(BatteryVersion.id)
    ).all()
    if not versions:
        raise LookupError(battery_code)
    scope = _enrolments(select(Enrolment.id)).where(
        ExamSession.battery_version_id.in_([v.id for v in versions])
    )
    return _sheet(
        f"Lembar skor baterai {battery_code} — {versions[-1].title}",
        f"skor-baterai-{battery_code}",
        scope.order_by(ExamSession.code, User.full_name, Enrolment.id),
        [v.definition for v in versions],
        _battery_subtitle([v.id for v in versions]),
        battery_digest(battery_code),
        lambda: rq.battery_quality(battery_code),
    )


def made_at() -> str:
    """When a file is made, for its subtitle: "dibuat 23-11-2026 10:05" (the lab's zone)."""
    return f"dibuat {to_local(now()):{DATE} %H:%M}"


def _battery_subtitle(version_ids: list[int]) -> str:
    """The sessions' count and date range, e.g. "3 sesi, 23-11-2026 s.d. 25-11-2026"."""
    first, last, count = db.session.execute(
        select(
            func.min(ExamSession.starts_at),
            func.max(ExamSession.starts_at),
            func.count(ExamSession.id),
        ).where(ExamSession.battery_version_id.in_(version_ids))
    ).one()
    if not count:
        return f"Belum ada sesi · {made_at()}"
    days = f"{to_local(first):{DATE}}"
    if to_local(last).date() != to_local(first).date():
        days += f" s.d. {to_local(last):{DATE}}"
    return f"{count} sesi, {days} · {made_at()}"


def _score_keys(scope: Select) -> list[tuple[str, str]]:
    attempt_ids = scope.with_only_columns(Attempt.id).where(Attempt.id.is_not(None)).order_by(None)
    return sorted(
        db.session.execute(
            select(AttemptScore.scope, AttemptScore.code)
            .where(AttemptScore.attempt_id.in_(attempt_ids.scalar_subquery()))
            .distinct()
        ).all()
    )


def _sheet(
    title: str,
    filename: str,
    scope: Select,
    definitions: list[dict],
    subtitle: str,
    digest: str,
    judge: Callable[[], dict[int, rq.AttemptQuality]],
) -> ScoreSheet:
    sections: list[str] = []
    for definition in definitions:
        for section in definition["sections"]:
            if section["code"] not in sections:
                sections.append(section["code"])
    found = _score_keys(scope)
    groups = dict(db.session.execute(select(Competency.code, Competency.competency_group)).all())
    competencies = [c for s, c in found if s == "competency" and groups.get(c) != "integrity"]
    scales = [c for s, c in found if s == "competency" and groups.get(c) == "integrity"]
    columns = [
        Column(label) for label in ("NIP", "Nama", "Jabatan", "Unit Kerja", "Sesi", "Status")
    ]
    columns += [Column(f"Bagian {code}", "number") for code in sections]
    for code in competencies:
        columns += [Column(f"{code} skor", "number"), Column(f"{code} %", "percent")]
        columns.append(Column(f"{code} level", "int"))
        # the level's band (uncertain when it spans a cut) and a score that measures nothing
        columns += [Column(f"{code} rentang"), Column(f"{code} validitas")]
        # the ability and its standard error on the bank's calibrated scale, where the level was
        # read off it (empty: percentage cuts, provisional)
        columns += [Column(f"{code} θ", "number"), Column(f"{code} θ galat baku", "number")]
    for code in scales:
        columns += [Column(f"{code} skor", "number"), Column(f"{code} %", "percent")]
        columns.append(Column(f"{code} tanda"))
    columns += [
        Column("Total", "number"),
        Column("Total maks", "number"),
        Column("Total %", "percent"),
        Column("Total validitas"),
    ]
    # response quality: rapid answers and RTE, then (inventories) careless responding and the
    # lie scale against its norm, then seat neighbours with identical wrong answers
    columns += [Column("Tebakan cepat", "int"), Column("RTE", "decimal3"), Column("RTE tanda")]
    if scales:
        columns += [Column("Respons asal"), Column("Skala validitas")]
    columns.append(Column("Kolusi"))

    def rows() -> Iterator[list[Any]]:
        found = judge()
        chunk: list[Any] = []
        for record in db.session.execute(scope.execution_options(yield_per=CHUNK)):
            chunk.append(record)
            if len(chunk) == CHUNK:
                yield from _rows(chunk, sections, competencies, scales, found)
                chunk = []
        if chunk:
            yield from _rows(chunk, sections, competencies, scales, found)

    return ScoreSheet(
        title, filename, columns, rows(), subtitle, digest=digest, cut_sources=_cut_sources(scope)
    )


def _cut_sources(scope: Select) -> list[CutSource]:
    """The cuts the sheet's stored levels were computed with (one query, then one for the set
    cuts named)."""
    attempt_ids = scope.with_only_columns(Attempt.id).where(Attempt.id.is_not(None)).order_by(None)
    pairs = db.session.execute(
        select(AttemptScore.code, AttemptScore.cut_score_id)
        .where(
            AttemptScore.attempt_id.in_(attempt_ids.scalar_subquery()),
            AttemptScore.scope == "competency",
            AttemptScore.level.is_not(None),
        )
        .distinct()
    ).all()
    return cut_sources((code, cut_id) for code, cut_id in pairs)


def _rows(
    chunk: list[Any],
    sections: list[str],
    competencies: list[str],
    scales: list[str],
    judgements: dict[int, rq.AttemptQuality],
) -> Iterator[list[Any]]:
    attempt_ids = [r.Attempt.id for r in chunk if r.Attempt is not None]
    scores: dict[tuple[int, str, str], AttemptScore] = {}
    if attempt_ids:
        for score in db.session.scalars(
            select(AttemptScore).where(and_(AttemptScore.attempt_id.in_(attempt_ids)))
        ):
            scores[(score.attempt_id, score.scope, score.code)] = score
    for record in chunk:
        user, attempt = record.User, record.Attempt
        status = attempt.state if attempt is not None else "absent"
        row: list[Any] = [
            user.nip or "",
            user.full_name,
            record.name or user.position_code or "",
            user.unit or "",
            record.code,
            STATUS_LABELS.get(status, status),
        ]
        aid = attempt.id if attempt is not None else None
        judged = judgements.get(aid) if aid else None
        lies = {lie.code: lie for lie in judged.lie} if judged else {}
        for code in sections:
            found = scores.get((aid, "section", code)) if aid else None
            row.append(found.score if found else None)
        for code in competencies:
            found = scores.get((aid, "competency", code)) if aid else None
            row += _competency_cells(found)
        for code in scales:
            scale = scores.get((aid, "competency", code)) if aid else None
            if scale:
                # a lie scale is judged against its norm where it can be, else as stored
                invalid = lies[code].invalid if code in lies else scale.flagged
                row += [scale.score, scale.percent, "VALIDITAS" if invalid else ""]
            else:
                row += [None, None, ""]
        total = scores.get((aid, "total", "TOTAL")) if aid else None
        row += (
            [total.score, total.max_score, total.percent, QUALITY_LABELS.get(total.quality, "")]
            if total
            else [None, None, None, ""]
        )
        row += _quality_cells(judged, bool(scales))
        yield row


def _quality_cells(judged: rq.AttemptQuality | None, inventory: bool) -> list[Any]:
    """Rapid answers, RTE and its flag; careless responding and the lie scale (inventories);
    collusion: the flags in words with their evidence, "" where nothing is flagged."""
    rapid = judged.rapid if judged else None
    cells: list[Any] = [
        rapid.rapid if rapid else None,
        rapid.rte if rapid else None,
        rq.rapid_text(rapid) if rapid and rapid.flagged else "",
    ]
    if inventory:
        careless = judged.careless if judged else None
        cells.append(rq.careless_text(careless) if careless else "")
        cells.append("; ".join(rq.lie_text(lie) for lie in judged.lie) if judged else "")
    cells.append("; ".join(rq.collusion_text(c) for c in judged.collusion) if judged else "")
    return cells


def _competency_cells(found: AttemptScore | None) -> list[Any]:
    """Score, %, level, band, validity, ability and its error; a score that measures nothing
    has no level."""
    if found is None:
        return [None, None, None, "", "", None, None]
    if found.quality is not None:
        label = QUALITY_LABELS.get(found.quality, "")
        return [found.score, found.percent, None, "", label, None, None]
    return [
        found.score,
        found.percent,
        found.level,
        band_text(found.level_low, found.level_high),
        "",
        found.theta,
        found.theta_se,
    ]

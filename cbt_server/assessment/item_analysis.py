"""The item analysis of a battery (optionally one session): from stored responses to a report.

Reads the persons × items matrices (``item_matrix``, one query), runs the pure psychometrics of
``cbt_server.analytics`` and returns plain lines for the page and the CSV files: per item,
per option, per section and scale (reliability), per participant (standard scores). Each item
is judged against the total of its section; see ``docs/psychometrics.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import select

from cbt_server.accounts import reach
from cbt_server.analytics import (
    GROUP_SHARE,
    MIN_PERSONS,
    P_HIGH,
    P_LOW,
    WORKING_DISTRACTOR_SHARE,
    d_category,
    item_statistics,
    reliability,
    standard_scores,
)
from cbt_server.assessment.item_matrix import ItemMatrix, item_matrix
from cbt_server.models import BatteryVersion, Competency, ExamSession, db

#: below this many persons the page warns that the estimates are unstable
SMALL_SAMPLE = 30
CUTS = {
    "p_low": P_LOW,
    "p_high": P_HIGH,
    "group_share": GROUP_SHARE,
    "distractor_share": WORKING_DISTRACTOR_SHARE,
    "min_persons": MIN_PERSONS,
    "small_sample": SMALL_SAMPLE,
}


@dataclass(frozen=True)
class SessionChoice:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class OptionLine:
    label: str
    keyed: bool
    count: int
    share: float | None
    upper: float | None
    lower: float | None
    rest_r: float | None
    #: True/False for the distractors of keyed items; None when not judged
    working: bool | None


@dataclass(frozen=True)
class ItemLine:
    code: str
    item_type: str
    section: str
    competency: str
    n: int
    max_points: float
    mean: float | None
    p: float | None
    r: float | None
    d: float | None
    d_category: str | None
    flags: tuple[str, ...]
    blank: float | None
    options: list[OptionLine]


@dataclass(frozen=True)
class ReliabilityLine:
    #: "section" | "scale"
    kind: str
    code: str
    name: str
    coefficient: str
    k: int
    length: float
    n: int
    complete: bool
    mean: float | None
    sd: float | None
    alpha: float | None
    sem: float | None


@dataclass(frozen=True)
class ScoreLine:
    value: float | None
    z: float | None
    t: float | None
    percentile: float | None
    stanine: int | None


@dataclass(frozen=True)
class PersonLine:
    nip: str
    name: str
    total: ScoreLine
    sections: list[ScoreLine]


@dataclass(frozen=True)
class ItemAnalysisReport:
    battery_code: str
    title: str
    session: SessionChoice | None
    sessions: list[SessionChoice]
    n_people: int
    section_codes: list[str]
    items: list[ItemLine]
    reliabilities: list[ReliabilityLine]
    people: list[PersonLine]

    @property
    def empty(self) -> bool:
        return self.n_people == 0

    @property
    def small_sample(self) -> bool:
        return 0 < self.n_people < SMALL_SAMPLE

    @property
    def flagged(self) -> list[ItemLine]:
        return [item for item in self.items if item.flags]

    def filename(self, kind: str) -> str:
        """e.g. ``analisis-butir-BAT-UJI`` or ``analisis-butir-BAT-UJI-sesi-S-01``."""
        scope = f"-sesi-{self.session.code}" if self.session else ""
        return f"{kind}-{self.battery_code}{scope}"


def _value(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def item_analysis(battery_code: str, session_id: int | None = None) -> ItemAnalysisReport:
    """The report of the finished attempts of a battery, or of one of its sessions.

    ``LookupError`` when the battery does not exist or the session is not one of its sessions.
    A battery without finished attempts gives an empty report (``report.empty``).
    """
    latest = db.session.scalars(
        select(BatteryVersion)
        .where(BatteryVersion.code == battery_code)
        .order_by(BatteryVersion.id.desc())
    ).first()
    if latest is None:
        raise LookupError(battery_code)
    sessions = [
        SessionChoice(s.id, s.code, s.name)
        for s in db.session.scalars(
            select(ExamSession)
            .join(BatteryVersion, BatteryVersion.id == ExamSession.battery_version_id)
            .where(BatteryVersion.code == battery_code, reach.current().sessions(ExamSession.id))
            .order_by(ExamSession.starts_at, ExamSession.id)
        )
    ]
    session = None
    if session_id is not None:
        session = next((s for s in sessions if s.id == session_id), None)
        if session is None:
            raise LookupError(f"session {session_id} of {battery_code}")
    matrix = item_matrix(battery_code, session_id)
    if matrix is None:
        return ItemAnalysisReport(battery_code, latest.title, session, sessions, 0, [], [], [], [])
    # Report order: sections as the battery lists them, items by code within a section (the
    # matrix has them in the first attempt's, possibly shuffled, order).
    listed = [section["code"] for section in latest.definition.get("sections", [])]
    rank = {code: n for n, code in enumerate(dict.fromkeys([*listed, *matrix.sections]))}
    order = sorted(
        range(len(matrix.item_codes)),
        key=lambda k: (rank[matrix.sections[k]], matrix.item_codes[k]),
    )
    section_codes = sorted(set(matrix.sections), key=rank.__getitem__)
    items = _items(matrix)
    return ItemAnalysisReport(
        battery_code=battery_code,
        title=latest.title,
        session=session,
        sessions=sessions,
        n_people=matrix.n_people,
        section_codes=section_codes,
        items=[items[k] for k in order],
        reliabilities=_reliabilities(matrix, section_codes, order, latest.definition),
        people=_people(matrix, section_codes),
    )


def session_battery_code(session_id: int) -> str | None:
    """The code of the battery a session runs, or None when there is no such session."""
    return db.session.scalar(
        select(BatteryVersion.code)
        .join(ExamSession, ExamSession.battery_version_id == BatteryVersion.id)
        .where(ExamSession.id == session_id)
    )


def _items(matrix: ItemMatrix) -> list[ItemLine]:
    keyed = np.zeros(matrix.chosen.shape[1:], dtype=bool)
    for k, (labels, key) in enumerate(zip(matrix.options, matrix.keys, strict=True)):
        for label in key:
            if label in labels:
                keyed[k, labels.index(label)] = True
    stats = item_statistics(matrix.scores, matrix.max_points, matrix.sections, matrix.chosen, keyed)
    options = stats.options
    assert options is not None and options.working is not None
    seen = ~np.isnan(matrix.scores)
    counts = (matrix.chosen & seen[:, :, None]).sum(axis=0)
    blanks = (matrix.blank & seen).sum(axis=0)
    lines = []
    for k, code in enumerate(matrix.item_codes):
        n = int(stats.n[k])
        lines.append(
            ItemLine(
                code=code,
                item_type=matrix.item_types[k],
                section=matrix.sections[k],
                competency=matrix.competencies[k],
                n=n,
                max_points=float(matrix.max_points[k]),
                mean=_value(stats.mean[k]),
                p=_value(stats.p[k]),
                r=_value(stats.r[k]),
                d=_value(stats.d[k]),
                d_category=d_category(stats.d[k]),
                flags=stats.flags[k],
                blank=float(blanks[k]) / n if n else None,
                options=[
                    OptionLine(
                        label=label,
                        keyed=bool(keyed[k, o]),
                        count=int(counts[k, o]),
                        share=_value(options.share[k, o]),
                        upper=_value(options.upper[k, o]),
                        lower=_value(options.lower[k, o]),
                        rest_r=_value(options.rest_r[k, o]),
                        working=None
                        if np.isnan(options.working[k, o])
                        else bool(options.working[k, o]),
                    )
                    for o, label in enumerate(matrix.options[k])
                ],
            )
        )
    return lines


def _reliabilities(
    matrix: ItemMatrix, section_codes: list[str], order: list[int], definition: dict
) -> list[ReliabilityLine]:
    titles = {s["code"]: s.get("title", s["code"]) for s in definition.get("sections", [])}
    scale_codes = list(dict.fromkeys(matrix.competencies[k] for k in order))
    names = dict(
        db.session.execute(
            select(Competency.code, Competency.name).where(Competency.code.in_(scale_codes))
        ).all()
    )
    groups = [("section", c, titles.get(c, c), matrix.sections) for c in section_codes]
    groups += [("scale", c, names.get(c, c), matrix.competencies) for c in scale_codes]
    lines = []
    for kind, code, name, membership in groups:
        columns = [k for k, member in enumerate(membership) if member == code]
        result = reliability(matrix.scores[:, columns])
        lines.append(ReliabilityLine(kind, code, name, **asdict(result)))
    return lines


def _people(matrix: ItemMatrix, section_codes: list[str]) -> list[PersonLine]:
    seen = ~np.isnan(matrix.scores)
    filled = np.where(seen, matrix.scores, 0.0)
    columns = [np.where(seen.any(axis=1), filled.sum(axis=1), np.nan)]
    sections = np.asarray(matrix.sections)
    for code in section_codes:
        member = sections == code
        columns.append(np.where(seen[:, member].any(axis=1), filled[:, member].sum(axis=1), np.nan))
    values = np.column_stack(columns)
    scores = standard_scores(values)

    def line(row: int, column: int) -> ScoreLine:
        stanine = scores.stanine[row, column]
        return ScoreLine(
            _value(values[row, column]),
            _value(scores.z[row, column]),
            _value(scores.t[row, column]),
            _value(scores.percentile[row, column]),
            int(stanine) if np.isfinite(stanine) else None,
        )

    return [
        PersonLine(nip, name, line(row, 0), [line(row, c) for c in range(1, values.shape[1])])
        for row, (nip, name) in enumerate(matrix.people)
    ]

"""Read models of the standard-setting pages: a battery version's cuts per competency, a
study with its computed cuts, and one panelist's judgement form. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from cbt_server.assessment.standard_setting import (
    Computation,
    PoolItem,
    competency_codes,
    compute,
    graded_with_other_cuts,
    panel_rule,
    pool,
    pool_item_ids,
)
from cbt_server.banks.queries import ItemPreview, item_previews
from cbt_server.models import BatteryVersion, Competency, CutJudgement, CutScore, CutStudy, User, db
from cbt_server.scoring.levels import bank_cuts


@dataclass(frozen=True)
class VersionRef:
    id: int
    version_label: str
    title: str
    imported_at: datetime


@dataclass(frozen=True)
class SetCutLine:
    """Cuts set by a method: what, how, when, by whom, why."""

    id: int
    competency_code: str
    cuts: tuple[float, ...]
    method: str
    set_at: datetime
    set_by: str | None
    reason: str
    study_id: int
    panelists: int

    #: a set cut, not the bank's percentages (as assessment.cut_scores.CutSource says it)
    from_bank = False


@dataclass(frozen=True)
class StudyLine:
    id: int
    status: str
    created_at: datetime
    created_by: str | None
    panelists: int


@dataclass(frozen=True)
class CompetencyCuts:
    code: str
    name: str | None
    #: items in the battery version's pool for the competency
    items: int
    bank_cuts: tuple[float, ...]
    #: whether the bank's cuts are the competency's own line (else the ``default`` line)
    bank_own_line: bool
    #: cuts set by a method, newest (in force) first
    history: list[SetCutLine] = field(default_factory=list)
    studies: list[StudyLine] = field(default_factory=list)

    @property
    def in_force(self) -> SetCutLine | None:
        return self.history[0] if self.history else None

    @property
    def cuts(self) -> tuple[float, ...]:
        return self.in_force.cuts if self.in_force else self.bank_cuts


@dataclass(frozen=True)
class CutOverview:
    code: str
    versions: list[VersionRef]
    version: VersionRef
    competencies: list[CompetencyCuts]


def _set_lines(where) -> list[SetCutLine]:  # type: ignore[no-untyped-def]
    return [
        SetCutLine(
            c.id,
            c.competency_code,
            c.cuts,
            c.method,
            c.set_at,
            name,
            c.reason,
            c.study_id,
            c.panelists,
        )
        for c, name in db.session.execute(
            select(CutScore, User.full_name)
            .outerjoin(User, User.id == CutScore.set_by_id)
            .where(where)
            .order_by(CutScore.id.desc())
        )
    ]


def overview(code: str, version_id: int | None = None) -> CutOverview | None:
    """The battery's versions and, for one (the newest unless chosen), every competency its
    rules draw with the cuts in force, their history and the studies; None: no such battery."""
    versions = db.session.scalars(
        select(BatteryVersion).where(BatteryVersion.code == code).order_by(BatteryVersion.id.desc())
    ).all()
    if not versions:
        return None
    chosen = next((v for v in versions if v.id == version_id), versions[0])
    codes = competency_codes(chosen.definition)
    names = dict(
        db.session.execute(
            select(Competency.code, Competency.name).where(Competency.code.in_(codes))
        ).all()
    )
    history: dict[str, list[SetCutLine]] = {}
    for line in _set_lines(CutScore.battery_version_id == chosen.id):  # newest first
        history.setdefault(line.competency_code, []).append(line)
    studies: dict[str, list[StudyLine]] = {}
    for study, name, panelists in db.session.execute(
        select(
            CutStudy,
            User.full_name,
            select(func.count(func.distinct(CutJudgement.panelist)))
            .where(CutJudgement.study_id == CutStudy.id)
            .scalar_subquery(),
        )
        .outerjoin(User, User.id == CutStudy.created_by_id)
        .where(CutStudy.battery_version_id == chosen.id)
        .order_by(CutStudy.id.desc())
    ):
        studies.setdefault(study.competency_code, []).append(
            StudyLine(study.id, study.status, study.created_at, name, panelists or 0)
        )
    levels = chosen.definition["levels"]
    competencies = [
        CompetencyCuts(
            code=c,
            name=names.get(c),
            items=len(pool_item_ids(chosen, c)),
            bank_cuts=tuple(float(x) for x in bank_cuts(levels, c)),
            bank_own_line=c in levels,
            history=history.get(c, []),
            studies=studies.get(c, []),
        )
        for c in codes
    ]
    refs = [VersionRef(v.id, v.version_label, v.title, v.imported_at) for v in versions]
    return CutOverview(code, refs, refs[versions.index(chosen)], competencies)


@dataclass(frozen=True)
class StudyPage:
    study: CutStudy
    version: BatteryVersion
    competency_name: str | None
    created_by: str | None
    computation: Computation
    bank_cuts: tuple[float, ...]
    #: the cuts set by a method in force for the battery version and competency, if any
    in_force: SetCutLine | None
    #: the cuts this study set, once set
    set_cut: SetCutLine | None
    #: finished attempts whose level came from other cuts (when this study's cuts are in force)
    graded_before: int
    minimum: int
    recommended: int

    @property
    def item_codes(self) -> list[str]:
        return [i.item_code for i in self.computation.items]


def study_of(code: str, study_id: int) -> tuple[CutStudy, BatteryVersion] | None:
    """The study with its battery version, when it belongs to the battery ``code``."""
    study = db.session.get(CutStudy, study_id)
    if study is None:
        return None
    version = db.session.get(BatteryVersion, study.battery_version_id)
    return (study, version) if version is not None and version.code == code else None


def study_page(code: str, study_id: int) -> StudyPage | None:
    found = study_of(code, study_id)
    if found is None:
        return None
    study, version = found
    lines = _set_lines(
        (CutScore.battery_version_id == version.id)
        & (CutScore.competency_code == study.competency_code)
    )
    set_cut = next((line for line in lines if line.study_id == study.id), None)
    in_force = lines[0] if lines else None
    graded_before = 0
    if set_cut is not None and in_force is set_cut:
        graded_before = graded_with_other_cuts(db.session.get(CutScore, set_cut.id))
    minimum, recommended = panel_rule()
    return StudyPage(
        study=study,
        version=version,
        competency_name=db.session.scalar(
            select(Competency.name).where(Competency.code == study.competency_code)
        ),
        created_by=db.session.scalar(select(User.full_name).where(User.id == study.created_by_id)),
        computation=compute(study, version),
        bank_cuts=tuple(
            float(x) for x in bank_cuts(version.definition["levels"], study.competency_code)
        ),
        in_force=in_force,
        set_cut=set_cut,
        graded_before=graded_before,
        minimum=minimum,
        recommended=recommended,
    )


@dataclass(frozen=True)
class JudgementRow:
    item: PoolItem
    preview: ItemPreview
    #: the panelist's stored values (None where none is stored at the item's current maximum)
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class JudgementSheet:
    study: CutStudy
    version: BatteryVersion
    competency_name: str | None
    panelist: str
    rows: list[JudgementRow]


def judgement_sheet(code: str, study_id: int, panelist: str = "") -> JudgementSheet | None:
    """The study's items as participants see them, with their keys, and the panelist's stored
    judgements (for a correction), for the judgement form."""
    found = study_of(code, study_id)
    if found is None:
        return None
    study, version = found
    items = pool(version, study.competency_code)
    stored: dict[int, tuple[float | None, ...]] = {}
    if panelist:
        current = {i.item_id: i.max_points for i in items}
        for row in db.session.scalars(
            select(CutJudgement).where(
                CutJudgement.study_id == study.id, CutJudgement.panelist == panelist
            )
        ):
            if current.get(row.item_id) == row.max_points:
                stored[row.item_id] = row.values
    previews = {p.item.id: p for p in item_previews([i.item_id for i in items])}
    blank = (None, None, None, None)
    return JudgementSheet(
        study=study,
        version=version,
        competency_name=db.session.scalar(
            select(Competency.name).where(Competency.code == study.competency_code)
        ),
        panelist=panelist,
        rows=[JudgementRow(i, previews[i.item_id], stored.get(i.item_id, blank)) for i in items],
    )

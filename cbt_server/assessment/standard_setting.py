"""Setting level cuts by a method (modified Angoff): studies, panelists' judgements, set cuts.

An assessor opens a study for one competency of one battery version, enters each panelist's
judgements of the competency's items (the battery version's pool: every item its selection
rules may draw for that competency), reads the computed cuts with their spread, and sets them
with a written reason. From then on grading uses them for that battery version and competency
(assessment/cut_scores.py); attempts graded earlier keep their levels until a regrade.
The computation is pure (scoring/standard_setting.py); the rules are in docs/scoring.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import delete, func, select

from cbt_server import audit
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery import frozen
from cbt_server.delivery.cuts import cuts_in_force
from cbt_server.delivery.grading import key_overrides, keyed_item
from cbt_server.delivery.lifecycle import GRADED
from cbt_server.models import (
    Attempt,
    AttemptScore,
    BatteryVersion,
    CutJudgement,
    CutScore,
    CutStudy,
    Item,
    ItemKey,
    User,
    db,
)
from cbt_server.scoring.levels import N_CUTS
from cbt_server.scoring.standard_setting import (
    AngoffResult,
    angoff,
    expected_points,
    judged_as_probability,
    judgement_fault,
    judgement_limit,
)

METHOD = "angoff"
PANELIST_MAX = 200


class StudyRefused(ValueError):
    """A study action that is refused; nothing was written. ``kind`` names why and ``params``
    carry the details, for the page to say in the interface language:

    ``not_in_battery``, ``no_points``, ``closed``, ``panelist``, ``judgements`` (``problems``:
    (item code, boundary, ``missing`` | ``range``, the largest value allowed)), ``too_few``
    (``n``, ``minimum``), ``out_of_order`` (``faults``), ``reason``.
    """

    def __init__(self, kind: str, **params: object) -> None:
        super().__init__(kind)
        self.kind = kind
        self.params = params


@dataclass(frozen=True)
class PoolItem:
    """An item a battery version may draw for a competency, as a panelist judges it."""

    item_id: int
    item_code: str
    item_type: str
    max_points: float
    as_probability: bool

    @property
    def limit(self) -> float:
        """The largest judgement: 1 (a probability) or the item's maximum (points)."""
        return judgement_limit(self.max_points, self.as_probability)


def panel_rule() -> tuple[int, int]:
    """(minimum, recommended) panelists: the settings ``CBT_ANGOFF_MIN_PANELISTS`` (never
    below 2: one person is no panel) and ``CBT_ANGOFF_RECOMMENDED_PANELISTS``."""
    minimum = max(2, int(current_app.config.get("CBT_ANGOFF_MIN_PANELISTS", 3)))
    recommended = max(minimum, int(current_app.config.get("CBT_ANGOFF_RECOMMENDED_PANELISTS", 5)))
    return minimum, recommended


def competency_codes(definition: Mapping) -> list[str]:
    """The competencies a battery version's selection rules draw, in order of appearance."""
    codes: list[str] = []
    for section in definition.get("sections", []):
        for rule in section.get("rules", []):
            if rule["competency"] not in codes:
                codes.append(rule["competency"])
    return codes


def pool_item_ids(version: BatteryVersion, code: str) -> list[int]:
    """The ids of every item the battery version's rules may draw for the competency, in rule
    order and then bank order (the candidates attempt assembly draws from)."""
    candidates = frozen.candidates(version.id, version.definition)
    ids: list[int] = []
    for s_index, section in enumerate(version.definition.get("sections", [])):
        for r_index, rule in enumerate(section.get("rules", [])):
            if rule["competency"] == code:
                ids += [c.item_id for c in candidates.get((s_index, r_index), ())]
    return list(dict.fromkeys(ids))


def pool(version: BatteryVersion, code: str) -> list[PoolItem]:
    """The competency's pool (:func:`pool_item_ids`), each item with its maximum as grading
    takes it (key corrections included)."""
    ids = pool_item_ids(version, code)
    if not ids:
        return []
    rows = {
        item.id: (item, key)
        for item, key in db.session.execute(
            select(Item, ItemKey).join(ItemKey, ItemKey.item_id == Item.id).where(Item.id.in_(ids))
        )
    }
    fixes = key_overrides(ids)
    found = []
    for item_id in ids:
        item, key = rows[item_id]
        maximum = keyed_item(item, key, fixes.get(item_id)).max_score
        found.append(
            PoolItem(
                item_id,
                item.item_code,
                item.item_type,
                float(maximum),
                judged_as_probability(item.item_type),
            )
        )
    return found


def study_label(version: BatteryVersion, code: str) -> str:
    """How audit rows name a study's target: ``BAT-UJI v1 T.UJ.01``."""
    return f"{version.code} v{version.version_label} {code}"


# ---- opening a study ------------------------------------------------------------------------


def open_study(
    actor: User, battery_code: str, battery_version_id: int, code: str
) -> tuple[CutStudy, bool]:
    """A draft study of the competency for a version of the battery: the draft already open,
    or a new one (audited). Returns (study, created)."""
    with write_transaction():
        version = db.session.get(BatteryVersion, battery_version_id)
        if (
            version is None
            or version.code != battery_code
            or code not in competency_codes(version.definition)
        ):
            raise StudyRefused("not_in_battery", code=code)
        draft = db.session.scalar(
            select(CutStudy).where(
                CutStudy.battery_version_id == version.id,
                CutStudy.competency_code == code,
                CutStudy.status == "draft",
            )
        )
        if draft is not None:
            return draft, False
        items = pool(version, code)
        if sum(i.max_points for i in items) <= 0:
            raise StudyRefused("no_points", code=code)
        study = CutStudy(
            battery_version_id=version.id,
            competency_code=code,
            method=METHOD,
            status="draft",
            created_by_id=actor.id,
            created_at=now(),
        )
        db.session.add(study)
        db.session.flush()
        audit.record(
            "cut_study.open",
            actor=actor,
            target=study_label(version, code),
            details={
                "study_id": study.id,
                "battery_version_id": version.id,
                "competency": code,
                "method": METHOD,
                "items": len(items),
            },
        )
    return study, True


# ---- one panelist's judgements --------------------------------------------------------------


def save_judgements(
    actor: User, study_id: int, panelist: str, values: Mapping[int, Sequence[float | None]]
) -> int:
    """Store one panelist's judgements of every item of the study's pool (``values``: item id
    -> four judged values), replacing what was stored for that panelist. Every item and every
    boundary is needed and each value must be in range, else nothing is stored. Audited.
    Returns how many items were stored."""
    name = " ".join((panelist or "").split())
    if not name or len(name) > PANELIST_MAX:
        raise StudyRefused("panelist", limit=PANELIST_MAX)
    with write_transaction():
        study, version = _draft(study_id)
        items = pool(version, study.competency_code)
        problems: list[tuple[str, int, str, float]] = []
        for item in items:
            given = list(values.get(item.item_id) or [])
            given += [None] * (N_CUTS - len(given))
            for boundary, value in enumerate(given[:N_CUTS], start=1):
                fault = judgement_fault(value, item.max_points, item.as_probability)
                if fault:
                    problems.append((item.item_code, boundary, fault, item.limit))
        if problems:
            raise StudyRefused("judgements", problems=problems)
        replaced = db.session.execute(
            delete(CutJudgement).where(
                CutJudgement.study_id == study.id, CutJudgement.panelist == name
            )
        ).rowcount
        at = now()
        for item in items:
            v1, v2, v3, v4 = (float(v) for v in values[item.item_id][:N_CUTS])  # type: ignore[arg-type]
            db.session.add(
                CutJudgement(
                    study_id=study.id,
                    panelist=name,
                    item_id=item.item_id,
                    as_probability=item.as_probability,
                    max_points=item.max_points,
                    value_1=v1,
                    value_2=v2,
                    value_3=v3,
                    value_4=v4,
                    entered_by_id=actor.id,
                    entered_at=at,
                )
            )
        audit.record(
            "cut_study.judgements",
            actor=actor,
            target=study_label(version, study.competency_code),
            details={
                "study_id": study.id,
                "panelist": name,
                "items": len(items),
                "replaced": bool(replaced),
            },
        )
    return len(items)


def _draft(study_id: int) -> tuple[CutStudy, BatteryVersion]:
    """The study (locked for the transaction where the database can) while it is a draft."""
    study = db.session.scalar(select(CutStudy).where(CutStudy.id == study_id).with_for_update())
    if study is None:
        raise LookupError(study_id)
    if study.status != "draft":
        raise StudyRefused("closed")
    return study, db.session.get(BatteryVersion, study.battery_version_id)


# ---- the computed cuts ----------------------------------------------------------------------


@dataclass(frozen=True)
class Panelist:
    name: str
    #: items judged at the item's current maximum; the rest are missing or stale
    judged: int
    complete: bool
    entered_by: str | None
    entered_at: datetime | None


@dataclass(frozen=True)
class Computation:
    items: list[PoolItem]
    panelists: list[Panelist]
    #: None until a complete panelist's judgements are stored
    result: AngoffResult | None


def compute(study: CutStudy, version: BatteryVersion) -> Computation:
    """The study's cuts from its complete panelists: those who judged every item of the pool
    at the item's current maximum (a key correction that changes a maximum asks for the
    item to be judged again)."""
    items = pool(version, study.competency_code)
    current = {i.item_id: i.max_points for i in items}
    position = {i.item_id: n for n, i in enumerate(items)}
    rows = db.session.execute(
        select(CutJudgement, User.full_name)
        .outerjoin(User, User.id == CutJudgement.entered_by_id)
        .where(CutJudgement.study_id == study.id)
        .order_by(CutJudgement.panelist, CutJudgement.id)
    ).all()
    tables: dict[str, list[list[float] | None]] = {}
    who: dict[str, tuple[str | None, datetime]] = {}
    for row, entered_by in rows:
        table = tables.setdefault(row.panelist, [None] * len(items))
        who[row.panelist] = (entered_by, row.entered_at)
        n = position.get(row.item_id)
        if n is None or row.max_points != current[row.item_id]:
            continue  # not in the pool (cannot happen) or judged at another maximum
        table[n] = [expected_points(v, row.max_points, row.as_probability) for v in row.values]
    panelists = []
    complete: dict[str, list[list[float]]] = {}
    for name, table in tables.items():
        judged = sum(1 for t in table if t is not None)
        if judged == len(items):
            complete[name] = table  # type: ignore[assignment]
        panelists.append(Panelist(name, judged, judged == len(items), *who[name]))
    result = None
    if complete:
        minimum, recommended = panel_rule()
        result = angoff(
            [i.max_points for i in items],
            complete,
            min_panelists=minimum,
            recommended_panelists=recommended,
        )
    return Computation(items, panelists, result)


# ---- setting the cuts -----------------------------------------------------------------------


def set_cuts(actor: User, study_id: int, reason: str | None) -> CutScore:
    """Set the study's computed cuts for its battery version and competency, with the written
    reason; the study is closed. Refused (nothing stored) with too few complete panelists or
    cuts that are not strictly ascending. Audited with the cuts before and after."""
    written = audit.written_reason(reason)
    if written is None:
        raise StudyRefused("reason", minimum=audit.REASON_MIN)
    with write_transaction():
        study, version = _draft(study_id)
        computed = compute(study, version).result
        minimum, _recommended = panel_rule()
        if computed is None or computed.too_few:
            n = len(computed.panelists) if computed is not None else 0
            raise StudyRefused("too_few", n=n, minimum=minimum)
        if computed.out_of_order:
            raise StudyRefused("out_of_order", faults=computed.out_of_order)
        code = study.competency_code
        before = cuts_in_force(version.id, version.definition["levels"])
        cut = CutScore(
            battery_version_id=version.id,
            competency_code=code,
            method=study.method,
            study_id=study.id,
            panelists=len(computed.panelists),
            set_by_id=actor.id,
            set_at=now(),
            reason=written,
        )
        cut.cut_1, cut.cut_2, cut.cut_3, cut.cut_4 = computed.cuts
        db.session.add(cut)
        study.status = "set"
        db.session.flush()
        audit.record(
            "cut_scores.set",
            actor=actor,
            target=study_label(version, code),
            reason=written,
            details={
                "cut_score_id": cut.id,
                "study_id": study.id,
                "battery_version_id": version.id,
                "competency": code,
                "method": study.method,
                "cuts_before": list(before.cuts(code)),
                "cuts_before_from": before.cut_score_id(code) or "bank",
                "cuts": list(computed.cuts),
                "panelists": list(computed.panelists),
                "sd": [b.sd for b in computed.boundaries],
                "se": [b.se for b in computed.boundaries],
            },
        )
    return cut


def graded_with_other_cuts(cut: CutScore) -> int:
    """Finished attempts of the cut's battery version whose stored level of the competency
    came from other cuts (graded before these were set): what a regrade would change."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(AttemptScore)
            .join(Attempt, Attempt.id == AttemptScore.attempt_id)
            .where(
                Attempt.battery_version_id == cut.battery_version_id,
                Attempt.state.in_(tuple(GRADED)),
                AttemptScore.scope == "competency",
                AttemptScore.code == cut.competency_code,
                AttemptScore.level.is_not(None),
                (AttemptScore.cut_score_id.is_(None)) | (AttemptScore.cut_score_id != cut.id),
            )
        )
        or 0
    )

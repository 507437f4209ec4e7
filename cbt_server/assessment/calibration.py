"""Calibrating a bank from the graded attempts of chosen sessions, kept as a numbered version.

The persons × items matrix comes from ``item_matrix.bank_matrix``: every graded attempt of the
sessions, on the items of the bank it was presented, all random forms and bank versions together
(items by their id in the bank; NaN where an item was not presented). Each item's stored score
becomes 0/1 by one rule (``analytics.irt.full_marks``, which grading uses too): 1 for the
item's full marks, 0 for anything less, so a multiple-response item counts only when answered
completely right. Weighted-option and Likert
items are excluded (no partial credit model yet) and stored as ``excluded``.

``analytics/irt.py`` calibrates (Rasch, or the 2PL where the data allow); optionally the items of
the bank's previous calibration (same model) keep their parameters as anchors, so the new
version is on the same scale. The result is stored as the bank's next version with one audit
row; a refusal (:class:`CalibrationRefused`) stores nothing. Rules: docs/psychometrics.md,
"Calibrating a bank from stored responses".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select

from cbt_server import audit
from cbt_server.analytics import irt
from cbt_server.assessment.item_matrix import ItemMatrix, bank_matrix
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import BankVersion, Calibration, CalibrationItem, ExamSession, User, db

#: item types a 0/1 model covers: right or wrong, or partial credit read as full marks or not
DICHOTOMOUS_TYPES = frozenset({"single", "multiple", "truefalse", "short"})
STATUS_EXCLUDED = "excluded"
MODELS = (irt.MODEL_RASCH, irt.MODEL_2PL)
#: fit categories outside 0.5–1.5 (Linacre's "productive for measurement") on infit or outfit
MISFITS = frozenset({"overfit", "noisy", "degrading"})
_FIT_ORDER = ("good", "productive", "overfit", "noisy", "degrading")
NOTE_MAX = 1000


class CalibrationRefused(ValueError):
    """A calibration that is refused; nothing was stored. ``kind`` names why and ``params``
    carry the details, for the page to say in the interface language (``str()`` is the
    command line's English):

    ``unknown_bank`` (bank), ``no_sessions``, ``unknown_sessions`` (codes), ``model`` (model),
    ``note`` (limit), ``no_previous`` (bank, model), ``no_responses`` (bank, sessions),
    ``no_anchor_items`` (bank, version, sessions), ``no_dichotomous`` (bank, sessions),
    ``too_few`` (bank, sessions, minimum, most).
    """

    def __init__(self, kind: str, **params: object) -> None:
        super().__init__(kind)
        self.kind = kind
        self.params = params

    def __str__(self) -> str:
        p = self.params
        sessions = ", ".join(p.get("sessions", ()))  # type: ignore[call-overload]
        messages = {
            "unknown_bank": "bank {bank!r}: no such bank (import it first: flask banks import)",
            "no_sessions": "choose at least one session (--sessions CODE[,CODE...])",
            "unknown_sessions": "no such session: {codes}",
            "model": "model {model!r}: use rasch or 2pl",
            "note": "the note is longer than {limit} characters",
            "no_previous": (
                "bank {bank}: no earlier {model} calibration to anchor to "
                "(run without --anchor-previous)"
            ),
            "no_responses": (
                "bank {bank}: no graded attempt of session(s) {sessions} presented an item of it"
            ),
            "no_anchor_items": (
                "bank {bank}: none of the items calibrated in version {version} was presented "
                "in session(s) {sessions}: nothing to anchor to"
            ),
            "no_dichotomous": (
                "bank {bank}: the attempts of session(s) {sessions} presented only weighted-option "
                "and Likert items of it, which no model here calibrates"
            ),
            "too_few": (
                "bank {bank}: no item has {minimum} responses with both full marks and less in "
                "session(s) {sessions} (most responses to one item: {most}); choose more sessions"
            ),
        }
        values = {**p, "codes": ", ".join(p.get("codes", ())), "sessions": sessions}  # type: ignore[call-overload]
        return messages[self.kind].format(**values) + "; nothing was stored"


@dataclass(frozen=True)
class Outcome:
    """What a stored calibration came to, for the command's summary and the page's message."""

    id: int
    bank_code: str
    version: int
    model: str
    persons: int
    responses: int
    #: items with parameters (calibrated or anchored), of which anchored to this version
    calibrated: int
    anchors: int
    anchored_to_version: int | None
    #: status → how many items got it without parameters (too_few, all_correct, excluded, …)
    not_calibrated: dict[str, int]
    population_mean: float
    population_sd: float
    converged: bool
    iterations: int
    #: item codes whose infit or outfit is outside 0.5–1.5
    misfits: tuple[str, ...]


def calibrate_bank(
    actor: User | None,
    bank_code: str,
    session_codes: Sequence[str],
    *,
    model: str = irt.MODEL_RASCH,
    anchor_previous: bool = False,
    note: str | None = None,
) -> Outcome:
    """Calibrate the bank from the graded attempts of the sessions and store the result as its
    next version (audited ``calibration.run``; ``actor`` None: the command line). With
    ``anchor_previous`` the items with parameters in the bank's newest calibration of the same
    model keep them. Raises :class:`CalibrationRefused` (nothing stored)."""
    note = (note or "").strip() or None
    if model not in MODELS:
        raise CalibrationRefused("model", model=model)
    if note is not None and len(note) > NOTE_MAX:
        raise CalibrationRefused("note", limit=NOTE_MAX)
    bank = select(BankVersion.id).where(BankVersion.code == bank_code).limit(1)
    if db.session.scalar(bank) is None:
        raise CalibrationRefused("unknown_bank", bank=bank_code)
    sessions = _sessions(session_codes)
    codes = [code for _id, code in sessions]
    previous = _previous(bank_code, model) if anchor_previous else None
    matrix = bank_matrix(bank_code, [session_id for session_id, _code in sessions])
    if matrix is None:
        raise CalibrationRefused("no_responses", bank=bank_code, sessions=codes)
    items = [code.split("/", 1)[1] for code in matrix.item_codes]
    included = np.isin(matrix.item_types, list(DICHOTOMOUS_TYPES)) & (matrix.max_points > 0)
    if not included.any():
        raise CalibrationRefused("no_dichotomous", bank=bank_code, sessions=codes)
    x = irt.full_marks(matrix.scores[:, included], matrix.max_points[included])
    minimum = irt.MIN_RESPONSES if model == irt.MODEL_RASCH else irt.MIN_RESPONSES_2PL
    if not _enough(x, minimum, model).any():
        most = int((~np.isnan(x)).sum(axis=0).max())
        raise CalibrationRefused(
            "too_few", bank=bank_code, sessions=codes, minimum=minimum, most=most
        )
    anchors = _anchors(previous, [c for c, inside in zip(items, included, strict=True) if inside])
    if previous is not None and not anchors:
        raise CalibrationRefused(
            "no_anchor_items", bank=bank_code, version=previous.version, sessions=codes
        )
    result, fit = _calibrate(x, anchors, model, bank_code, previous, codes)
    lines = _item_rows(matrix, items, included, x, result, fit)
    return _store(actor, bank_code, model, sessions, previous, note, result, lines)


def _enough(x: np.ndarray, minimum: int, model: str) -> np.ndarray:
    """(K,) the item's responses could calibrate it without anchors: ``minimum`` of them, with
    full marks and less (2PL: at least ``irt.MIN_EACH_2PL`` of each). A calibration needs one
    such item, anchored or not; else the data say too little to store."""
    n = (~np.isnan(x)).sum(axis=0)
    correct = np.nansum(x, axis=0)
    each = 1 if model == irt.MODEL_RASCH else irt.MIN_EACH_2PL
    return (n >= minimum) & (correct >= each) & (n - correct >= each)


def _sessions(session_codes: Sequence[str]) -> list[tuple[int, str]]:
    """(id, code) of the chosen sessions, in the order given, each once."""
    wanted = list(dict.fromkeys(c.strip() for c in session_codes if c and c.strip()))
    if not wanted:
        raise CalibrationRefused("no_sessions")
    found = dict(
        db.session.execute(
            select(ExamSession.code, ExamSession.id).where(ExamSession.code.in_(wanted))
        ).all()
    )
    missing = [code for code in wanted if code not in found]
    if missing:
        raise CalibrationRefused("unknown_sessions", codes=missing)
    return [(found[code], code) for code in wanted]


def _previous(bank_code: str, model: str) -> Calibration:
    previous = db.session.scalar(
        select(Calibration)
        .where(Calibration.bank_code == bank_code, Calibration.model == model)
        .order_by(Calibration.version.desc())
        .limit(1)
    )
    if previous is None:
        raise CalibrationRefused("no_previous", bank=bank_code, model=model)
    return previous


def _anchors(
    previous: Calibration | None, codes: list[str]
) -> dict[int, float] | dict[int, tuple[float, float]]:
    """Column → the previous calibration's difficulty (Rasch) or (slope, difficulty) (2PL, the
    previous one is of the same model), for the items it gave parameters that are columns here."""
    if previous is None:
        return {}
    column = {code: k for k, code in enumerate(codes)}
    anchors: dict = {}
    for item in previous.items:
        if item.status in irt.USABLE and item.item_code in column and item.difficulty is not None:
            k = column[item.item_code]
            if previous.model == irt.MODEL_RASCH:
                anchors[k] = item.difficulty
            else:
                anchors[k] = (item.discrimination, item.difficulty)
    return anchors


def _calibrate(
    x: np.ndarray,
    anchors: dict,
    model: str,
    bank_code: str,
    previous: Calibration | None,
    codes: list[str],
) -> tuple[irt.Calibration, irt.ItemFit]:
    run = irt.calibrate_rasch if model == irt.MODEL_RASCH else irt.calibrate_2pl
    try:
        result = run(x, anchors or None)
    except ValueError:  # no anchor item was presented to anyone
        assert previous is not None
        raise CalibrationRefused(
            "no_anchor_items", bank=bank_code, version=previous.version, sessions=codes
        ) from None
    return result, irt.item_fit(x, result)


def fit_band(infit: float | None, outfit: float | None) -> str | None:
    """The worse of the infit and outfit categories (``irt.fit_category``); None if neither."""
    bands = [b for b in (irt.fit_category(infit), irt.fit_category(outfit)) if b is not None]
    return max(bands, key=_FIT_ORDER.index) if bands else None


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _item_rows(
    matrix: ItemMatrix,
    items: list[str],
    included: np.ndarray,
    x: np.ndarray,
    result: irt.Calibration,
    fit: irt.ItemFit,
) -> list[CalibrationItem]:
    """One row per column of the matrix, in the matrix's order."""
    lines = []
    presented = (~np.isnan(matrix.scores)).sum(axis=0)
    correct = np.nansum(x, axis=0)
    k = 0  # column in x
    for column, code in enumerate(items):
        kind = matrix.item_types[column]
        if not included[column]:
            lines.append(
                CalibrationItem(
                    item_code=code,
                    item_type=kind,
                    status=STATUS_EXCLUDED,
                    n=int(presented[column]),
                    correct=None,
                )
            )
            continue
        status = result.status[k]
        usable = status in irt.USABLE
        infit = _number(fit.infit[k]) if usable else None
        outfit = _number(fit.outfit[k]) if usable else None
        lines.append(
            CalibrationItem(
                item_code=code,
                item_type=kind,
                status=status,
                n=int(result.n[k]),
                correct=int(correct[k]),
                difficulty=_number(result.difficulty[k]) if usable else None,
                difficulty_se=_number(result.difficulty_se[k]) if usable else None,
                discrimination=_number(result.discrimination[k]) if usable else None,
                discrimination_se=_number(result.discrimination_se[k]) if usable else None,
                infit=infit,
                outfit=outfit,
                fit_category=fit_band(infit, outfit),
            )
        )
        k += 1
    return lines


def _store(
    actor: User | None,
    bank_code: str,
    model: str,
    sessions: list[tuple[int, str]],
    previous: Calibration | None,
    note: str | None,
    result: irt.Calibration,
    lines: list[CalibrationItem],
) -> Outcome:
    usable = [line for line in lines if line.status in irt.USABLE]
    anchored = sum(line.status == irt.STATUS_ANCHOR for line in lines)
    previous_id = previous.id if previous is not None else None
    previous_version = previous.version if previous is not None else None
    with write_transaction():
        newest = db.session.scalar(
            select(func.max(Calibration.version)).where(Calibration.bank_code == bank_code)
        )
        row = Calibration(
            bank_code=bank_code,
            version=(newest or 0) + 1,
            model=model,
            sessions=[{"id": session_id, "code": code} for session_id, code in sessions],
            persons=result.persons,
            responses=sum(line.n for line in usable),
            population_mean=float(result.population_mean),
            population_mean_se=_number(result.population_mean_se),
            population_sd=float(result.population_sd),
            population_sd_se=_number(result.population_sd_se),
            log_likelihood=float(result.log_likelihood),
            iterations=result.iterations,
            converged=bool(result.converged),
            anchored_to_id=previous_id,
            anchors=anchored,
            created_by_id=actor.id if actor is not None else None,
            created_at=now(),
            note=note,
            items=lines,
        )
        db.session.add(row)
        db.session.flush()
        outcome = Outcome(
            id=row.id,
            bank_code=bank_code,
            version=row.version,
            model=model,
            persons=row.persons,
            responses=row.responses,
            calibrated=len(usable),
            anchors=anchored,
            anchored_to_version=previous_version,
            not_calibrated=dict(
                Counter(line.status for line in lines if line.status not in irt.USABLE)
            ),
            population_mean=row.population_mean,
            population_sd=row.population_sd,
            converged=row.converged,
            iterations=row.iterations,
            misfits=tuple(line.item_code for line in usable if line.fit_category in MISFITS),
        )
        audit.record(
            "calibration.run",
            actor=actor,
            target=f"{bank_code} v{row.version}",
            details={
                "calibration_id": row.id,
                "bank": bank_code,
                "version": row.version,
                "model": model,
                "sessions": [code for _id, code in sessions],
                "anchored_to_version": previous_version,
                "persons": row.persons,
                "items_calibrated": len(usable),
                "note": note,
            },
        )
    return outcome

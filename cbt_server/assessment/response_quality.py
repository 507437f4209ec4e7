"""Response-quality flags from stored attempts, each with its evidence.

The indices are the pure ones of :mod:`cbt_server.analytics.quality`; this module reads what they
need and says, per graded attempt, what was found (docs/psychometrics.md, "Response quality:
flags and their evidence", "Where each flag is computed and shown"):

* **rapid guessing**: each answer's time (the page's time on screen when it was first answered,
  ``first_answer_ms``, else the item's stored time on screen) against the item's NT10 threshold,
  10 % of its mean time over every graded attempt of the battery that answered it (at most
  10 s); RTE per attempt. Blank items and answers without a stored time are not counted;
* **careless responding** on the Likert items of the integrity group: long-string in the order
  shown, within-person SD and even–odd consistency across the scales;
* **the lie / social-desirability scale** (competencies marked ``validity``) against its own
  norm: that scale's percent over every graded attempt of the battery; fewer than 30 → the
  provisional cut, the battery's ``validity_flag_percent`` (85 % when it has none);
* **collusion** of seat neighbours within a session (``quality.neighbours`` of the seat labels,
  Holland's K-index on identical wrong answers, Bonferroni over the session's tests).

Norms and reference groups are every graded attempt of the battery (or session), whoever the
assessor may see: a flag does not change with who looks. What a page shows is still limited to
the people the assessor may see, and a neighbour is named by seat only.

The sheet's words (``*_text``) are fixed Indonesian like its other columns (docs/downloads.md);
pages build their sentences from the fields, in the interface language.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select

from cbt_server.analytics import quality
from cbt_server.assessment.item_matrix import ItemMatrix, item_matrix
from cbt_server.delivery.lifecycle import GRADED
from cbt_server.models import (
    Attempt,
    AttemptItem,
    AttemptScore,
    BankVersion,
    BatteryVersion,
    Competency,
    Enrolment,
    Item,
    Response,
    db,
)
from cbt_server.scoring.engine import NOT_PRESENTED_CODE

#: why an attempt's integrity trait levels are withheld (docs/psychometrics.md, "What is
#: withheld when")
WITHHELD_LIE_SCALE = "lie_scale"
WITHHELD_CARELESS = "careless"


@dataclass(frozen=True)
class Rapid:
    """Answers faster than their item's threshold, and the response-time effort."""

    timed: int  # answers with a time and a threshold
    rapid: int
    rte: float  # share of the timed answers at or above threshold
    cut: float  # flagged below this RTE
    flagged: bool


@dataclass(frozen=True)
class Careless:
    """Careless-responding indices of the attempt's inventory (Likert) answers."""

    answered: int
    long_string: int  # longest run of one answer, in the order shown
    long_string_answer: int | None  # the point repeated
    long_string_share: float | None
    sd: float | None  # within-person SD of the raw answers
    even_odd: float | None  # Spearman–Brown corrected; None: not judged
    even_odd_scales: int
    flags: tuple[str, ...]  # quality.FLAG_LONG_STRING, FLAG_LOW_SD, FLAG_EVEN_ODD
    withhold: bool  # long-string or low SD: the trait levels are not a measure
    sd_cut: float = quality.SD_CUT
    even_odd_cut: float = quality.EVEN_ODD_CUT

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


@dataclass(frozen=True)
class Lie:
    """One lie / social-desirability scale of the attempt against its own norm."""

    code: str
    name: str
    percent: float
    cut: float  # percent
    basis: str  # quality.BASIS_NORM | quality.BASIS_PROVISIONAL
    norm_size: int
    rank: float | None  # percentile rank in the norm group
    invalid: bool
    min_norm: int = quality.LIE_MIN_NORM  # a smaller norm group gives the provisional cut

    @property
    def provisional(self) -> bool:
        return self.basis == quality.BASIS_PROVISIONAL


@dataclass(frozen=True)
class Copying:
    """A flagged pair of seat neighbours, seen from one of them: the more significant of the
    pair's two K-index tests."""

    neighbour: str  # the other seat's label
    identical_wrong: int
    opportunities: int  # the source's wrong answers on items both were shown
    expected: float
    p: float  # the K-index
    alpha: float  # per test, after the Bonferroni correction
    tests: int  # (copier, source) tests made in the session


@dataclass(frozen=True)
class AttemptQuality:
    attempt_id: int
    battery: str
    rapid: Rapid | None = None  # None: no answer with a time
    careless: Careless | None = None  # None: no inventory item presented
    lie: tuple[Lie, ...] = ()
    collusion: tuple[Copying, ...] = ()  # flagged pairs only

    @property
    def invalid_lie(self) -> tuple[Lie, ...]:
        return tuple(scale for scale in self.lie if scale.invalid)

    @property
    def withheld(self) -> str | None:
        """Why the attempt's integrity trait levels must not be reported, if so."""
        if self.invalid_lie:
            return WITHHELD_LIE_SCALE
        if self.careless is not None and self.careless.withhold:
            return WITHHELD_CARELESS
        return None

    @property
    def flagged(self) -> bool:
        """Anything to show: a flag of any of the four checks."""
        return bool(
            (self.rapid is not None and self.rapid.flagged)
            or (self.careless is not None and self.careless.flagged)
            or self.invalid_lie
            or self.collusion
        )


# ---- entry points ------------------------------------------------------------------------------


def session_quality(session_id: int) -> dict[int, AttemptQuality]:
    """Every graded attempt of the session, by attempt id."""
    code = db.session.scalar(
        select(BatteryVersion.code)
        .join(Attempt, Attempt.battery_version_id == BatteryVersion.id)
        .where(Attempt.session_id == session_id)
        .limit(1)
    )
    if code is None:
        return {}
    return _judge(code, item_matrix(code, session_id, everyone=True), session_id)


def battery_quality(battery_code: str) -> dict[int, AttemptQuality]:
    """Every graded attempt of the battery (all versions and sessions), by attempt id."""
    return _judge(battery_code, item_matrix(battery_code, everyone=True), None)


def attempts_quality(attempt_ids: Collection[int]) -> dict[int, AttemptQuality]:
    """The given attempts (those graded), each judged within its session and battery."""
    ids = sorted(set(attempt_ids))
    if not ids:
        return {}
    groups = db.session.execute(
        select(BatteryVersion.code, Attempt.session_id)
        .join(Attempt, Attempt.battery_version_id == BatteryVersion.id)
        .where(Attempt.id.in_(ids), Attempt.state.in_(GRADED))
        .distinct()
    ).all()
    found: dict[int, AttemptQuality] = {}
    for code, session_id in groups:
        judged = _judge(code, item_matrix(code, session_id, everyone=True), session_id)
        found.update((a, judged[a]) for a in ids if a in judged)
    return found


# ---- the checks --------------------------------------------------------------------------------


def _judge(
    battery_code: str, matrix: ItemMatrix | None, session_id: int | None
) -> dict[int, AttemptQuality]:
    if matrix is None:
        return {}
    terms = {
        code: (name, group, validity)
        for code, name, group, validity in db.session.execute(
            select(
                Competency.code, Competency.name, Competency.competency_group, Competency.validity
            )
        )
    }
    rapid = _rapid(battery_code, matrix)
    careless = _careless(matrix, terms)
    lie = _lie(battery_code, matrix, terms)
    collusion = _collusion(battery_code, session_id, matrix)
    return {
        attempt: AttemptQuality(
            attempt_id=attempt,
            battery=battery_code,
            rapid=rapid.get(attempt),
            careless=careless.get(attempt),
            lie=lie.get(attempt, ()),
            collusion=collusion.get(attempt, ()),
        )
        for attempt in matrix.attempt_ids
    }


def response_seconds(matrix: ItemMatrix) -> np.ndarray:
    """(N, K) seconds per answer: the time on screen at the first answer, else the item's time
    on screen; NaN for items not presented, blank, or without a stored time (0 ms on screen is
    "not timed": attempts started before times were stored)."""
    assert matrix.answer_ms is not None and matrix.screen_ms is not None
    answered = ~np.isnan(matrix.scores) & ~matrix.blank
    with np.errstate(invalid="ignore"):
        screen = np.where(matrix.screen_ms > 0, matrix.screen_ms, np.nan)
    ms = np.where(np.isnan(matrix.answer_ms), screen, matrix.answer_ms)
    return np.where(answered, ms / 1000.0, np.nan)


def _thresholds(battery_code: str, item_codes: list[str]) -> np.ndarray:
    """Per matrix column, the NT10 threshold (seconds) from the item's mean time over every
    graded attempt of the battery that answered it (one grouped query)."""
    ms = func.coalesce(Response.first_answer_ms, func.nullif(Response.time_on_screen_ms, 0))
    rows = db.session.execute(
        select(BankVersion.code, Item.item_code, func.sum(ms), func.count(ms))
        .select_from(Attempt)
        .join(BatteryVersion, BatteryVersion.id == Attempt.battery_version_id)
        .join(AttemptItem, AttemptItem.attempt_id == Attempt.id)
        .join(
            Response,
            (Response.attempt_id == AttemptItem.attempt_id)
            & (Response.position == AttemptItem.position),
        )
        .join(Item, Item.id == AttemptItem.item_id)
        .join(BankVersion, BankVersion.id == Item.bank_version_id)
        .where(
            BatteryVersion.code == battery_code,
            Attempt.state.in_(GRADED),
            Response.answer.is_not(None),
        )
        .group_by(BankVersion.code, Item.item_code)
    ).all()
    total: dict[str, list[float]] = {}
    for bank, code, summed, count in rows:  # a bank's versions pool, as in the matrices
        pooled = total.setdefault(f"{bank}/{code}", [0.0, 0.0])
        pooled[0] += float(summed or 0)
        pooled[1] += int(count or 0)
    means = np.array(
        [
            total[c][0] / total[c][1] / 1000.0 if total.get(c, (0, 0))[1] else np.nan
            for c in item_codes
        ]
    )
    # The normative rule on one row of means is min(share × mean, cap) per item: the same
    # function the pure module applies to a persons × items matrix.
    return quality.rapid_thresholds(means[None, :])


def _rapid(battery_code: str, matrix: ItemMatrix) -> dict[int, Rapid]:
    seconds = response_seconds(matrix)
    found = quality.rapid_guessing(seconds, _thresholds(battery_code, matrix.item_codes))
    return {
        attempt: Rapid(
            timed=int(found.timed[n]),
            rapid=int(found.n_rapid[n]),
            rte=float(found.rte[n]),
            cut=found.rte_cut,
            flagged=bool(found.flagged[n]),
        )
        for n, attempt in enumerate(matrix.attempt_ids)
        if found.timed[n] > 0
    }


def _careless(matrix: ItemMatrix, terms: dict[str, tuple]) -> dict[int, Careless]:
    columns = [
        k
        for k, kind in enumerate(matrix.item_types)
        if kind == "likert" and terms.get(matrix.competencies[k], (None, None))[1] == "integrity"
    ]
    if not columns:
        return {}
    assert matrix.positions is not None and matrix.reverse is not None
    index = np.array(columns)
    chosen = matrix.chosen[:, index, :]
    # Likert options are the points "1".."k" in order: the chosen option's index + 1.
    raw = np.where(chosen.any(axis=2), chosen.argmax(axis=2) + 1.0, np.nan)
    found = quality.careless_responding(
        raw,
        [matrix.competencies[k] for k in columns],
        [matrix.reverse[k] for k in columns],
        low=1,
        high=np.array([len(matrix.options[k]) for k in columns], dtype=float),
        order=matrix.positions[:, index],
    )
    presented = ~np.isnan(matrix.scores[:, index])
    return {
        attempt: Careless(
            answered=int(found.answered[n]),
            long_string=int(found.long_string[n]),
            long_string_answer=_int_or_none(found.long_string_answer[n]),
            long_string_share=_float_or_none(found.long_string_share[n]),
            sd=_float_or_none(found.sd[n]),
            even_odd=_float_or_none(found.even_odd[n]),
            even_odd_scales=int(found.even_odd_scales[n]),
            flags=found.flags[n],
            withhold=bool(found.withhold[n]),
        )
        for n, attempt in enumerate(matrix.attempt_ids)
        if presented[n].any()
    }


def _lie(
    battery_code: str, matrix: ItemMatrix, terms: dict[str, tuple]
) -> dict[int, tuple[Lie, ...]]:
    """Each validity scale of the matrix's attempts against that scale's percents over every
    graded attempt of the battery (one query)."""
    codes = sorted({c for c in matrix.competencies if terms.get(c, (None, None, False))[2]})
    if not codes:
        return {}
    norm: dict[str, list[tuple[int, float]]] = {code: [] for code in codes}
    for attempt, code, percent in db.session.execute(
        select(Attempt.id, AttemptScore.code, AttemptScore.percent)
        .join(AttemptScore, AttemptScore.attempt_id == Attempt.id)
        .join(BatteryVersion, BatteryVersion.id == Attempt.battery_version_id)
        .where(
            BatteryVersion.code == battery_code,
            Attempt.state.in_(GRADED),
            AttemptScore.scope == "competency",
            AttemptScore.code.in_(codes),
            AttemptScore.percent.is_not(None),
        )
    ):
        norm[code].append((attempt, float(percent)))
    provisional = _provisional_percent(battery_code)
    wanted = set(matrix.attempt_ids)
    found: dict[int, list[Lie]] = {}
    for code in codes:
        people = [(a, p) for a, p in norm[code] if a in wanted]
        if not people:
            continue
        check = quality.lie_scale(
            [p for _a, p in people],
            [p for _a, p in norm[code]],
            provisional_percent=provisional,
        )
        for n, (attempt, percent) in enumerate(people):
            found.setdefault(attempt, []).append(
                Lie(
                    code=code,
                    name=terms[code][0],
                    percent=percent,
                    cut=check.cut,
                    basis=check.basis,
                    norm_size=check.norm_size,
                    rank=_float_or_none(check.norm_rank[n]),
                    invalid=check.status[n] == quality.INVALID,
                )
            )
    return {attempt: tuple(scales) for attempt, scales in found.items()}


def _provisional_percent(battery_code: str) -> float:
    """The newest version's ``validity_flag_percent``, else the module's provisional cut."""
    definition = db.session.scalar(
        select(BatteryVersion.definition)
        .where(BatteryVersion.code == battery_code)
        .order_by(BatteryVersion.id.desc())
        .limit(1)
    )
    percent = (definition or {}).get("validity_flag_percent")
    return float(percent) if percent is not None else quality.LIE_PROVISIONAL_PERCENT


def _collusion(
    battery_code: str, session_id: int | None, matrix: ItemMatrix
) -> dict[int, tuple[Copying, ...]]:
    """Seat neighbours within each session, K-index on identical wrong answers."""
    seats = _seats(battery_code, session_id)
    width = matrix.chosen.shape[2]
    bits = np.left_shift(1, np.arange(width, dtype=np.int64))
    codes = (matrix.chosen.astype(np.int64) * bits).sum(axis=2)
    codes = np.where(np.isnan(matrix.scores), NOT_PRESENTED_CODE, codes)
    key = np.array(
        [
            sum(1 << labels.index(label) for label in keyed if label in labels)
            for labels, keyed in zip(matrix.options, matrix.keys, strict=True)
        ],
        dtype=np.int64,
    )
    by_session: dict[int, list[int]] = {}
    for n, attempt in enumerate(matrix.attempt_ids):
        if attempt in seats:
            by_session.setdefault(seats[attempt][0], []).append(n)
    found: dict[int, list[Copying]] = {}
    for rows in by_session.values():
        attempts = [matrix.attempt_ids[n] for n in rows]
        taken = [seats[a][1] for a in attempts]
        # a seat label given twice (a roster mistake) cannot say who sat there: no pairs
        once = {seat for seat, n in Counter(taken).items() if seat and n == 1}
        labels = [s if s in once else f"#{a}" for a, s in zip(attempts, taken, strict=True)]
        pairs = quality.neighbours([label for label in labels if not label.startswith("#")])
        if not pairs:
            continue
        report = quality.collusion(codes[rows], key, labels, pairs)
        row_of = dict(zip(labels, attempts, strict=True))
        tests = len(report.tests)
        for pair in report.flagged_pairs:
            both = [t for t in report.tests if {t.copier, t.source} == set(pair)]
            strongest = min(both, key=lambda t: t.k_index)
            for seat in pair:
                (other,) = set(pair) - {seat}
                found.setdefault(row_of[seat], []).append(
                    Copying(
                        neighbour=other,
                        identical_wrong=strongest.identical_wrong,
                        opportunities=strongest.opportunities,
                        expected=strongest.expected_identical,
                        p=strongest.k_index,
                        alpha=report.alpha_per_test,
                        tests=tests,
                    )
                )
    return {a: tuple(sorted(c, key=lambda x: x.p)) for a, c in found.items()}


def _seats(battery_code: str, session_id: int | None) -> dict[int, tuple[int, str | None]]:
    """(session, seat label) of the graded attempts of the battery (or of the session)."""
    query = (
        select(Attempt.id, Attempt.session_id, Enrolment.seat)
        .join(Enrolment, Enrolment.id == Attempt.enrolment_id)
        .join(BatteryVersion, BatteryVersion.id == Attempt.battery_version_id)
        .where(BatteryVersion.code == battery_code, Attempt.state.in_(GRADED))
    )
    if session_id is not None:
        query = query.where(Attempt.session_id == session_id)
    return {a: (s, seat) for a, s, seat in db.session.execute(query)}


def _float_or_none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _int_or_none(value: float) -> int | None:
    return None if np.isnan(value) else int(value)


# ---- the sheet's words (fixed Indonesian, like the sheet's other columns) ----------------------


def decimal_id(value: float, digits: int = 2) -> str:
    """A number with the Indonesian decimal comma: 0,70."""
    return f"{value:.{digits}f}".replace(".", ",")


def p_text(p: float) -> str:
    """A p-value as the sheet writes it: "p = 0,0002", or "p < 0,0001"."""
    return "p < 0,0001" if p < 0.0001 else f"p = {decimal_id(p, 4)}"


def small_id(value: float) -> str:
    """A small probability: four decimals, or two significant digits below 0,0001."""
    return decimal_id(value, 4) if value >= 0.0001 else f"{value:.1e}".replace(".", ",")


def rapid_text(found: Rapid) -> str:
    """E.g. "RTE RENDAH: 12 dari 40 jawaban lebih cepat dari ambang butirnya (RTE 0,70 < 0,90)"."""
    head = "RTE RENDAH: " if found.flagged else ""
    sign = "<" if found.flagged else "≥"
    return (
        f"{head}{found.rapid} dari {found.timed} jawaban lebih cepat dari ambang butirnya "
        f"(RTE {decimal_id(found.rte)} {sign} {decimal_id(found.cut)})"
    )


def careless_text(found: Careless) -> str:
    """The flags with their numbers; "" when nothing is flagged."""
    if not found.flags:
        return ""
    parts = []
    if quality.FLAG_LONG_STRING in found.flags:
        parts.append(
            f"untaian jawaban sama {found.long_string} dari {found.answered} "
            f"(jawaban {found.long_string_answer})"
        )
    if quality.FLAG_LOW_SD in found.flags and found.sd is not None:
        parts.append(f"SD jawaban {decimal_id(found.sd)} < {decimal_id(quality.SD_CUT)}")
    if quality.FLAG_EVEN_ODD in found.flags and found.even_odd is not None:
        parts.append(
            f"konsistensi genap–ganjil {decimal_id(found.even_odd)} < "
            f"{decimal_id(quality.EVEN_ODD_CUT)} ({found.even_odd_scales} skala)"
        )
    head = "DITAHAN: " if found.withhold else "PERIKSA: "
    return head + "; ".join(parts)


def lie_text(found: Lie) -> str:
    """E.g. "TIDAK VALID: INT.SD 100 % > P95 norma 62,5 % (n = 31; peringkat persentil 98)"."""
    percent = f"{found.code} {decimal_id(found.percent, 1)} %"
    if found.provisional:
        sign = "≥" if found.invalid else "<"
        judged = (
            f"{percent} {sign} batas sementara {decimal_id(found.cut, 1)} % "
            f"(norma {found.norm_size} < {quality.LIE_MIN_NORM} orang)"
        )
    else:
        sign = ">" if found.invalid else "≤"
        rank = f"; peringkat persentil {found.rank:.0f}" if found.rank is not None else ""
        judged = (
            f"{percent} {sign} P{quality.LIE_NORM_PERCENTILE:.0f} norma "
            f"{decimal_id(found.cut, 1)} % (n = {found.norm_size}{rank})"
        )
    return ("TIDAK VALID: " if found.invalid else "valid: ") + judged


def collusion_text(found: Copying) -> str:
    """E.g. "PC-07: 19 jawaban salah identik, harapan 4,1, p = 0,0002 (batas 0,0023; 22 uji)"."""
    return (
        f"{found.neighbour}: {found.identical_wrong} jawaban salah identik, harapan "
        f"{decimal_id(found.expected, 1)}, {p_text(found.p)} "
        f"(batas {small_id(found.alpha)}; {found.tests} uji)"
    )

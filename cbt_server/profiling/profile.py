"""A person's competency profile against a position's standard (pure).

Per competency: the measured level (1–5, or None when the tests did not measure it) and the level
the position requires. From these: the gap (measured − required), the Job-Person Match and its
category, strengths and areas to develop. Also the integrity report: scale scores with a
validity warning when the lie / social-desirability scale is high. The rules and their sources
are in ``docs/profiling.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

MIN_LEVEL = 1
MAX_LEVEL = 5
#: the scoring engine stores level 0 for "not measured" (cbt_server.scoring.levels.NOT_MEASURED)
NOT_MEASURED = 0
JPM_CAP = 100

STATUS_ABOVE = "Di atas standar"
STATUS_MET = "Memenuhi standar"
STATUS_BELOW = "Di bawah standar"
STATUS_NOT_MEASURED = "Belum diukur"
STATUS_NOT_REQUIRED = "Tidak dipersyaratkan jabatan"
#: the score does not measure: blank, or what random responding reaches (analytics/precision.py)
STATUS_INVALID = "Tidak terukur (setara menebak/kosong)"


@dataclass(frozen=True)
class JpmScale:
    """Category cut points for a JPM percentage: ``high`` and ``middle`` are lower bounds.

    JPM ≥ ``high`` → ``labels[0]``; ``middle`` ≤ JPM < ``high`` → ``labels[1]``;
    JPM < ``middle`` → ``labels[2]``.
    """

    name: str
    source: str
    high: Fraction
    middle: Fraction
    labels: tuple[str, str, str]

    def __post_init__(self) -> None:
        if not 0 <= self.middle < self.high <= JPM_CAP:
            raise ValueError(f"JPM cut points need 0 ≤ middle < high ≤ 100, got {self}")
        if len(self.labels) != 3 or not all(self.labels):
            raise ValueError("a JPM scale needs three category labels, best first")

    @property
    def rule(self) -> str:
        """The cut points in words, e.g. for the caption next to the percentage."""
        best, middle, low = self.labels
        return (
            f"{self.name}: {best} ≥ {_num(self.high)}; {middle} {_num(self.middle)}–< "
            f"{_num(self.high)}; {low} < {_num(self.middle)}"
        )


#: competency mapping (pemetaan), e.g. Peraturan BRIN 3/2023 Pasal 33
MAPPING = JpmScale(
    name="Pemetaan kompetensi",
    source="Peraturan BRIN 3/2023 Pasal 33",
    high=Fraction(90),
    middle=Fraction(78),
    labels=("Optimal", "Cukup Optimal", "Kurang Optimal"),
)
#: selection / competency tests (uji kompetensi) under the JFKK rules
SELECTION = JpmScale(
    name="Seleksi / uji kompetensi",
    source="ketentuan uji kompetensi JFKK",
    high=Fraction(80),
    middle=Fraction(68),
    labels=("Memenuhi Syarat", "Masih Memenuhi Syarat", "Kurang Memenuhi Syarat"),
)
SCALES = {"mapping": MAPPING, "selection": SELECTION}


@dataclass(frozen=True)
class CompetencyInput:
    """One competency of one person: what the position requires and what was measured."""

    code: str
    name: str
    required: int | None
    measured: int | None
    group: str | None = None
    #: the levels the score may stand for (its band); None: no band stored (graded before bands)
    low: int | None = None
    high: int | None = None
    #: None: measured; else why the score measures nothing (blank, at_chance, ...)
    quality: str | None = None


@dataclass(frozen=True)
class CompetencyResult:
    code: str
    name: str
    group: str | None
    required: int | None
    #: the level that counts; None when not measured or when the score does not measure
    measured: int | None
    #: measured − required; None unless both are known
    gap: int | None
    status: str
    low: int | None = None
    high: int | None = None
    quality: str | None = None

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def uncertain(self) -> bool:
        """The band spans a cut: the level could be another."""
        return self.measured is not None and self.low is not None and self.low != self.high

    @property
    def level_text(self) -> str:
        """The measured level as a page shows it: "3", or its band "2–3" when uncertain."""
        if self.measured is None:
            return "—"
        return f"{self.low}–{self.high}" if self.uncertain else str(self.measured)


@dataclass(frozen=True)
class Profile:
    rows: tuple[CompetencyResult, ...]
    #: JPM % truncated (not rounded) to 2 decimals, so a value just under a cut never shows as it
    jpm: float | None
    #: the exact JPM (capped at 100); categories are decided on this value
    jpm_exact: Fraction | None
    jpm_category: str | None
    scale: JpmScale
    #: required and measured, gap ≥ 0; largest gap first
    strengths: tuple[CompetencyResult, ...]
    #: required and measured, gap < 0; largest shortfall first
    areas: tuple[CompetencyResult, ...]
    #: required by the position but not measured: left out of the JPM
    not_measured: tuple[CompetencyResult, ...]
    measured_count: int
    required_count: int
    #: scores that measure nothing (blank, at chance): left out of the JPM, and while any is
    #: required the JPM has no category (a profile resting on guesses is not classed)
    invalid: tuple[CompetencyResult, ...] = ()
    #: the JPM from the low and high ends of every level's band (its uncertainty)
    jpm_low: float | None = None
    jpm_high: float | None = None
    #: the categories of ``jpm_low`` and ``jpm_high`` differ: the category is uncertain
    category_uncertain: bool = False

    @property
    def complete(self) -> bool:
        """Every competency the position requires was measured."""
        return self.required_count > 0 and self.measured_count == self.required_count


def _num(value: Fraction | float) -> str:
    return f"{float(value):g}"


def _level(value: object, what: str, code: str, *, zero_is_none: bool) -> int | None:
    if value is None or (zero_is_none and value == NOT_MEASURED and not isinstance(value, bool)):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{code}: {what} level must be a whole number 1–5, got {value!r}")
    if not MIN_LEVEL <= value <= MAX_LEVEL:
        raise ValueError(f"{code}: {what} level must be 1–5, got {value}")
    return value


def _result(item: CompetencyInput) -> CompetencyResult:
    required = _level(item.required, "required", item.code, zero_is_none=False)
    measured = _level(item.measured, "measured", item.code, zero_is_none=True)
    low = _level(item.low, "band", item.code, zero_is_none=True)
    high = _level(item.high, "band", item.code, zero_is_none=True)
    if item.quality is not None:
        measured = low = high = None  # a score that measures nothing gives no level
    elif measured is not None and (low is None or high is None):
        low = high = measured  # graded before bands were stored
    gap = None
    if item.quality is not None and required is not None:
        status = STATUS_INVALID
    elif required is None:
        status = STATUS_NOT_REQUIRED
    elif measured is None:
        status = STATUS_NOT_MEASURED
    else:
        gap = measured - required
        status = STATUS_ABOVE if gap > 0 else STATUS_MET if gap == 0 else STATUS_BELOW
    return CompetencyResult(
        item.code, item.name, item.group, required, measured, gap, status, low, high, item.quality
    )


def job_person_match(
    rows: Iterable[CompetencyResult], *, cap_each_competency: bool = False
) -> Fraction | None:
    """JPM = Σ measured level / Σ required level × 100, capped at 100 (ASN competency mapping).

    Only competencies the position requires *and* the tests measured take part; None when there
    are none. Exact (a Fraction) so a value on a cut point is not moved by float rounding.
    ``cap_each_competency`` counts a level above the standard as the standard (min(measured,
    required)), for agencies that do not let a surplus make up for a shortfall elsewhere.
    """
    return _jpm([(r.measured, r.required) for r in rows if r.gap is not None], cap_each_competency)


def _jpm(pairs: list[tuple[int | None, int | None]], cap_each_competency: bool) -> Fraction | None:
    pairs = [(m, q) for m, q in pairs if m is not None]
    if not pairs:
        return None
    achieved = sum(min(m, q) if cap_each_competency else m for m, q in pairs if q is not None)
    required = sum(q for _, q in pairs if q is not None)
    return min(Fraction(JPM_CAP), Fraction(100 * achieved, required))


def jpm_category(value: Fraction | float, scale: JpmScale = MAPPING) -> str:
    """The category label of a JPM percentage: ≥ high, middle–< high, < middle."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"JPM must be a finite number, got {value}")
    exact = Fraction(value)
    if exact >= scale.high:
        return scale.labels[0]
    if exact >= scale.middle:
        return scale.labels[1]
    return scale.labels[2]


def _truncate(value: Fraction) -> float:
    return math.floor(value * 100) / 100


def build_profile(
    competencies: Iterable[CompetencyInput],
    scale: JpmScale = MAPPING,
    *,
    cap_each_competency: bool = False,
) -> Profile:
    """Gaps, JPM and its category, strengths and areas for one person, rows in input order.

    ``ValueError`` when a level is not a whole number 1–5 (a measured 0 means not measured) or
    a competency code appears twice. ``cap_each_competency``: see :func:`job_person_match`.
    """
    rows: list[CompetencyResult] = []
    seen: set[str] = set()
    for item in competencies:
        if item.code in seen:
            raise ValueError(f"{item.code}: competency given twice")
        seen.add(item.code)
        rows.append(_result(item))
    exact = job_person_match(rows, cap_each_competency=cap_each_competency)
    compared = [r for r in rows if r.gap is not None]
    strengths = sorted((r for r in compared if r.gap >= 0), key=lambda r: (-r.gap, r.code))
    areas = sorted((r for r in compared if r.gap < 0), key=lambda r: (r.gap, r.code))
    invalid = tuple(r for r in rows if r.status == STATUS_INVALID)
    low = _jpm([(r.low, r.required) for r in compared], cap_each_competency)
    high = _jpm([(r.high, r.required) for r in compared], cap_each_competency)
    category = jpm_category(exact, scale) if exact is not None and not invalid else None
    return Profile(
        rows=tuple(rows),
        jpm=_truncate(exact) if exact is not None else None,
        jpm_exact=exact,
        jpm_category=category,
        scale=scale,
        strengths=tuple(strengths),
        areas=tuple(areas),
        not_measured=tuple(r for r in rows if r.status == STATUS_NOT_MEASURED),
        measured_count=len(compared),
        required_count=sum(1 for r in rows if r.required is not None),
        invalid=invalid,
        jpm_low=_truncate(low) if low is not None else None,
        jpm_high=_truncate(high) if high is not None else None,
        category_uncertain=category is not None
        and low is not None
        and high is not None
        and jpm_category(low, scale) != jpm_category(high, scale),
    )


def competency_inputs(
    required: Mapping[str, int],
    measured: Mapping[str, int | None],
    names: Mapping[str, str] | None = None,
    groups: Mapping[str, str] | None = None,
    *,
    exclude_groups: Sequence[str] = ("integrity",),
    bands: Mapping[str, tuple[int | None, int | None, str | None]] | None = None,
) -> list[CompetencyInput]:
    """Inputs for :func:`build_profile` from code → level mappings, sorted by code.

    Every required competency and every measured one appears; competencies of ``exclude_groups``
    (integrity scales by default: they have no position standard) are left out. ``bands``: code
    → (low, high, quality) of the stored score.
    """
    names = names or {}
    groups = groups or {}
    bands = bands or {}
    codes = sorted(set(required) | set(measured))
    return [
        CompetencyInput(
            code,
            names.get(code, code),
            required.get(code),
            measured.get(code),
            groups.get(code),
            *bands.get(code, (None, None, None)),
        )
        for code in codes
        if groups.get(code) not in exclude_groups
    ]


# ---- integrity --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleScore:
    """One integrity scale of one person, as scored (percent of the maximum, level 1–5)."""

    code: str
    name: str
    score: float
    max_score: float
    percent: float | None
    level: int | None
    #: a lie / social-desirability (validity) scale rather than an integrity trait
    validity: bool = False
    #: a validity scale's verdict against its own norm (``analytics.quality.lie_scale``); None:
    #: judged against the report's fixed threshold
    invalid: bool | None = None
    #: why a trait scale's level is withheld (an invalid lie scale, careless responding), if so
    withheld: str | None = None


@dataclass(frozen=True)
class ScaleResult:
    code: str
    name: str
    score: float
    max_score: float
    percent: float | None
    level: int | None
    validity: bool
    #: a validity scale judged invalid (at or above the threshold, or above its norm's cut)
    flagged: bool
    #: why the level is withheld (then ``level`` is None), if it is
    withheld: str | None = None


@dataclass(frozen=True)
class IntegrityReport:
    #: trait scales first, validity scales last, each in input order
    scales: tuple[ScaleResult, ...]
    threshold: float
    #: some validity scale is at or above the threshold: read the other scales with care
    validity_flagged: bool
    warning: str | None


def integrity_report(
    scales: Iterable[ScaleScore], threshold: float = 85.0, *, norm_size: int | None = None
) -> IntegrityReport:
    """Flag each validity scale whose percent of the maximum is ≥ ``threshold`` (0–100), or, when
    the scale carries its verdict against its own norm (``invalid``), as that verdict says.

    The threshold is the battery's ``validity_flag_percent`` or, with ``norm_size`` (the norm
    group's size), the norm's 95th percentile; a scale that was not measured (percent None) is
    never flagged. A trait scale whose level is ``withheld`` keeps its score, not its level.
    """
    if not (isinstance(threshold, int | float) and 0 <= threshold <= 100):
        raise ValueError(f"validity threshold must be a percentage 0–100, got {threshold!r}")
    results = [
        ScaleResult(
            s.code,
            s.name,
            s.score,
            s.max_score,
            s.percent,
            None if s.withheld and not s.validity else s.level,
            s.validity,
            s.validity
            and s.percent is not None
            and (s.percent >= threshold if s.invalid is None else s.invalid),
            None if s.validity else s.withheld,
        )
        for s in scales
    ]
    results.sort(key=lambda r: r.validity)  # stable: input order within each kind
    flagged = [r for r in results if r.flagged]
    withheld = any(r.withheld for r in results)
    warning = _warning(flagged, threshold, norm_size, withheld)
    return IntegrityReport(tuple(results), float(threshold), bool(flagged), warning)


def _warning(
    flagged: Sequence[ScaleResult], threshold: float, norm_size: int | None, withheld: bool
) -> str | None:
    if not flagged:
        return None
    shown = ", ".join(f"{r.name} {_percent_id(r.percent)} %" for r in flagged)
    cut = (
        f"di atas persentil ke-95 kelompok normanya ({_percent_id(threshold)} %, {norm_size} orang)"
        if norm_size is not None
        else f"mencapai batas {_percent_id(threshold)} %"
    )
    others = (
        "level skala integritas lainnya ditahan dan perlu dikonfirmasi"
        if withheld
        else "skor skala integritas lainnya perlu dikonfirmasi"
    )
    return (
        f"Peringatan validitas: skor skala {shown} {cut}. Peserta cenderung menampilkan diri "
        f"lebih baik daripada kenyataan; {others} melalui wawancara, rekam jejak, atau "
        "referensi sebelum dipakai untuk keputusan."
    )


def _percent_id(value: float | None) -> str:
    """A percentage with an Indonesian decimal comma, e.g. 87,5."""
    return f"{value:.1f}".replace(".", ",").removesuffix(",0") if value is not None else "—"

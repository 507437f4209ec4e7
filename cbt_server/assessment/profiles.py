"""Individual competency profiles: stored scores and outside data through the profiling maths.

One :class:`ProfileView` per person holds everything the printable A4 page shows: the gap table
with self- and supervisor ratings beside the measured level, the Job-Person Match and its
category, strengths, areas to develop with suggested activities, the integrity scales with the
validity warning, the response-quality flags of the attempts behind it with their evidence
(an invalid lie scale or careless responding withholds the integrity trait levels),
performance targets against realisation, and the chart as inline SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from cbt_server.assessment.cut_scores import CutSource, cut_sources
from cbt_server.assessment.person_data import (
    Dictionary,
    Measured,
    PersonData,
    Target,
    dictionary,
    people_data,
    roster_user_ids,
)
from cbt_server.assessment.response_quality import AttemptQuality, attempts_quality
from cbt_server.clock import now
from cbt_server.models import BatteryVersion, ExamSession, db
from cbt_server.profiling import (
    SCALES,
    DevelopmentTable,
    DevelopmentTableError,
    JpmScale,
    Profile,
    ScaleResult,
    ScaleScore,
    build_profile,
    competency_inputs,
    integrity_report,
    load_development_table,
    suggest_development,
    table_path,
)
from cbt_server.profiling.charts import profile_chart

#: the validity threshold when the battery that measured the scale names none (docs/profiling.md)
DEFAULT_VALIDITY_PERCENT = 85.0


@dataclass(frozen=True)
class ProfileRow:
    code: str
    name: str
    required: int | None
    measured: int | None
    gap: int | None
    status: str
    self_level: float | None
    supervisor_level: float | None
    #: the level as shown: "3", or its band "2–3" when uncertain
    level_text: str = "—"
    uncertain: bool = False
    #: why the score measures nothing (blank, at_chance, ...), if so
    quality: str | None = None
    #: the level was read off the bank's calibrated scale (not provisional percentage cuts)
    calibrated: bool = False


@dataclass(frozen=True)
class Development:
    name: str
    gap: int
    activities: tuple[str, ...]


@dataclass(frozen=True)
class ProfileView:
    user_id: int
    name: str
    nip: str | None
    position: str | None
    unit: str | None
    profile: Profile
    rows: tuple[ProfileRow, ...]
    jpm_rule: str
    chart_svg: str
    strengths: tuple[str, ...]
    areas: tuple[str, ...]
    not_measured: tuple[str, ...]
    development: tuple[Development, ...]
    integrity: tuple[ScaleResult, ...]
    validity_warning: str | None
    rating_period: str | None
    performance_period: str | None
    predicate: str | None
    performance_score: float | None
    targets: tuple[Target, ...]
    printed_at: datetime
    #: why no development activities could be suggested (the table file's problems), if so
    development_problem: str | None = None
    #: the version of the position's standard the profile is measured against
    standard_version: int | None = None
    #: where the measured levels' cuts came from (set by a method, or the bank's percentages)
    cut_sources: tuple[CutSource, ...] = ()
    #: competencies whose score measures nothing (blank, or what guessing reaches)
    invalid: tuple[str, ...] = ()
    #: the response-quality findings of the attempts the profile's scores come from
    quality: tuple[AttemptQuality, ...] = ()

    @property
    def quality_flags(self) -> tuple[AttemptQuality, ...]:
        """The attempts with a response-quality flag to show."""
        return tuple(q for q in self.quality if q.flagged)

    @property
    def provisional(self) -> bool:
        """Some level was read off percentage cuts, not a calibrated scale
        (docs/psychometrics.md, "Levels with their error")."""
        return any(r.measured is not None and not r.calibrated for r in self.rows)

    @property
    def jpm(self) -> float | None:
        return self.profile.jpm

    @property
    def jpm_category(self) -> str | None:
        return self.profile.jpm_category


def jpm_scale(name: str | None = None) -> JpmScale:
    """The JPM category scale by name (``mapping`` or ``selection``); the configured default."""
    wanted = name or current_app.config.get("CBT_JPM_SCALE", "mapping")
    return SCALES.get(wanted, SCALES["mapping"])


def development_table() -> tuple[DevelopmentTable, str | None]:
    """The agency's editable table of development activities (question_banks/).

    A broken or missing table must not keep the assessor from the profiles: they are shown
    without suggestions and with the problem, which names the file and line to fix.
    """
    path = table_path(current_app.config["CBT_BANKS_PATH"])
    try:
        return load_development_table(path), None
    except DevelopmentTableError as error:
        return DevelopmentTable({}), str(error)


def person_profile(user_id: int, scale: JpmScale | None = None) -> ProfileView | None:
    """The profile of one participant; None when there is no such participant."""
    views = profiles_of([user_id], scale)
    return views[0] if views else None


def session_profiles(session: ExamSession, scale: JpmScale | None = None) -> list[ProfileView]:
    """Every participant on the session's roster, by name (the "print all" pages)."""
    return profiles_of(roster_user_ids(session.id), scale)


def profiles_of(user_ids: Sequence[int], scale: JpmScale | None = None) -> list[ProfileView]:
    """Profiles of the given participants, in order, from a fixed number of queries."""
    scale = scale or jpm_scale()
    people = [p for p in people_data(user_ids) if p.user.role == "participant"]
    if not people:
        return []
    terms = dictionary()
    table, table_problem = development_table()
    thresholds = validity_thresholds(people)
    findings = attempts_quality(
        {m.attempt_id for p in people for m in p.measured.values() if m.attempt_id is not None}
    )
    printed_at = now()
    sources = {
        (s.code, s.cut_score_id): s
        for s in cut_sources(
            (m.code, m.cut_score_id)
            for p in people
            for m in p.measured.values()
            if m.level is not None
        )
    }
    return [
        replace(
            _view(person, terms, table, scale, thresholds, findings, printed_at, table_problem),
            cut_sources=tuple(
                sources[(m.code, m.cut_score_id)]
                for _code, m in sorted(person.measured.items())
                if m.level is not None
            ),
        )
        for person in people
    ]


def measured_profile(person: PersonData, terms: Dictionary, scale: JpmScale) -> Profile:
    """The person's gaps and JPM: measured levels against their position's standard."""
    measured = {code: m.level for code, m in person.measured.items()}
    bands = {code: (m.level_low, m.level_high, m.quality) for code, m in person.measured.items()}
    inputs = competency_inputs(person.required, measured, terms.names, terms.groups, bands=bands)
    return build_profile(inputs, scale)


def validity_thresholds(people: Sequence[PersonData]) -> dict[str, float]:
    """Per battery code: the ``validity_flag_percent`` of its newest version."""
    codes = {m.battery for p in people for m in p.measured.values()}
    found: dict[str, float] = {}
    if not codes:
        return found
    for code, definition in db.session.execute(
        select(BatteryVersion.code, BatteryVersion.definition)
        .where(BatteryVersion.code.in_(codes))
        .order_by(BatteryVersion.id)
    ):
        percent = (definition or {}).get("validity_flag_percent")
        if percent is not None:
            found[code] = float(percent)
    return found


def _view(
    person: PersonData,
    terms: Dictionary,
    table: DevelopmentTable,
    scale: JpmScale,
    thresholds: dict[str, float],
    findings: dict[int, AttemptQuality],
    printed_at: datetime,
    table_problem: str | None,
) -> ProfileView:
    profile = measured_profile(person, terms, scale)
    rows = tuple(
        ProfileRow(
            r.code,
            r.name,
            r.required,
            r.measured,
            r.gap,
            r.status,
            person.self_levels.get(r.code),
            person.supervisor_levels.get(r.code),
            r.level_text,
            r.uncertain,
            r.quality,
            _calibrated(person, r.code),
        )
        for r in profile.rows
    )
    integrity, warning = _integrity(person, terms, thresholds, findings)
    attempts = sorted(
        {m.attempt_id for m in person.measured.values() if m.attempt_id in findings},
        key=lambda a: (findings[a].battery, a),
    )
    user = person.user
    return ProfileView(
        user_id=user.id,
        name=user.full_name,
        nip=user.nip,
        position=person.position_name or user.position_code,
        unit=user.unit,
        standard_version=person.standard_version,
        profile=profile,
        rows=rows,
        jpm_rule=scale.rule,
        chart_svg=profile_chart(profile.rows, id_prefix=f"profil-{user.id}"),
        strengths=tuple(_level_text(r.label, r.level_text, r.required) for r in profile.strengths),
        areas=tuple(_level_text(r.label, r.level_text, r.required) for r in profile.areas),
        not_measured=tuple(r.label for r in profile.not_measured),
        invalid=tuple(r.label for r in profile.invalid),
        development=tuple(
            Development(f"{s.code} {s.name}", s.gap, s.activities)
            for s in suggest_development(profile, table)
        ),
        integrity=integrity,
        validity_warning=warning,
        rating_period=person.rating_period,
        performance_period=person.performance_period,
        predicate=person.predicate,
        performance_score=person.performance_score,
        targets=tuple(person.targets),
        printed_at=printed_at,
        development_problem=table_problem,
        quality=tuple(findings[a] for a in attempts),
    )


def _calibrated(person: PersonData, code: str) -> bool:
    found = person.measured.get(code)
    return found is not None and found.calibration_id is not None


def _level_text(label: str, measured: str, required: int | None) -> str:
    return f"{label} (level {measured}, standar {required})"


def _integrity(
    person: PersonData,
    terms: Dictionary,
    thresholds: dict[str, float],
    findings: dict[int, AttemptQuality],
) -> tuple[tuple[ScaleResult, ...], str | None]:
    """The integrity scales; a lie scale judged against its own norm where its attempt was
    judged (response_quality), else against the battery's fixed threshold; trait levels withheld
    when their attempt's lie scale is invalid or its answers are careless."""
    scales: list[Measured] = [
        m for code, m in sorted(person.measured.items()) if terms.groups.get(code) == "integrity"
    ]
    if not scales:
        return (), None
    validity = [m for m in scales if m.code in terms.validity]
    threshold = min(
        (thresholds.get(m.battery, DEFAULT_VALIDITY_PERCENT) for m in validity),
        default=DEFAULT_VALIDITY_PERCENT,
    )
    lies = {
        m.code: lie
        for m in validity
        if m.attempt_id in findings
        for lie in findings[m.attempt_id].lie
        if lie.code == m.code
    }
    norm_size = None
    if lies:
        first = next(iter(lies.values()))
        threshold = first.cut
        norm_size = None if first.provisional else first.norm_size
    report = integrity_report(
        (
            ScaleScore(
                m.code,
                terms.names.get(m.code, m.code),
                m.score,
                m.max_score,
                m.percent,
                m.level,
                m.code in terms.validity,
                lies[m.code].invalid if m.code in lies else None,
                findings[m.attempt_id].withheld if m.attempt_id in findings else None,
            )
            for m in scales
        ),
        threshold,
        norm_size=norm_size,
    )
    return report.scales, report.warning

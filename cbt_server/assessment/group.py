"""Group views: a session's or a unit's participants side by side.

Per competency: how the measured levels are spread (an SVG histogram) and how many meet the
level their own position requires. The talent 9-box places each person by potential (the JPM %)
and performance (the newest imported rating: the SKP predicate, else the numeric score).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from cbt_server.accounts import reach
from cbt_server.assessment.person_data import (
    Dictionary,
    PersonData,
    dictionary,
    people_data,
    roster_user_ids,
)
from cbt_server.assessment.profiles import jpm_scale, measured_profile
from cbt_server.models import ExamSession, User, db
from cbt_server.profiling import AxisCuts, Box, NineBoxConfig, Person, place_group
from cbt_server.profiling.charts import level_histogram, ninebox_chart, percent_histogram
from cbt_server.profiling.ninebox import BOXES
from cbt_server.profiling.profile import JpmScale, Profile


@dataclass(frozen=True)
class Member:
    user_id: int
    name: str
    nip: str | None
    position: str | None
    unit: str | None
    jpm: float | None
    jpm_category: str | None
    performance: float | str | None
    box: Box | None
    #: the JPM's band crosses a potential cut: the box could be its neighbour
    box_uncertain: bool = False


@dataclass(frozen=True)
class CompetencySpread:
    code: str
    name: str
    group: str | None
    #: people with a measured level
    measured: int
    #: people whose position requires it and who were measured
    compared: int
    #: of those, at or above their position's level
    meeting: int
    chart_svg: str


@dataclass(frozen=True)
class GroupView:
    title: str
    members: tuple[Member, ...]
    competencies: tuple[CompetencySpread, ...]
    jpm_chart_svg: str
    ninebox_svg: str
    config: NineBoxConfig
    scale: JpmScale
    #: JPM category label -> people in it (best first); people without a JPM are not counted
    categories: tuple[tuple[str, int], ...]


def cuts(setting: str, low: float | None = None, high: float | None = None) -> AxisCuts:
    """An axis's cut points: the given ones, else the configured ``"low,high"`` (e.g. 60,80)."""
    configured = current_app.config.get(setting, "60,80")
    if isinstance(configured, str):
        configured = [float(part) for part in configured.split(",")]
    default_low, default_high = configured
    return AxisCuts(
        float(default_low if low is None else low), float(default_high if high is None else high)
    )


def session_group(session: ExamSession, config: NineBoxConfig) -> GroupView:
    """Everyone on the session's roster."""
    ids = roster_user_ids(session.id)
    return _group(f"Sesi {session.code} — {session.name}", ids, config)


def unit_group(unit: str, config: NineBoxConfig) -> GroupView | None:
    """Every participant of a unit (work unit), across sessions; None for an unknown unit."""
    ids = db.session.scalars(
        select(User.id)
        .where(User.unit == unit, User.role == "participant", reach.current().people(User.id))
        .order_by(User.full_name, User.id)
    ).all()
    return _group(f"Unit kerja {unit}", ids, config) if ids else None


def _group(title: str, user_ids: Sequence[int], config: NineBoxConfig) -> GroupView:
    scale = jpm_scale()
    terms = dictionary()
    people = [p for p in people_data(user_ids) if p.user.role == "participant"]
    profiles = {p.user.id: measured_profile(p, terms, scale) for p in people}
    grid = place_group(
        (
            Person(
                p.user.id,
                p.user.full_name,
                _potential(profiles[p.user.id]),
                _performance(p),
            )
            for p in people
        ),
        config,
    )
    boxes = {person.key: number for number, placed in grid.boxes.items() for person in placed}
    members = tuple(
        Member(
            p.user.id,
            p.user.full_name,
            p.user.nip,
            p.position_name or p.user.position_code,
            p.user.unit,
            profiles[p.user.id].jpm,
            profiles[p.user.id].jpm_category,
            _performance(p),
            BOXES.get(boxes.get(p.user.id, 0)),
            p.user.id in boxes and _potential_uncertain(profiles[p.user.id], config),
        )
        for p in people
    )
    counted = Counter(m.jpm_category for m in members if m.jpm_category)
    return GroupView(
        title=title,
        members=members,
        competencies=tuple(_spreads(people, profiles, terms)),
        jpm_chart_svg=percent_histogram(
            (m.jpm for m in members), title="Sebaran Job-Person Match (%)", id_prefix="jpm"
        ),
        ninebox_svg=ninebox_chart(grid),
        config=config,
        scale=scale,
        categories=tuple((label, counted.get(label, 0)) for label in scale.labels),
    )


def _potential(profile: Profile) -> float | None:
    """The JPM as potential; none (not placed) while a required competency's score measures
    nothing: a box must not rest on guesses."""
    if profile.jpm_exact is None or profile.invalid:
        return None
    return float(profile.jpm_exact)


def _potential_uncertain(profile: Profile, config: NineBoxConfig) -> bool:
    low, high = profile.jpm_low, profile.jpm_high
    return (
        low is not None
        and high is not None
        and (config.potential.band(low) != config.potential.band(high))
    )


def _performance(person: PersonData) -> float | str | None:
    """The SKP predicate when the file gave one (the official rating), else the score."""
    if person.predicate:
        return person.predicate
    return person.performance_score


def _spreads(
    people: Sequence[PersonData], profiles: dict[int, Profile], terms: Dictionary
) -> list[CompetencySpread]:
    rows = {uid: {r.code: r for r in profile.rows} for uid, profile in profiles.items()}
    spreads = []
    for n, code in enumerate(sorted({code for p in people for code in p.measured})):
        levels = [_valid_level(p, code) for p in people]
        compared = [
            row
            for p in people
            if (row := rows[p.user.id].get(code)) is not None and row.gap is not None
        ]
        required = {r.required for r in compared}
        name = terms.names.get(code, code)
        spreads.append(
            CompetencySpread(
                code=code,
                name=name,
                group=terms.groups.get(code),
                measured=sum(1 for level in levels if level),
                compared=len(compared),
                meeting=sum(1 for r in compared if r.gap is not None and r.gap >= 0),
                chart_svg=level_histogram(
                    levels,
                    title=f"{code} {name}",
                    # One marker only when everyone compared shares the standard.
                    required=required.pop() if len(required) == 1 else None,
                    id_prefix=f"sebaran-{n}",
                ),
            )
        )
    return spreads


def _valid_level(person: PersonData, code: str) -> int | None:
    """The person's level of a competency; None when not measured or when the score measures
    nothing (blank, at chance)."""
    found = person.measured.get(code)
    return found.level if found is not None and found.quality is None else None

"""Applying the timer rules to a stored attempt's clock and sections.

No state names and no side effects beyond the attempt's own times: which move happens, and what
it records, is :mod:`cbt_server.delivery.lifecycle`'s business (its ``catch_up`` runs these rules
inside the write transaction of every use case that touches an attempt, and in the sweep).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cbt_server.delivery.timer import SAVE_GRACE_SECONDS, Countdown, section_deadline
from cbt_server.models import Attempt, AttemptSection

GRACE = timedelta(seconds=SAVE_GRACE_SECONDS)


def countdown(attempt: Attempt) -> Countdown:
    return Countdown(deadline=attempt.deadline_at, paused_at=attempt.paused_at)


def section_limits(definition: dict) -> list[int | None]:
    return [s.get("time_limit_minutes") for s in definition["sections"]]


def open_section(attempt: Attempt) -> AttemptSection | None:
    for section in attempt.sections:
        if section.started_at is not None and section.closed_at is None:
            return section
    return None


def start_section(attempt: Attempt, index: int, at: datetime, limits: list[int | None]) -> None:
    section = attempt.sections[index]
    section.started_at = at
    section.deadline_at = section_deadline(at, limits[index], attempt.deadline_at)


def close_section(attempt: Attempt, index: int, at: datetime, limits: list[int | None]) -> None:
    """Close a section and open the next one at the same moment (time keeps running)."""
    attempt.sections[index].closed_at = at
    if index + 1 < len(attempt.sections):
        start_section(attempt, index + 1, at, limits)


def time_due(attempt: Attempt, now: datetime) -> bool:
    """Whether a running attempt has a deadline behind it (its own or its open timed section's,
    each plus the grace): :func:`cbt_server.delivery.lifecycle.catch_up` has work to do. Pure:
    the caller checks that the attempt is running."""
    if countdown(attempt).expired(now, grace=SAVE_GRACE_SECONDS):
        return True
    section = open_section(attempt)
    return (
        section is not None
        and section.deadline_at is not None
        and section.deadline_at < attempt.deadline_at
        and now > section.deadline_at + GRACE
    )


def roll_sections(attempt: Attempt, now: datetime, limits: list[int | None]) -> list[int]:
    """Close every timed section whose deadline (plus the grace) has passed, each at its
    deadline, opening the next at that same moment. Returns the indexes closed."""
    closed = []
    while (section := open_section(attempt)) is not None and section.deadline_at is not None:
        if now <= section.deadline_at + GRACE or section.deadline_at >= attempt.deadline_at:
            break
        closed.append(section.section_index)
        close_section(attempt, section.section_index, section.deadline_at, limits)
    return closed


def close_open_sections(attempt: Attempt, at: datetime) -> None:
    """The attempt ends: every section still open closes at ``at``."""
    for section in attempt.sections:
        if section.started_at is not None and section.closed_at is None:
            section.closed_at = at


def moved_deadline(attempt: Attempt, seconds: float) -> None:
    """Extend the attempt (and its open timed section) by ``seconds``."""
    attempt.deadline_at = attempt.deadline_at + timedelta(seconds=seconds)
    section = open_section(attempt)
    if section is not None and section.deadline_at is not None:
        section.deadline_at = section.deadline_at + timedelta(seconds=seconds)

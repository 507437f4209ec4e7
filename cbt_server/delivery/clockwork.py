"""Applying the timer rules to a stored attempt: expiry and timed-section roll-over.

Called inside the write transaction of every use case that touches an attempt, and by the sweep,
so an attempt is closed at its deadline even if its PC never comes back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cbt_server.delivery.lifecycle import AttemptState, Move, next_state
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


def needs_advance(attempt: Attempt, now: datetime, definition: dict) -> bool:
    """Whether :func:`advance` would change the attempt at ``now`` (without changing it), so a
    read can tell if it must take the write path."""
    if attempt.state != AttemptState.IN_PROGRESS:
        return False
    if countdown(attempt).expired(now, grace=SAVE_GRACE_SECONDS):
        return True
    section = open_section(attempt)
    return (
        section is not None
        and section.deadline_at is not None
        and section.deadline_at < attempt.deadline_at
        and now > section.deadline_at + GRACE
    )


def advance(attempt: Attempt, now: datetime, definition: dict) -> bool:
    """Bring the attempt up to ``now``. Returns True when it has just expired.

    Deadlines take effect only after the grace for in-flight saves, and the finish time recorded
    is the deadline itself, not the moment the server noticed.
    """
    if attempt.state != AttemptState.IN_PROGRESS:
        return False
    limits = section_limits(definition)
    while (section := open_section(attempt)) is not None and section.deadline_at is not None:
        if now <= section.deadline_at + GRACE or section.deadline_at >= attempt.deadline_at:
            break
        close_section(attempt, section.section_index, section.deadline_at, limits)
    if countdown(attempt).expired(now, grace=SAVE_GRACE_SECONDS):
        attempt.state = next_state(attempt.state, Move.EXPIRE).value
        attempt.finished_at = attempt.deadline_at
        attempt.finish_reason = "deadline"
        for section in attempt.sections:
            if section.closed_at is None and section.started_at is not None:
                section.closed_at = attempt.deadline_at
        return True
    return False


def moved_deadline(attempt: Attempt, seconds: float) -> None:
    """Extend the attempt (and its open timed section) by ``seconds``."""
    attempt.deadline_at = attempt.deadline_at + timedelta(seconds=seconds)
    section = open_section(attempt)
    if section is not None and section.deadline_at is not None:
        section.deadline_at = section.deadline_at + timedelta(seconds=seconds)

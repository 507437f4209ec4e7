"""Timer rules (pure): the server's deadline, pauses, extensions, the grace for in-flight saves.

An attempt stores its deadline. A pause freezes the remaining time: while paused, the remaining
time is ``deadline - paused_at``; resuming moves the deadline forward by the pause's length. An
extension moves the deadline forward. The client only ever displays what these functions say.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

#: Saves that arrive this long after the deadline are still accepted: they were in flight.
SAVE_GRACE_SECONDS = 5


@dataclass(frozen=True)
class Countdown:
    deadline: datetime
    paused_at: datetime | None = None

    def remaining(self, now: datetime) -> float:
        """Seconds left (never negative); frozen while paused."""
        reference = self.paused_at if self.paused_at is not None else now
        return max(0.0, (self.deadline - reference).total_seconds())

    def expired(self, now: datetime, grace: float = 0.0) -> bool:
        """True once the deadline (plus ``grace`` seconds) has passed and the clock is running."""
        if self.paused_at is not None:
            return False
        return now > self.deadline + timedelta(seconds=grace)

    def pause(self, now: datetime) -> Countdown:
        if self.paused_at is not None:
            return self
        return replace(self, paused_at=now)

    def resume(self, now: datetime) -> Countdown:
        if self.paused_at is None:
            return self
        paused_for = max(timedelta(0), now - self.paused_at)
        return Countdown(deadline=self.deadline + paused_for, paused_at=None)

    def extend(self, seconds: float) -> Countdown:
        return replace(self, deadline=self.deadline + timedelta(seconds=seconds))


def section_deadline(
    section_started: datetime, section_limit_minutes: int | None, attempt_deadline: datetime
) -> datetime:
    """A timed section ends at its own limit or the attempt's deadline, whichever is first."""
    if section_limit_minutes is None:
        return attempt_deadline
    return min(section_started + timedelta(minutes=section_limit_minutes), attempt_deadline)

"""How long a login lives (pure rules; docs/operations.md, "Logins").

- Staff (admin, proctor, assessor): ends after ``CBT_STAFF_IDLE_MINUTES`` without a request and,
  however busy, ``CBT_STAFF_MAX_HOURS`` after it was opened.
- A participant whose login belongs to an attempt that runs (in progress or paused): never ends
  by time - the exam must not be cut off; the attempt's own clock ends the exam.
- A participant whose attempt is over: ends ``CBT_PARTICIPANT_GRACE_MINUTES`` after the attempt
  ended (or after the login was opened, when later), enough to read the finish page.
- A participant without an attempt (waiting for the token): ends after
  ``CBT_PARTICIPANT_IDLE_MINUTES`` without a request or ``CBT_PARTICIPANT_MAX_HOURS`` after it
  was opened; logging in again with the exam card is all it takes.

``last_seen_at`` is stamped at most once per ``CBT_LOGIN_SEEN_SECONDS``, so it may be that much
older than the last request: the idle time is counted from the stamp plus that interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

#: attempt states in which a participant's login never ends by time (delivery.lifecycle.RUNNING,
#: kept here as strings so that this module stays free of the app; a test checks they agree)
RUNNING_STATES = frozenset({"in_progress", "paused"})
#: default of ``CBT_LOGIN_SEEN_SECONDS``
SEEN_SECONDS = 60


@dataclass(frozen=True)
class Limits:
    staff_idle: timedelta
    staff_max: timedelta
    participant_idle: timedelta
    participant_max: timedelta
    participant_grace: timedelta
    #: how stale ``last_seen_at`` may be on a login in use (its write is throttled)
    seen_throttle: timedelta


def _number(config: Mapping[str, Any], name: str, default: float) -> float:
    value = config.get(name)
    return default if value in (None, "") else float(value)


def limits(config: Mapping[str, Any]) -> Limits:
    """The limits of a configuration (values may be strings from the environment)."""
    return Limits(
        staff_idle=timedelta(minutes=_number(config, "CBT_STAFF_IDLE_MINUTES", 30)),
        staff_max=timedelta(hours=_number(config, "CBT_STAFF_MAX_HOURS", 12)),
        participant_idle=timedelta(minutes=_number(config, "CBT_PARTICIPANT_IDLE_MINUTES", 60)),
        participant_max=timedelta(hours=_number(config, "CBT_PARTICIPANT_MAX_HOURS", 4)),
        participant_grace=timedelta(minutes=_number(config, "CBT_PARTICIPANT_GRACE_MINUTES", 30)),
        seen_throttle=timedelta(
            seconds=_number(config, "CBT_LOGIN_SEEN_SECONDS", SEEN_SECONDS) or SEEN_SECONDS
        ),
    )


def ended(
    role: str,
    created_at: datetime,
    last_seen_at: datetime,
    attempt_state: str | None,
    attempt_finished_at: datetime | None,
    at: datetime,
    rules: Limits,
) -> str | None:
    """Why the login has ended by time at ``at`` ("absolute", "idle", "attempt_over"), or None
    while it lives. ``attempt_*`` describe the attempt of the enrolment the login belongs to
    (None: no attempt, or a staff login)."""
    if role != "participant":
        idle, longest = rules.staff_idle, rules.staff_max
    elif attempt_state in RUNNING_STATES:
        return None
    elif attempt_state is not None and attempt_finished_at is not None:
        over = max(attempt_finished_at, created_at) + rules.participant_grace
        return "attempt_over" if at > over else None
    else:
        idle, longest = rules.participant_idle, rules.participant_max
    if at - created_at > longest:
        return "absolute"
    if at - last_seen_at > idle + rules.seen_throttle:
        return "idle"
    return None

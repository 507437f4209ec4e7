"""Attempts: one participant taking one battery in one session, frozen at start.

An attempt records exactly which item versions it showed, in which order and with which option
order (:class:`AttemptItem`), its stored deadline, and one :class:`Response` row per item.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cbt_server.models.base import JSONType, UTCDateTime, db

ATTEMPT_STATES = ("in_progress", "paused", "submitted", "expired", "voided")


class Attempt(db.Model):
    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("enrolment_id"),
        CheckConstraint(
            "state IN ('in_progress', 'paused', 'submitted', 'expired', 'voided')", name="state"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_sessions.id"), index=True)
    battery_version_id: Mapped[int] = mapped_column(ForeignKey("battery_versions.id"))
    state: Mapped[str] = mapped_column(String(16), index=True)
    seed: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: participant | deadline | proctor
    finish_reason: Mapped[str | None] = mapped_column(String(16))
    current_position: Mapped[int] = mapped_column(default=0)
    #: when the page arrived at ``current_position`` by the server's clock; None while the
    #: clock stands (paused, finished): the time on each item (delivery/item_time.py)
    position_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: SHA-256 of the device cookie the attempt is bound to (None: not bound, e.g. after a reset)
    device_hash: Mapped[str | None] = mapped_column(String(64))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_heartbeat_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ip: Mapped[str | None] = mapped_column(String(64))
    total_score: Mapped[float | None]
    total_max: Mapped[float | None]
    #: extra time given by proctors, and time spent paused (seconds, for the report)
    extra_seconds: Mapped[int] = mapped_column(default=0)
    paused_seconds: Mapped[int] = mapped_column(default=0)
    #: moves on every state or clock change, so the proctor monitor can send only what changed
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: integrity events kept for this attempt (capped: a page cannot fill the database)
    events_stored: Mapped[int] = mapped_column(default=0, server_default="0")
    #: time given back because the server was down (seconds; also in paused/extra for reports)
    outage_seconds: Mapped[int] = mapped_column(default=0, server_default="0")

    sections: Mapped[list[AttemptSection]] = relationship(
        order_by="AttemptSection.section_index", back_populates="attempt"
    )


class AttemptSection(db.Model):
    __tablename__ = "attempt_sections"

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True
    )
    section_index: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    attempt: Mapped[Attempt] = relationship(back_populates="sections")


class AttemptItem(db.Model):
    """The frozen test: item version and option order at each position."""

    __tablename__ = "attempt_items"

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    section_index: Mapped[int]
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    #: canonical option labels in the order shown, e.g. ["C", "A", "D", "B"]
    option_order: Mapped[list] = mapped_column(JSONType)


class Response(db.Model):
    """The stored answer to one position; created blank at assembly, updated by saves."""

    __tablename__ = "responses"

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    #: canonical option labels (list), or text (short); None = blank
    answer: Mapped[list | str | None] = mapped_column(JSONType(none_as_null=True))
    flagged: Mapped[bool] = mapped_column(default=False)
    client_seq: Mapped[int] = mapped_column(default=0)
    saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[float | None]
    max_score: Mapped[float | None]
    #: time the item was on screen (milliseconds, server clock) and how many visits that took
    time_on_screen_ms: Mapped[int] = mapped_column(default=0, server_default="0")
    visits: Mapped[int] = mapped_column(default=0, server_default="0")
    #: saves stored for the item (each an answer or flag the participant changed), when it was
    #: first answered (``saved_at`` is the last change) and how long it had then been on screen
    #: in that visit (ms, the page's measure: response-time checks)
    save_count: Mapped[int] = mapped_column(default=0, server_default="0")
    first_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_answer_ms: Mapped[int | None]


class AttemptEvent(db.Model):
    __tablename__ = "attempt_events"
    #: by attempt, then kind and time: the monitor counts a seat's integrity events and finds the
    #: new ones from the index alone, past the heartbeats (migration 0009)
    __table_args__ = (Index("ix_attempt_events_attempt_kind_at", "attempt_id", "kind", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[dict | None] = mapped_column(JSONType)


class LateAnswer(db.Model):
    """An answer that reached the server after its attempt closed (a PC that was cut off, a
    rescue file collected by a proctor). Kept apart, never graded, until an assessor decides."""

    __tablename__ = "late_answers"
    __table_args__ = (
        CheckConstraint("source IN ('page', 'rescue_file')", name="source"),
        CheckConstraint("decision IN ('accepted', 'rejected')", name="decision"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    answer: Mapped[list | str | None] = mapped_column(JSONType(none_as_null=True))
    flagged: Mapped[bool] = mapped_column(default=False)
    client_seq: Mapped[int]
    #: how long before it was sent the PC says it was given (ms, a duration of the PC's
    #: monotonic clock, never its wall clock); information for the assessor, not proof
    age_ms: Mapped[int | None]
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: page (the exam page sent it) | rescue_file (a proctor uploaded the PC's file)
    source: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(String(1000))


class AttemptScore(db.Model):
    """Scores per section, competency/scale and in total, with the proficiency level."""

    __tablename__ = "attempt_scores"
    __table_args__ = (CheckConstraint("scope IN ('section', 'competency', 'total')", name="scope"),)

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    score: Mapped[float]
    max_score: Mapped[float]
    percent: Mapped[float | None]
    level: Mapped[int | None]
    flagged: Mapped[bool] = mapped_column(default=False)
    #: the set cuts (cut_scores) ``level`` was computed with; None: the bank's percentages
    cut_score_id: Mapped[int | None] = mapped_column(ForeignKey("cut_scores.id"))
    #: the levels the score may stand for (a 68 % band, analytics/precision.py)
    level_low: Mapped[int | None]
    level_high: Mapped[int | None]
    #: None: measured; blank | nearly_blank | at_chance | below_chance: not measured
    quality: Mapped[str | None] = mapped_column(String(16))
    #: the probability that random responding reaches this score
    chance_p: Mapped[float | None]
    #: where the level was read off a calibrated scale: the ability, its error, the calibration
    theta: Mapped[float | None]
    theta_se: Mapped[float | None]
    calibration_id: Mapped[int | None] = mapped_column(ForeignKey("calibrations.id"))


class LoginSession(db.Model):
    """A server-side record of a login, so that logout and a proctor's reset really end it."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    #: a participant's login belongs to one enrolment: from the start when made with that
    #: enrolment's card, else from the moment its token is accepted (None until then)
    enrolment_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrolments.id", ondelete="CASCADE"), index=True
    )


#: Columns whose change alone is not news for the proctor's monitor (a sign of life, the page's
#: position, counters); any other change moves ``updated_at``.
QUIET_COLUMNS = frozenset(
    {
        "last_seen_at",
        "last_heartbeat_event_at",
        "current_position",
        "position_since",
        "updated_at",
        "events_stored",
    }
)


@event.listens_for(Attempt, "before_insert")
def _stamp_new(_mapper, _connection, attempt: Attempt) -> None:  # type: ignore[no-untyped-def]
    from cbt_server.clock import now

    attempt.updated_at = now()


@event.listens_for(Attempt, "before_update")
def _stamp(_mapper, _connection, attempt: Attempt) -> None:  # type: ignore[no-untyped-def]
    # A real change to a seat (state, clock, address) moves its stamp, so the monitor's
    # incremental refresh sends it; a last-seen stamp alone does not. Time comes from the
    # application's clock.
    from sqlalchemy import inspect

    from cbt_server.clock import now

    state = inspect(attempt)
    for attr in state.mapper.column_attrs:
        if attr.key not in QUIET_COLUMNS and state.attrs[attr.key].history.has_changes():
            attempt.updated_at = now()
            return

"""What a proctor can do to attempts: each with a reason, each audited, all through the state
machine (:mod:`cbt_server.delivery.lifecycle`) and the timer rules.

Targets are enrolments of one session; ``None`` means everyone in the session. Each attempt is
first brought up to now (so an attempt whose time ran out is expired, not extended by mistake).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, select

from cbt_server import audit
from cbt_server.accounts import login_sessions
from cbt_server.accounts.service import forget_failed_logins
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery import clockwork
from cbt_server.delivery.grading import grade_attempt
from cbt_server.delivery.lifecycle import AttemptState, IllegalMove, Move, next_state
from cbt_server.delivery.service import finish
from cbt_server.delivery.timer import Countdown
from cbt_server.models import (
    Attempt,
    AttemptEvent,
    AttemptScore,
    BatteryVersion,
    Enrolment,
    ExamSession,
    SessionNote,
    User,
    db,
)

MAX_EXTENSION_MINUTES = 240


class InterventionError(ValueError):
    """Refused: the message says why (nothing was changed)."""


@dataclass
class Outcome:
    changed: list[str] = field(default_factory=list)  # participant numbers / NIPs
    skipped: list[str] = field(default_factory=list)  # not in a state this applies to


def _need_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise InterventionError("Tuliskan alasan tindakan ini.")
    return reason[:1000]


def _targets(session: ExamSession, enrolment_ids: list[int] | None) -> list[tuple[Enrolment, User]]:
    query = (
        select(Enrolment, User)
        .join(User, User.id == Enrolment.user_id)
        .where(Enrolment.session_id == session.id)
        .order_by(Enrolment.id)
    )
    if enrolment_ids is not None:
        query = query.where(Enrolment.id.in_(enrolment_ids))
    rows = db.session.execute(query).all()
    if enrolment_ids is not None and len(rows) != len(set(enrolment_ids)):
        raise InterventionError("Peserta tidak ada di sesi ini.")
    return [(e, u) for e, u in rows]


def _label(enrolment: Enrolment, user: User) -> str:
    return enrolment.participant_number or user.nip or user.username


def _each_attempt(
    actor: User,
    session: ExamSession,
    enrolment_ids: list[int] | None,
    action: str,
    reason: str | None,
    apply: Callable[[Attempt, dict], bool],
    details: dict | None = None,
) -> Outcome:
    reason = _need_reason(reason)
    outcome = Outcome()
    definition = db.session.get(BatteryVersion, session.battery_version_id).definition
    with write_transaction():
        for enrolment, user in _targets(session, enrolment_ids):
            attempt = db.session.scalar(
                select(Attempt).where(Attempt.enrolment_id == enrolment.id).with_for_update()
            )
            label = _label(enrolment, user)
            if attempt is None:
                outcome.skipped.append(label)
                continue
            if clockwork.advance(attempt, now(), definition):
                grade_attempt(attempt, definition)
            try:
                changed = apply(attempt, definition)
            except IllegalMove:
                changed = False
            (outcome.changed if changed else outcome.skipped).append(label)
        if enrolment_ids is not None and not outcome.changed:
            raise InterventionError("Tindakan ini tidak berlaku untuk status peserta tersebut.")
        audit.record(
            action,
            actor=actor,
            target=session.code,
            reason=reason,
            details={
                "participants": outcome.changed,
                "skipped": outcome.skipped,
                "scope": "all" if enrolment_ids is None else "some",
                **(details or {}),
            },
        )
    return outcome


def extend(
    actor: User,
    session: ExamSession,
    enrolment_ids: list[int] | None,
    minutes: int,
    reason: str | None,
) -> Outcome:
    if not 1 <= minutes <= MAX_EXTENSION_MINUTES:
        raise InterventionError(f"Tambahan waktu 1–{MAX_EXTENSION_MINUTES} menit.")

    def apply(attempt: Attempt, _definition: dict) -> bool:
        if attempt.state not in (AttemptState.IN_PROGRESS, AttemptState.PAUSED):
            return False
        clockwork.moved_deadline(attempt, minutes * 60)
        attempt.extra_seconds += minutes * 60
        return True

    return _each_attempt(
        actor, session, enrolment_ids, "attempt.extend", reason, apply, {"minutes": minutes}
    )


def reopen(
    actor: User,
    session: ExamSession,
    enrolment_ids: list[int] | None,
    minutes: int,
    reason: str | None,
) -> Outcome:
    """Give an attempt that ran out of time (e.g. during a server outage) ``minutes`` more.

    Only attempts that ended by their deadline: a submitted or voided attempt stays closed. The
    section that was open when time ran out opens again; the scores are cleared and computed
    again when the attempt closes."""
    if not 1 <= minutes <= MAX_EXTENSION_MINUTES:
        raise InterventionError(f"Waktu tambahan 1–{MAX_EXTENSION_MINUTES} menit.")

    def apply(attempt: Attempt, _definition: dict) -> bool:
        if attempt.state != AttemptState.EXPIRED or attempt.finish_reason != "deadline":
            return False
        at = now()
        ended = attempt.finished_at
        attempt.state = next_state(attempt.state, Move.REOPEN).value
        attempt.deadline_at = at + timedelta(minutes=minutes)
        attempt.extra_seconds += minutes * 60
        attempt.finished_at = None
        attempt.finish_reason = None
        attempt.total_score = attempt.total_max = None
        last = max(
            (s for s in attempt.sections if s.started_at is not None and s.closed_at == ended),
            key=lambda s: s.section_index,
            default=None,
        )
        if last is not None:
            last.closed_at = None
            last.deadline_at = attempt.deadline_at
        db.session.execute(delete(AttemptScore).where(AttemptScore.attempt_id == attempt.id))
        db.session.add(
            AttemptEvent(
                attempt_id=attempt.id,
                kind="reopened",
                at=at,
                detail={"minutes": minutes, "by": actor.username},
            )
        )
        return True

    return _each_attempt(
        actor, session, enrolment_ids, "attempt.reopen", reason, apply, {"minutes": minutes}
    )


def pause(
    actor: User, session: ExamSession, enrolment_ids: list[int] | None, reason: str | None
) -> Outcome:
    def apply(attempt: Attempt, _definition: dict) -> bool:
        attempt.state = next_state(attempt.state, Move.PAUSE).value
        attempt.paused_at = now()
        return True

    return _each_attempt(actor, session, enrolment_ids, "attempt.pause", reason, apply)


def resume(
    actor: User, session: ExamSession, enrolment_ids: list[int] | None, reason: str | None
) -> Outcome:
    def apply(attempt: Attempt, _definition: dict) -> bool:
        attempt.state = next_state(attempt.state, Move.RESUME).value
        at = now()
        resumed = Countdown(attempt.deadline_at, attempt.paused_at).resume(at)
        paused_for = resumed.deadline - attempt.deadline_at
        section = clockwork.open_section(attempt)
        if section is not None and section.deadline_at is not None:
            section.deadline_at = section.deadline_at + paused_for
        attempt.deadline_at = resumed.deadline
        attempt.paused_seconds += int(paused_for.total_seconds())
        attempt.paused_at = None
        return True

    return _each_attempt(actor, session, enrolment_ids, "attempt.resume", reason, apply)


def force_submit(
    actor: User, session: ExamSession, enrolment_ids: list[int] | None, reason: str | None
) -> Outcome:
    def apply(attempt: Attempt, definition: dict) -> bool:
        finish(attempt, definition, reason="proctor")
        return True

    return _each_attempt(actor, session, enrolment_ids, "attempt.force_submit", reason, apply)


def void(
    actor: User, session: ExamSession, enrolment_ids: list[int], reason: str | None
) -> Outcome:
    def apply(attempt: Attempt, _definition: dict) -> bool:
        attempt.state = next_state(attempt.state, Move.VOID).value
        attempt.finished_at = attempt.finished_at or now()
        attempt.paused_at = None
        return True

    return _each_attempt(actor, session, enrolment_ids, "attempt.void", reason, apply)


def reset_login(
    actor: User, session: ExamSession, enrolment_ids: list[int], reason: str | None
) -> Outcome:
    """Unbind the device and end the participant's logins: they continue on another PC."""
    reason = _need_reason(reason)
    outcome = Outcome()
    with write_transaction():
        for enrolment, user in _targets(session, enrolment_ids):
            login_sessions.revoke_all(user.id)
            forget_failed_logins(user.id)  # a locked-out participant can log in again
            attempt = db.session.scalar(
                select(Attempt).where(Attempt.enrolment_id == enrolment.id).with_for_update()
            )
            if attempt is not None:
                attempt.device_hash = None
            outcome.changed.append(_label(enrolment, user))
        audit.record(
            "attempt.reset_login",
            actor=actor,
            target=session.code,
            reason=reason,
            details={"participants": outcome.changed},
        )
    return outcome


def add_note(actor: User, session: ExamSession, enrolment_id: int | None, text: str) -> SessionNote:
    text = _need_reason(text)
    with write_transaction():
        if enrolment_id is not None:
            _targets(session, [enrolment_id])
        note = SessionNote(
            session_id=session.id,
            enrolment_id=enrolment_id,
            author_id=actor.id,
            at=now(),
            text=text,
        )
        db.session.add(note)
        audit.record(
            "session.note",
            actor=actor,
            target=session.code,
            reason=text,
            details={"enrolment_id": enrolment_id},
        )
    return note

"""What a proctor can do to attempts: each with a reason, each audited. Every move, with what
it records, is made by :mod:`cbt_server.delivery.lifecycle`; this module picks the attempts.

Targets are enrolments of one session; ``None`` means everyone in the session. Each attempt is
first brought up to now (so an attempt whose time ran out is expired, not extended by mistake).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from cbt_server import audit
from cbt_server.accounts import login_sessions
from cbt_server.accounts.service import forget_failed_logins
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery import lifecycle
from cbt_server.delivery.lifecycle import IllegalMove, Move
from cbt_server.models import (
    Attempt,
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
    written = audit.written_reason(reason)
    if written is None:
        raise InterventionError("Tuliskan alasan tindakan ini.")
    return written


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
    move: Move,
    reason: str | None,
    apply: Callable[[Attempt, dict], object],
    details: dict | None = None,
) -> Outcome:
    """Make ``move`` (``apply``, a :mod:`lifecycle` move) on each target attempt; an attempt in
    a state the move does not apply to is skipped."""
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
            lifecycle.catch_up(attempt, now(), definition)
            try:
                apply(attempt, definition)
                changed = True
            except IllegalMove:
                changed = False
            (outcome.changed if changed else outcome.skipped).append(label)
        if enrolment_ids is not None and not outcome.changed:
            raise InterventionError("Tindakan ini tidak berlaku untuk status peserta tersebut.")
        lifecycle.audit_proctor_action(
            actor,
            move,
            session.code,
            reason,
            {
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

    def apply(attempt: Attempt, _definition: dict) -> None:
        lifecycle.extend(attempt, minutes * 60, now(), lifecycle.proctor(actor))

    return _each_attempt(
        actor, session, enrolment_ids, Move.EXTEND, reason, apply, {"minutes": minutes}
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

    def apply(attempt: Attempt, _definition: dict) -> None:
        lifecycle.reopen(attempt, minutes * 60, now(), lifecycle.proctor(actor))

    return _each_attempt(
        actor, session, enrolment_ids, Move.REOPEN, reason, apply, {"minutes": minutes}
    )


def pause(
    actor: User, session: ExamSession, enrolment_ids: list[int] | None, reason: str | None
) -> Outcome:
    def apply(attempt: Attempt, _definition: dict) -> None:
        lifecycle.pause(attempt, now(), lifecycle.proctor(actor))

    return _each_attempt(actor, session, enrolment_ids, Move.PAUSE, reason, apply)


def resume(
    actor: User, session: ExamSession, enrolment_ids: list[int] | None, reason: str | None
) -> Outcome:
    def apply(attempt: Attempt, _definition: dict) -> None:
        lifecycle.resume(attempt, now(), lifecycle.proctor(actor))

    return _each_attempt(actor, session, enrolment_ids, Move.RESUME, reason, apply)


def force_submit(
    actor: User, session: ExamSession, enrolment_ids: list[int] | None, reason: str | None
) -> Outcome:
    def apply(attempt: Attempt, definition: dict) -> None:
        lifecycle.submit(attempt, definition, now(), lifecycle.proctor(actor))

    return _each_attempt(actor, session, enrolment_ids, Move.FORCE_SUBMIT, reason, apply)


def void(
    actor: User, session: ExamSession, enrolment_ids: list[int], reason: str | None
) -> Outcome:
    def apply(attempt: Attempt, _definition: dict) -> None:
        lifecycle.void(attempt, now(), lifecycle.proctor(actor))

    return _each_attempt(actor, session, enrolment_ids, Move.VOID, reason, apply)


def reset_login(
    actor: User, session: ExamSession, enrolment_ids: list[int], reason: str | None
) -> Outcome:
    """Unbind the device and end the participant's logins of this session: they continue on
    another PC. A login of the same person in another session is never ended; one not bound to
    any session yet is, unless the person is mid-exam in another session."""
    reason = _need_reason(reason)
    outcome = Outcome()
    with write_transaction():
        for enrolment, user in _targets(session, enrolment_ids):
            busy_elsewhere = db.session.scalar(
                select(Attempt.id).where(
                    Attempt.user_id == user.id,
                    Attempt.enrolment_id != enrolment.id,
                    Attempt.state.in_(sorted(lifecycle.RUNNING)),
                )
            )
            login_sessions.revoke_enrolment(
                enrolment.id, user.id, keep_unbound=busy_elsewhere is not None
            )
            forget_failed_logins(user.id)  # a locked-out participant can log in again
            attempt = db.session.scalar(
                select(Attempt).where(Attempt.enrolment_id == enrolment.id).with_for_update()
            )
            if attempt is not None:
                lifecycle.reset(attempt, now(), lifecycle.proctor(actor))
            outcome.changed.append(_label(enrolment, user))
        lifecycle.audit_proctor_action(
            actor, Move.RESET, session.code, reason, {"participants": outcome.changed}
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

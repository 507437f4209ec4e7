"""Delivery use cases: entry with the session token, start/resume, device binding, submit.

Every use case that changes an attempt runs in one write transaction and first applies the
timer rules (:func:`cbt_server.delivery.clockwork.advance`), so an expired attempt is closed and
graded by whatever request touches it first. Reads (loading the test, a heartbeat with nothing to
record) take no write lock: they go to the write path only when the timer rules or the request
have something to change. Services take the user's id, not the ``User`` object: a commit expires
loaded objects, and re-reading the user would cost a query per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import aliased, joinedload

from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery import clockwork, frozen, outage, snapshot
from cbt_server.delivery.assembly import assemble
from cbt_server.delivery.errors import DeliveryError, refuse, too_many
from cbt_server.delivery.grading import grade_attempt
from cbt_server.delivery.lifecycle import FINISHED, AttemptState, Move, next_state
from cbt_server.limits import budgets
from cbt_server.models import (
    Attempt,
    AttemptItem,
    AttemptSection,
    BatteryVersion,
    Enrolment,
    ExamSession,
    Response,
    db,
)
from cbt_server.sessions.token_service import current_token
from cbt_server.sessions.tokens import token_matches


def device_hash(device_token: str | None) -> str | None:
    if not device_token:
        return None
    return hashlib.sha256(device_token.encode("utf-8")).hexdigest()


def new_device_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Entry:
    """What a participant's entry page shows."""

    enrolment: Enrolment | None
    session: ExamSession | None
    battery: BatteryVersion | None
    attempt: Attempt | None


def current_enrolment(user_id: int, at: datetime | None = None) -> Entry:
    """The participant's enrolment for the session running now (or the next one)."""
    at = at or now()
    rows = db.session.execute(
        select(Enrolment, ExamSession, BatteryVersion)
        .join(ExamSession, ExamSession.id == Enrolment.session_id)
        .join(BatteryVersion, BatteryVersion.id == ExamSession.battery_version_id)
        .where(Enrolment.user_id == user_id)
        .order_by(ExamSession.starts_at)
    ).all()
    if not rows:
        return Entry(None, None, None, None)
    running = [r for r in rows if r[1].starts_at <= at <= r[1].ends_at]
    upcoming = [r for r in rows if r[1].starts_at > at]
    enrolment, session, battery = (running or upcoming or rows[-1:])[0]
    attempt = db.session.scalar(select(Attempt).where(Attempt.enrolment_id == enrolment.id))
    return Entry(enrolment, session, battery, attempt)


def check_token(user_id: int, given: str) -> Entry:
    """Accept the session token the proctor announced, or refuse with why. Wrong tokens are
    counted: a participant cannot try tokens faster than the budget allows."""
    entry = current_enrolment(user_id)
    if entry.session is None:
        raise refuse("not_enrolled")
    at = now()
    try:
        budgets.check(budgets.WRONG_TOKENS_PER_PARTICIPANT, user_id, at)
    except budgets.OverBudget as limited:
        raise too_many(limited.retry_after) from None
    if at < entry.session.starts_at:
        raise refuse("session_not_open")
    if at > entry.session.ends_at:
        raise refuse("session_closed")
    verdict = token_matches(current_token(entry.session.id), given, at)
    if verdict != "ok":
        with write_transaction():
            budgets.spend(budgets.WRONG_TOKENS_PER_PARTICIPANT, user_id, at)
        raise refuse(verdict)
    return entry


def check_device_at_login(user_id: int, device_token: str | None) -> None:
    """Refuse a login from another PC while the participant's attempt is bound elsewhere."""
    bound = db.session.scalar(
        select(Attempt.device_hash).where(
            Attempt.user_id == user_id,
            Attempt.state.in_([AttemptState.IN_PROGRESS, AttemptState.PAUSED]),
            Attempt.device_hash.is_not(None),
        )
    )
    if bound is not None and bound != device_hash(device_token):
        raise refuse("other_device")


def start_or_resume(
    user_id: int, device_token: str | None, ip: str | None = None
) -> tuple[int, str]:
    """Start the participant's attempt (assembling and freezing it) or resume it on this PC.

    Returns the attempt's id and the device token the browser must keep (a new one when the PC
    had none). Call only after :func:`check_token` accepted the token.
    """
    token = device_token or new_device_token()
    error: DeliveryError | None = None
    with write_transaction():
        entry = current_enrolment(user_id)
        if entry.enrolment is None or entry.battery is None:
            raise refuse("not_enrolled")
        attempt = db.session.scalar(
            select(Attempt).where(Attempt.enrolment_id == entry.enrolment.id).with_for_update()
        )
        if attempt is None:
            attempt = _assemble(user_id, entry)
        else:
            definition = frozen.definition(attempt.battery_version_id)
            clockwork.advance(attempt, now(), definition)
            if attempt.state in FINISHED:
                _finalise_if_needed(attempt)
                error = refuse("attempt_closed")
        if error is None:
            if attempt.device_hash is not None and attempt.device_hash != device_hash(token):
                raise refuse("other_device")
            attempt.device_hash = device_hash(token)
            attempt.last_seen_at = now()
            if ip:
                attempt.last_ip = ip
        attempt_id = attempt.id
    if error is not None:
        raise error
    return attempt_id, token


def _assemble(user_id: int, entry: Entry) -> Attempt:
    """Draw and freeze the attempt: a handful of statements whatever the number of items (the
    rows of items and blank answers go in as one multi-row insert each)."""
    battery = entry.battery
    definition = frozen.definition(battery.id)  # type: ignore[union-attr]
    seed = secrets.randbits(31)
    placed = assemble(definition["sections"], frozen.candidates(battery.id, definition), seed)  # type: ignore[union-attr]
    started = now()
    attempt = Attempt(
        enrolment_id=entry.enrolment.id,  # type: ignore[union-attr]
        user_id=user_id,
        session_id=entry.session.id,  # type: ignore[union-attr]
        battery_version_id=battery.id,  # type: ignore[union-attr]
        state=AttemptState.IN_PROGRESS.value,
        seed=seed,
        started_at=started,
        deadline_at=started + timedelta(minutes=int(definition["time_limit_minutes"])),
        current_position=0,
    )
    attempt.sections = [
        AttemptSection(section_index=index) for index in range(len(definition["sections"]))
    ]
    clockwork.start_section(attempt, 0, started, clockwork.section_limits(definition))
    db.session.add(attempt)
    db.session.flush()
    db.session.execute(
        insert(AttemptItem),
        [
            {
                "attempt_id": attempt.id,
                "position": position,
                "section_index": p.section_index,
                "item_id": p.item_id,
                "option_order": list(p.option_order),
            }
            for position, p in enumerate(placed)
        ],
    )
    db.session.execute(
        insert(Response),
        [
            {"attempt_id": attempt.id, "position": position, "client_seq": 0, "flagged": False}
            for position in range(len(placed))
        ],
    )
    return attempt


def _latest_statement():  # type: ignore[no-untyped-def]
    """The participant's newest attempt with its sections, as one statement. Built once: a
    statement built per request costs more Python time than the database spends on it."""
    newer = aliased(Attempt)
    latest = (
        select(func.max(newer.id)).where(newer.user_id == bindparam("user_id")).scalar_subquery()
    )
    return (
        select(Attempt)
        .options(joinedload(Attempt.sections))
        .where(Attempt.id == latest, Attempt.user_id == bindparam("user_id"))
    )


_LATEST = _latest_statement()
_LATEST_LOCKED = _LATEST.with_for_update(of=Attempt)


def load_current(user_id: int, device_token: str | None) -> tuple[snapshot.AttemptRow, dict]:
    """The participant's attempt as stored, as plain values, without a lock (for reads)."""
    attempt = snapshot.read(user_id)
    if attempt is None:
        raise refuse("no_attempt")
    if attempt.device_hash is not None and attempt.device_hash != device_hash(device_token):
        raise refuse("other_device")
    return attempt, frozen.definition(attempt.battery_version_id)


def load_for_update(user_id: int, device_token: str | None) -> tuple[Attempt, dict, bool]:
    """The participant's attempt, locked, brought up to now. Must run in a write transaction.

    Returns (attempt, battery definition, expired_just_now).
    """
    attempt = db.session.scalars(_LATEST_LOCKED, {"user_id": user_id}).unique().first()
    if attempt is None:
        raise refuse("no_attempt")
    if attempt.device_hash is not None and attempt.device_hash != device_hash(device_token):
        raise refuse("other_device")
    definition = frozen.definition(attempt.battery_version_id)
    at = now()
    if clockwork.needs_advance(attempt, at, definition):
        outage.catch_up(at)  # time the server was down is given back before anything expires
    expired = clockwork.advance(attempt, at, definition)
    if expired:
        grade_attempt(attempt, definition)
    return attempt, definition, expired


def _finalise_if_needed(attempt: Attempt) -> None:
    if (
        attempt.state in (AttemptState.SUBMITTED, AttemptState.EXPIRED)
        and attempt.total_score is None
    ):
        grade_attempt(attempt, frozen.definition(attempt.battery_version_id))


def _needs_finalising(attempt: Attempt | snapshot.AttemptRow) -> bool:
    return (
        attempt.state in (AttemptState.SUBMITTED, AttemptState.EXPIRED)
        and attempt.total_score is None
    )


def submit(user_id: int, device_token: str | None) -> str:
    """The participant finishes: every saved answer is graded. Returns the new state."""
    error: DeliveryError | None = None
    with write_transaction():
        attempt, definition, expired = load_for_update(user_id, device_token)
        if expired or attempt.state in FINISHED:
            error = refuse("attempt_closed")
        elif attempt.state == AttemptState.PAUSED:
            error = refuse("attempt_paused")
        else:
            finish(attempt, definition, reason="participant")
        state = attempt.state
    if error is not None:
        raise error
    return state


def finish(attempt: Attempt, definition: dict, *, reason: str) -> None:
    """Submit (participant or proctor): close open sections, grade. Inside a write transaction."""
    at = now()
    attempt.state = next_state(attempt.state, Move.SUBMIT).value
    attempt.finished_at = min(at, attempt.deadline_at) if attempt.paused_at is None else at
    attempt.finish_reason = reason
    attempt.paused_at = None
    for section in attempt.sections:
        if section.started_at is not None and section.closed_at is None:
            section.closed_at = attempt.finished_at
    grade_attempt(attempt, definition)


def sweep(at: datetime | None = None) -> int:
    """Close and grade every running attempt whose deadline (plus grace) has passed.

    Safe to run from several workers at once: each attempt is handled in its own transaction
    under a row lock, and the state check makes the second sweeper's pass a no-op.
    """
    at = at or now()
    cutoff = at - clockwork.GRACE
    ids = db.session.scalars(
        select(Attempt.id).where(
            Attempt.state == AttemptState.IN_PROGRESS, Attempt.deadline_at < cutoff
        )
    ).all()
    closed = 0
    for attempt_id in ids:
        with write_transaction():
            attempt = db.session.scalar(
                select(Attempt).where(Attempt.id == attempt_id).with_for_update()
            )
            if attempt is None:
                continue
            definition = frozen.definition(attempt.battery_version_id)
            if clockwork.advance(attempt, at, definition):
                grade_attempt(attempt, definition)
                closed += 1
    return closed


def refresh(user_id: int, device_token: str | None) -> tuple[snapshot.AttemptRow, dict]:
    """The attempt as the test page loads it, brought up to now. Only when the timer rules
    have something to change (expiry, a timed section's end) does it take the write turn."""
    attempt, definition = load_current(user_id, device_token)
    if not clockwork.needs_advance(attempt, now(), definition) and not _needs_finalising(attempt):
        return attempt, definition
    with write_transaction():
        moved, definition, _expired = load_for_update(user_id, device_token)
        if moved.state in FINISHED:
            _finalise_if_needed(moved)
        db.session.flush()
        attempt = snapshot.of(moved)
    return attempt, definition

"""Delivery use cases: entry with the session token, start/resume, device binding, submit.

Every use case that changes an attempt runs in one write transaction and first applies the
timer rules (:func:`cbt_server.delivery.clockwork.advance`), so an expired attempt is closed and
graded by whatever request touches it first.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery import clockwork
from cbt_server.delivery.assembly import Candidate, assemble
from cbt_server.delivery.errors import DeliveryError, refuse
from cbt_server.delivery.grading import grade_attempt
from cbt_server.delivery.lifecycle import FINISHED, AttemptState, Move, next_state
from cbt_server.models import (
    Attempt,
    AttemptItem,
    AttemptSection,
    BatteryVersion,
    Enrolment,
    ExamSession,
    Item,
    ItemKey,
    Response,
    User,
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


def current_enrolment(user: User, at: datetime | None = None) -> Entry:
    """The participant's enrolment for the session running now (or the next one)."""
    at = at or now()
    rows = db.session.execute(
        select(Enrolment, ExamSession, BatteryVersion)
        .join(ExamSession, ExamSession.id == Enrolment.session_id)
        .join(BatteryVersion, BatteryVersion.id == ExamSession.battery_version_id)
        .where(Enrolment.user_id == user.id)
        .order_by(ExamSession.starts_at)
    ).all()
    if not rows:
        return Entry(None, None, None, None)
    running = [r for r in rows if r[1].starts_at <= at <= r[1].ends_at]
    upcoming = [r for r in rows if r[1].starts_at > at]
    enrolment, session, battery = (running or upcoming or rows[-1:])[0]
    attempt = db.session.scalar(select(Attempt).where(Attempt.enrolment_id == enrolment.id))
    return Entry(enrolment, session, battery, attempt)


def check_token(user: User, given: str) -> Entry:
    """Accept the session token the proctor announced, or refuse with why."""
    entry = current_enrolment(user)
    if entry.session is None:
        raise refuse("not_enrolled")
    at = now()
    if at < entry.session.starts_at:
        raise refuse("session_not_open")
    if at > entry.session.ends_at:
        raise refuse("session_closed")
    verdict = token_matches(current_token(entry.session.id), given, at)
    if verdict != "ok":
        raise refuse(verdict)
    return entry


def check_device_at_login(user: User, device_token: str | None) -> None:
    """Refuse a login from another PC while the participant's attempt is bound elsewhere."""
    bound = db.session.scalar(
        select(Attempt.device_hash).where(
            Attempt.user_id == user.id,
            Attempt.state.in_([AttemptState.IN_PROGRESS, AttemptState.PAUSED]),
            Attempt.device_hash.is_not(None),
        )
    )
    if bound is not None and bound != device_hash(device_token):
        raise refuse("other_device")


def start_or_resume(user: User, device_token: str | None) -> tuple[Attempt, str]:
    """Start the participant's attempt (assembling and freezing it) or resume it on this PC.

    Returns the attempt and the device token the browser must keep (a new one when the PC had
    none). Call only after :func:`check_token` accepted the token.
    """
    token = device_token or new_device_token()
    with write_transaction():
        entry = current_enrolment(user)
        if entry.enrolment is None or entry.battery is None:
            raise refuse("not_enrolled")
        attempt = db.session.scalar(
            select(Attempt).where(Attempt.enrolment_id == entry.enrolment.id).with_for_update()
        )
        if attempt is None:
            attempt = _assemble(user, entry)
        else:
            clockwork.advance(attempt, now(), entry.battery.definition)
            if attempt.state in FINISHED:
                _finalise_if_needed(attempt)
                db.session.commit()
                raise refuse("attempt_closed")
        if attempt.device_hash is not None and attempt.device_hash != device_hash(token):
            raise refuse("other_device")
        attempt.device_hash = device_hash(token)
        attempt.last_seen_at = now()
    return attempt, token


def _assemble(user: User, entry: Entry) -> Attempt:
    definition = entry.battery.definition  # type: ignore[union-attr]
    seed = secrets.randbits(31)
    placed = assemble(definition["sections"], _candidates(definition), seed)
    started = now()
    attempt = Attempt(
        enrolment_id=entry.enrolment.id,  # type: ignore[union-attr]
        user_id=user.id,
        session_id=entry.session.id,  # type: ignore[union-attr]
        battery_version_id=entry.battery.id,  # type: ignore[union-attr]
        state=AttemptState.IN_PROGRESS.value,
        seed=seed,
        started_at=started,
        deadline_at=started + timedelta(minutes=int(definition["time_limit_minutes"])),
        current_position=0,
    )
    db.session.add(attempt)
    db.session.flush()
    for index in range(len(definition["sections"])):
        db.session.add(AttemptSection(attempt_id=attempt.id, section_index=index))
    db.session.flush()
    db.session.refresh(attempt, ["sections"])
    clockwork.start_section(attempt, 0, started, clockwork.section_limits(definition))
    for position, p in enumerate(placed):
        db.session.add(
            AttemptItem(
                attempt_id=attempt.id,
                position=position,
                section_index=p.section_index,
                item_id=p.item_id,
                option_order=list(p.option_order),
            )
        )
        db.session.add(Response(attempt_id=attempt.id, position=position, client_seq=0))
    return attempt


def _candidates(definition: dict) -> dict[tuple[int, int], list[Candidate]]:
    """One query per selection rule; the key table is read here, on the server only."""
    found: dict[tuple[int, int], list[Candidate]] = {}
    for s_index, section in enumerate(definition["sections"]):
        for r_index, rule in enumerate(section["rules"]):
            query = (
                select(Item.id, Item.item_code, Item.item_type, Item.options)
                .join(ItemKey, ItemKey.item_id == Item.id)
                .where(
                    Item.bank_version_id == rule["bank_version_id"],
                    ItemKey.competency_code == rule["competency"],
                )
            )
            if rule.get("difficulty"):
                query = query.where(Item.difficulty == rule["difficulty"])
            found[(s_index, r_index)] = [
                Candidate(item_id, code, item_type, tuple(label for label, _ in options))
                for item_id, code, item_type, options in db.session.execute(query)
            ]
    return found


def load_for_update(user: User, device_token: str | None) -> tuple[Attempt, dict, bool]:
    """The participant's attempt, locked, brought up to now. Must run in a write transaction.

    Returns (attempt, battery definition, expired_just_now).
    """
    attempt = db.session.scalar(
        select(Attempt)
        .where(Attempt.user_id == user.id)
        .order_by(Attempt.id.desc())
        .limit(1)
        .with_for_update()
    )
    if attempt is None:
        raise refuse("no_attempt")
    if attempt.device_hash is not None and attempt.device_hash != device_hash(device_token):
        raise refuse("other_device")
    definition = db.session.get(BatteryVersion, attempt.battery_version_id).definition
    expired = clockwork.advance(attempt, now(), definition)
    if expired:
        grade_attempt(attempt, definition)
    return attempt, definition, expired


def _finalise_if_needed(attempt: Attempt) -> None:
    if (
        attempt.state in (AttemptState.SUBMITTED, AttemptState.EXPIRED)
        and attempt.total_score is None
    ):
        definition = db.session.get(BatteryVersion, attempt.battery_version_id).definition
        grade_attempt(attempt, definition)


def submit(user: User, device_token: str | None) -> Attempt:
    """The participant finishes: every saved answer is graded."""
    error: DeliveryError | None = None
    with write_transaction():
        attempt, definition, expired = load_for_update(user, device_token)
        if expired or attempt.state in FINISHED:
            error = refuse("attempt_closed")
        elif attempt.state == AttemptState.PAUSED:
            error = refuse("attempt_paused")
        else:
            finish(attempt, definition, reason="participant")
    if error is not None:
        raise error
    return attempt


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
            definition = db.session.get(BatteryVersion, attempt.battery_version_id).definition
            if clockwork.advance(attempt, at, definition):
                grade_attempt(attempt, definition)
                closed += 1
    return closed


def refresh(user: User, device_token: str | None) -> tuple[Attempt, dict]:
    """Load the attempt, applying expiry and section roll-over (what a GET of the test does)."""
    with write_transaction():
        attempt, definition, _expired = load_for_update(user, device_token)
        if attempt.state in FINISHED:
            _finalise_if_needed(attempt)
    return attempt, definition

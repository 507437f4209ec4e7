"""Delivery use cases: entry with the session token, start/resume, device binding, submit.

Every use case that changes an attempt runs in one write transaction and first brings it up to
now (:func:`cbt_server.delivery.lifecycle.catch_up`), so an expired attempt is closed and graded
by whatever request touches it first; every move itself is made by :mod:`lifecycle`. Reads
(loading the test, a heartbeat with nothing to record) take no write lock: they go to the write
path only when the timer rules or the request have something to change. Services take the
user's id, not the ``User`` object: a commit expires loaded objects, and re-reading the user
would cost a query per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import aliased, defer, joinedload

from cbt_server import commit_group
from cbt_server.accounts import login_sessions
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery import clockwork, frozen, lifecycle, outage, snapshot
from cbt_server.delivery.assembly import assemble
from cbt_server.delivery.errors import DeliveryError, refuse, too_many
from cbt_server.delivery.lifecycle import FINISHED, RUNNING, AttemptState
from cbt_server.limits import budgets
from cbt_server.models import (
    Attempt,
    AttemptEvent,
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


def _entries(user_id: int) -> list[Entry]:
    """Every enrolment of the person with its session, battery and attempt, earliest first."""
    rows = db.session.execute(
        select(Enrolment, ExamSession, BatteryVersion, Attempt)
        # The definition is a large JSON document read on every exam page: frozen.definition()
        # keeps it decoded per process instead.
        .options(defer(BatteryVersion.definition), defer(BatteryVersion.source_path))
        .join(ExamSession, ExamSession.id == Enrolment.session_id)
        .join(BatteryVersion, BatteryVersion.id == ExamSession.battery_version_id)
        .outerjoin(Attempt, Attempt.enrolment_id == Enrolment.id)
        .where(Enrolment.user_id == user_id)
        .order_by(ExamSession.starts_at, Enrolment.id)
    ).all()
    return [Entry(*row) for row in rows]


#: ``exam_sessions.status`` of a session a proctor or an admin has closed
SESSION_CLOSED = "closed"


def window_refusal(session: ExamSession, at: datetime) -> DeliveryError | None:
    """Why nothing of ``session`` may start at ``at``, or None inside its window.

    The window is ``starts_at <= at < ends_at`` of a session that is not closed: from its
    opening up to, not at, its end (docs/sessions.md, "The session's window"). It governs the
    token and every start; an attempt already running is not a start and keeps its own
    deadline, which may reach past the session's end."""
    if session.status == SESSION_CLOSED or at >= session.ends_at:
        return refuse("session_closed")
    if at < session.starts_at:
        return refuse("session_not_open")
    return None


def _open(entry: Entry, at: datetime) -> bool:
    return window_refusal(entry.session, at) is None  # type: ignore[arg-type]


def current_enrolment(
    user_id: int, at: datetime | None = None, enrolment_id: int | None = None
) -> Entry:
    """The enrolment the participant's exam pages are about.

    With ``enrolment_id`` (the enrolment the login belongs to, or the one whose token was just
    accepted) that enrolment only. Otherwise, among the person's enrolments: the one with a
    running attempt (a participant mid-exam stays in their exam, whatever other session opens),
    else the earliest session open now that they have not finished, else the earliest open
    now, else the next one, else the last one.
    """
    return _pick(_entries(user_id), at or now(), enrolment_id)


def entry_and_choices(user_id: int, enrolment_id: int | None) -> tuple[Entry, list[Entry]]:
    """The entry page's enrolment (:func:`current_enrolment`) and, for a login not tied to an
    enrolment, the sessions its token may choose among (:func:`open_entries`): one read."""
    entries, at = _entries(user_id), now()
    choices = [] if enrolment_id is not None else [e for e in entries if _enterable(e, at)]
    return _pick(entries, at, enrolment_id), choices


def _enterable(entry: Entry, at: datetime) -> bool:
    return _open(entry, at) and (entry.attempt is None or entry.attempt.state not in FINISHED)


def _pick(entries: list[Entry], at: datetime, enrolment_id: int | None) -> Entry:
    if enrolment_id is not None:
        entries = [e for e in entries if e.enrolment.id == enrolment_id]  # type: ignore[union-attr]
    if not entries:
        return Entry(None, None, None, None)
    running = [e for e in entries if e.attempt is not None and e.attempt.state in RUNNING]
    open_now = [e for e in entries if _open(e, at)]
    unfinished = [e for e in open_now if e.attempt is None or e.attempt.state not in FINISHED]
    upcoming = [e for e in entries if e.session.starts_at > at]  # type: ignore[union-attr]
    return (running or unfinished or open_now or upcoming or entries[-1:])[0]


def open_entries(user_id: int, at: datetime | None = None) -> list[Entry]:
    """The person's sessions open now that they have not finished, earliest first: the ones a
    login not tied to an enrolment may enter, by that session's token."""
    at = at or now()
    return [e for e in _entries(user_id) if _enterable(e, at)]


def check_token(user_id: int, given: str, enrolment_id: int | None = None) -> Entry:
    """Accept the session token the proctor announced, or refuse with why. Wrong tokens are
    counted: a participant cannot try tokens faster than the budget allows.

    A login that belongs to an enrolment (``enrolment_id``) enters only that session. Otherwise
    the token chooses among the person's sessions open now that they have not finished: with
    two rooms open at once, either room's token reaches that room's session.
    """
    entry = current_enrolment(user_id, enrolment_id=enrolment_id)
    if entry.session is None:
        raise refuse("not_enrolled")
    at = now()
    try:
        budgets.check(budgets.WRONG_TOKENS_PER_PARTICIPANT, user_id, at)
    except budgets.OverBudget as limited:
        raise too_many(limited.retry_after) from None
    candidates = [entry]
    if enrolment_id is None:
        candidates = open_entries(user_id, at) or candidates
    if len(candidates) == 1:
        outside = window_refusal(candidates[0].session, at)  # type: ignore[arg-type]
        if outside is not None:
            raise outside
    verdicts = []
    for candidate in candidates:
        verdict = token_matches(current_token(candidate.session.id), given, at)  # type: ignore[union-attr]
        if verdict == "ok":
            return candidate
        verdicts.append(verdict)
    with write_transaction():
        budgets.spend(budgets.WRONG_TOKENS_PER_PARTICIPANT, user_id, at)
    raise refuse("stale_token" if "stale_token" in verdicts else "bad_token")


def check_device_at_login(user_id: int, device_token: str | None) -> None:
    """Refuse a login from another PC while the participant's attempt is bound elsewhere."""
    bound = db.session.scalar(
        select(Attempt.device_hash).where(
            Attempt.user_id == user_id,
            Attempt.state.in_(RUNNING),
            Attempt.device_hash.is_not(None),
        )
    )
    if bound is not None and bound != device_hash(device_token):
        raise refuse("other_device")


def start_or_resume(
    user_id: int,
    device_token: str | None,
    ip: str | None = None,
    *,
    enrolment_id: int | None = None,
    login_id: str | None = None,
    entry: Entry | None = None,
) -> tuple[int, str]:
    """Start the participant's attempt (assembling and freezing it) or resume it on this PC.

    ``enrolment_id`` is the enrolment the page was about (see :func:`current_enrolment`); the
    login ``login_id`` then belongs to that enrolment (a reset in another session leaves it
    alone). Returns the attempt's id and the device token the browser must keep (a new one when
    the PC had none). Call only after :func:`check_token` accepted the token.

    A new attempt starts only inside the session's window (:func:`window_refusal`), however long
    ago the token was accepted; resuming one that runs is always allowed. ``entry`` is
    :func:`current_enrolment` for ``enrolment_id`` when the caller has just read it.
    """
    token = device_token or new_device_token()
    # A new attempt, the common case when a room starts together: everything that is only read
    # or computed (the enrolment, the window, the draw) happens before the write turn, which then
    # holds a handful of plain inserts (docs/benchmarks.md, "The way in").
    if entry is None:
        entry = current_enrolment(user_id, enrolment_id=enrolment_id)
    if entry.enrolment is None or entry.battery is None:
        raise refuse("not_enrolled")
    if entry.attempt is None:
        outside = window_refusal(entry.session, now())  # type: ignore[arg-type]
        if outside is not None:
            raise outside
        started = _start_new(user_id, entry, token, ip, login_id)
        if started is not None:
            return started, token
    return _resume(user_id, token, ip, enrolment_id=enrolment_id, login_id=login_id), token


def _resume(
    user_id: int, token: str, ip: str | None, *, enrolment_id: int | None, login_id: str | None
) -> int:
    """Bind a running attempt to this PC (or start one that a racing request did not)."""
    error: DeliveryError | None = None
    with write_transaction():
        entry = current_enrolment(user_id, enrolment_id=enrolment_id)
        if entry.enrolment is None or entry.battery is None:
            raise refuse("not_enrolled")
        if login_id is not None:
            login_sessions.bind_enrolment(login_id, entry.enrolment.id)
        attempt = db.session.scalar(
            select(Attempt).where(Attempt.enrolment_id == entry.enrolment.id).with_for_update()
        )
        if attempt is None:
            outside = window_refusal(entry.session, now())  # type: ignore[arg-type]
            if outside is not None:
                raise outside
            attempt_id = _insert_attempt(_draw(user_id, entry, token, ip))
        else:
            definition = frozen.definition(attempt.battery_version_id)
            lifecycle.catch_up(attempt, now(), definition)
            if attempt.state in FINISHED:
                lifecycle.finalise_if_needed(attempt, definition)
                error = refuse("attempt_closed")
            elif attempt.device_hash is not None and attempt.device_hash != device_hash(token):
                raise refuse("other_device")
            else:
                attempt.device_hash = device_hash(token)
                attempt.last_seen_at = now()
                if ip:
                    attempt.last_ip = ip
            attempt_id = attempt.id
    if error is not None:
        raise error
    return attempt_id


@dataclass
class _Drawn:
    """A new attempt drawn and timed, not yet stored: its rows as plain values."""

    attempt: dict
    sections: list[dict]
    items: list[dict]
    event: dict


def _draw(user_id: int, entry: Entry, token: str, ip: str | None) -> _Drawn:
    """Draw the form and set its clocks (pure Python: no statement)."""
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
        seed=seed,
        current_position=0,
        device_hash=device_hash(token),
        last_seen_at=started,
        last_ip=ip or None,
    )
    attempt.sections = [
        AttemptSection(section_index=index) for index in range(len(definition["sections"]))
    ]
    event = lifecycle.start(attempt, definition, started)
    return _Drawn(
        attempt=_column_values(attempt),
        sections=[_column_values(section) for section in attempt.sections],
        items=[
            {
                "position": position,
                "section_index": p.section_index,
                "item_id": p.item_id,
                "option_order": list(p.option_order),
            }
            for position, p in enumerate(placed)
        ],
        event=event,
    )


def _column_values(obj: Attempt | AttemptSection) -> dict:
    """The column values set on a transient model object (unset ones take their defaults;
    unset nullable ones are None, so that every section row has the same keys and the rows go
    in as one statement)."""
    table = type(obj).__table__  # type: ignore[union-attr]
    values = {
        column.key: None
        for column in table.columns
        if column.nullable and column.default is None and not column.primary_key
    }
    values.update((key, value) for key, value in vars(obj).items() if key in table.columns)
    return values


def _insert_attempt(drawn: _Drawn) -> int:
    """Store a drawn attempt: five multi-row inserts, inside the caller's write transaction.
    Plain Core on the tables: the ORM's bulk insert would split rows by the keys they set."""
    attempts = Attempt.__table__
    attempt_id = db.session.execute(
        insert(attempts).values(**drawn.attempt).returning(attempts.c.id)
    ).scalar_one()
    rows = [{**row, "attempt_id": attempt_id} for row in drawn.sections]
    db.session.execute(insert(AttemptSection.__table__), rows)
    rows = [{**row, "attempt_id": attempt_id} for row in drawn.items]
    db.session.execute(insert(AttemptItem.__table__), rows)
    rows = [
        {"attempt_id": attempt_id, "position": row["position"], "client_seq": 0, "flagged": False}
        for row in drawn.items
    ]
    db.session.execute(insert(Response.__table__), rows)
    db.session.execute(insert(AttemptEvent.__table__).values(attempt_id=attempt_id, **drawn.event))
    return attempt_id


def _start_new(
    user_id: int, entry: Entry, token: str, ip: str | None, login_id: str | None
) -> int | None:
    """Store a new attempt for ``entry``, drawn before the write turn; None when the enrolment
    changed meanwhile (an attempt started by a racing request, a move): the caller resumes."""
    drawn = _draw(user_id, entry, token, ip)
    # Plain values: the turn's opening commit expires the loaded rows.
    enrolment_id, session_id = drawn.attempt["enrolment_id"], drawn.attempt["session_id"]
    created: list[int] = []

    def write() -> bool:
        # One read inside the turn: the enrolment is still this person's, in this session, with
        # no attempt yet (the unique enrolment would refuse a second one anyway).
        still = db.session.execute(
            select(Enrolment.id)
            .outerjoin(Attempt, Attempt.enrolment_id == Enrolment.id)
            .where(
                Enrolment.id == enrolment_id,
                Enrolment.user_id == user_id,
                Enrolment.session_id == session_id,
                Attempt.id.is_(None),
            )
        ).first()
        if still is None:
            return False
        if login_id is not None:
            login_sessions.bind_enrolment(login_id, enrolment_id)
        created.append(_insert_attempt(drawn))
        return True

    return created[0] if commit_group.shared_write(write) else None


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
    if lifecycle.due(attempt, at, definition):
        outage.catch_up(at)  # time the server was down is given back before anything expires
    expired = lifecycle.catch_up(attempt, at, definition)
    return attempt, definition, expired


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
            lifecycle.submit(attempt, definition, now(), lifecycle.PARTICIPANT)
        state = attempt.state
    if error is not None:
        raise error
    return state


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
            if lifecycle.catch_up(attempt, at, frozen.definition(attempt.battery_version_id)):
                closed += 1
    return closed


def refresh(user_id: int, device_token: str | None) -> tuple[snapshot.AttemptRow, dict]:
    """The attempt as the test page loads it, brought up to now. Only when the timer rules
    have something to change (expiry, a timed section's end) does it take the write turn."""
    attempt, definition = load_current(user_id, device_token)
    if not lifecycle.due(attempt, now(), definition) and not lifecycle.needs_finalising(attempt):
        return attempt, definition
    with write_transaction():
        moved, definition, _expired = load_for_update(user_id, device_token)
        if moved.state in FINISHED:
            lifecycle.finalise_if_needed(moved, definition)
        db.session.flush()
        attempt = snapshot.of(moved)
    return attempt, definition

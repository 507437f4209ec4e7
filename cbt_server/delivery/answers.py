"""Autosave, position, heartbeat, integrity events and section finishing.

A save is acknowledged only after its transaction commits. Saves are idempotent and ordered per
item by the client's sequence number: the stored row changes only when the incoming ``seq`` is
greater than the stored one (one conditional UPDATE, so concurrent requests cannot reorder it).

A save is one short write transaction of a few statements: the attempt with its sections (locked),
one conditional UPDATE per answer, and the attempt's row when its position or last-seen stamp
is due. The battery and the attempt's frozen layout come from :mod:`frozen` (memory).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, case, exists, func, or_, select, update

from cbt_server import commit_group
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery import clockwork, frozen, item_time, lifecycle, presence, snapshot
from cbt_server.delivery.errors import DeliveryError, refuse, too_many
from cbt_server.delivery.lifecycle import FINISHED, AttemptState
from cbt_server.delivery.service import device_hash, load_for_update
from cbt_server.delivery.views import timing
from cbt_server.limits import budgets
from cbt_server.models import Attempt, AttemptEvent, AttemptSection, Response, db

MAX_SAVES_PER_REQUEST = 200
MAX_SHORT_ANSWER = 500
#: sequence numbers and positions are stored as 32-bit integers (PostgreSQL INTEGER)
MAX_INT = 2**31 - 1
#: integrity events kept per attempt; a page that sends more cannot fill the database
MAX_EVENTS_STORED = 2000
MAX_EVENTS_PER_REQUEST = 100
#: what an acknowledgement says of a save (docs/exam-api.md)
ACK_STATUSES = ("saved", "duplicate", "stale")
EVENT_KINDS = frozenset(
    {
        "focus_lost",
        "focus_regained",
        "reload",
        "fullscreen_exit",
        "copy_attempt",
        "paste_attempt",
        "offline",
        "online",
        "heartbeat",
    }
)


@dataclass(frozen=True)
class Save:
    position: int
    answer: Any
    flagged: bool
    seq: int
    #: how long the item had been on screen when this answer was given (ms, measured on the PC:
    #: a duration); kept for the first answer only, for response-time checks
    shown_ms: int | None = None


@dataclass(frozen=True)
class Ack:
    position: int
    seq: int
    status: str  # one of ACK_STATUSES


@dataclass(frozen=True)
class Where:
    """Where the page is: the item on screen and, optionally, for how long (milliseconds of the
    PC's monotonic clock: a duration, never a time of day; :func:`item_time.arrival` bounds it
    by what the server saw)."""

    position: int
    age_ms: int = 0


def parse_position(payload: Any) -> Where | None:
    """The optional ``position`` (with ``position_age_ms``) of a save request, a position
    report or a heartbeat; either one malformed is a 400, even when the other is absent."""
    if not isinstance(payload, dict):
        return None
    age = payload.get("position_age_ms")
    age_ms = 0 if age is None else as_int(age)
    if age_ms is None or not 0 <= age_ms <= MAX_INT:
        raise refuse("bad_request", "position_age_ms must be a non-negative integer")
    position = payload.get("position")
    if position is None:
        return None
    number = as_int(position)
    if number is None or not 0 <= number <= MAX_INT:
        raise refuse("bad_request", "position must be a non-negative integer")
    return Where(number, age_ms)


def parse_saves(payload: Any) -> list[Save]:
    """Validate the request body's shape; raises ``bad_request`` naming the problem."""
    if not isinstance(payload, dict) or not isinstance(payload.get("saves"), list):
        raise refuse("bad_request", 'body must be {"saves": [...]}')
    raw = payload["saves"]
    if not raw or len(raw) > MAX_SAVES_PER_REQUEST:
        raise refuse("bad_request", f"send 1 to {MAX_SAVES_PER_REQUEST} saves per request")
    saves = []
    for n, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise refuse("bad_request", f"saves[{n}] is not an object")
        position, seq = as_int(entry.get("position")), as_int(entry.get("seq"))
        if position is None or seq is None or seq < 1:
            raise refuse("bad_request", f"saves[{n}]: position and seq (≥ 1) must be integers")
        if not 0 <= position <= MAX_INT or seq > MAX_INT:
            raise refuse("bad_request", f"saves[{n}]: position or seq is out of range")
        flagged = entry.get("flagged", False)
        if not isinstance(flagged, bool):
            raise refuse("bad_request", f"saves[{n}]: flagged must be true or false")
        shown = entry.get("shown_ms")
        shown_ms = None if shown is None else as_int(shown)
        if shown is not None and (shown_ms is None or not 0 <= shown_ms <= MAX_INT):
            raise refuse("bad_request", f"saves[{n}]: shown_ms must be a non-negative integer")
        saves.append(Save(position, entry.get("answer"), flagged, seq, shown_ms))
    return saves


def as_int(value: Any) -> int | None:
    """An integer as JSON may write it, ``3`` or ``3.0`` (JSON has one number type, and a client
    may send every number as a float); None for anything else: a fraction, a boolean, text,
    infinity."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def to_canonical(
    item_type: str, option_order: Sequence[str], answer: Any
) -> list[str] | str | None:
    """Shown-option indices → canonical labels; validates the answer's shape for the type."""
    if answer is None:
        return None
    if item_type == "short":
        if not isinstance(answer, str) or len(answer) > MAX_SHORT_ANSWER:
            raise refuse("bad_request", f"a short answer is text of at most {MAX_SHORT_ANSWER}")
        return answer if answer.strip() else None
    indexes = [as_int(i) for i in answer] if isinstance(answer, list) else [None]
    if None in indexes:
        raise refuse("bad_request", "an answer is a list of option indexes")
    answer = indexes
    if len(set(answer)) != len(answer) or any(not 0 <= i < len(option_order) for i in answer):
        raise refuse("bad_request", "an option index is out of range or repeated")
    if item_type != "multiple" and len(answer) > 1:
        raise refuse("bad_request", "this item takes one option")
    if not answer:
        return None
    return sorted(option_order[i] for i in answer)


def save_answers(
    user_id: int,
    device_token: str | None,
    saves: list[Save],
    position: Where | None = None,
    ip: str | None = None,
    *,
    pre: snapshot.AttemptRow | None = None,
) -> tuple[list[Ack], dict[str, Any]]:
    """Store the saves in order, all or nothing, and acknowledge each after the commit.

    ``position`` is where the page is as it sends (saves may be older: queued during an
    outage). Returns the acknowledgements and the attempt's timing as of the commit.

    Inside the write turn: one statement reads the attempt (locked), one conditional UPDATE per
    answer, one UPDATE of the attempt's row when its position or last-seen stamp is due. Only
    when the timer rules have something to do (expiry, a section's end) does it go through the
    ORM path that moves attempts between states. On SQLite, whose writers take turns, the turn
    is shorter still (:func:`_save_in_turn`)."""
    if db.engine.dialect.name == "sqlite":
        done = _save_in_turn(user_id, device_token, saves, position, ip, pre)
        if done is not None:
            return done
    error: DeliveryError | None = None
    acks: list[Ack] = []
    with write_transaction():
        attempt, expired = _locked(user_id, device_token)
        error = _refusal(attempt, expired, deadline_code="deadline_passed")
        at = now()
        if error is None:
            try:
                acks = _apply(attempt, saves, at)
            except DeliveryError as refused:
                db.session.rollback()
                raise refused from None
            _seen(attempt, at, ip, position)
        state = timing(attempt, at)
    if error is not None:
        raise error
    return acks, state


def acknowledgement(acks: list[Ack], state: dict[str, Any]) -> dict[str, Any]:
    """The body of a save's answer (the route and the save lane send the same)."""
    return {
        "acks": [{"position": a.position, "seq": a.seq, "status": a.status} for a in acks],
        **state,
    }


def common_case(attempt: snapshot.AttemptRow | None, device_token: str | None) -> bool:
    """A running attempt of this PC that the timer rules leave as it is: a save can go
    straight to its writes (:func:`save_answers` with ``pre``)."""
    return (
        attempt is not None
        and attempt.state == AttemptState.IN_PROGRESS
        and (attempt.device_hash is None or attempt.device_hash == device_hash(device_token))
        and not clockwork.time_due(attempt, now())
    )


def _save_in_turn(
    user_id: int,
    device_token: str | None,
    saves: list[Save],
    position: Where | None,
    ip: str | None,
    pre: snapshot.AttemptRow | None = None,
) -> tuple[list[Ack], dict[str, Any]] | None:
    """The common case on SQLite, with nothing but the writes inside the write turn.

    The attempt is read and every save validated before the turn; inside it each UPDATE carries
    the conditions it depends on (the attempt running, not paused, before its deadline and
    grace, the item's section open, this PC), so what was read cannot have changed unseen:
    SQLite runs one writer at a time. Saves that arrive together share one commit
    (:mod:`commit_group`). Returns None (having changed nothing) when the common case does not
    hold: the caller then takes the locked path, which gives the right refusal or moves the
    attempt first."""
    attempt = pre if pre is not None else snapshot.read(user_id)
    if attempt is None or not common_case(attempt, device_token):
        return None
    layout = frozen.layout(attempt.id, attempt.seed, len(attempt.sections))
    prepared = _prepare(attempt, layout, saves)
    seen = _seen_after(attempt, now(), ip, position)  # decided before the turn, written in it
    params = {"b_attempt": attempt.id, "b_device": attempt.device_hash or ""}
    stamps: list[datetime] = []

    def write(connection: Any) -> bool:
        at = now()
        params.update(b_saved_at=at, b_cutoff=at - clockwork.GRACE)
        for save, answer in prepared:
            params.update(
                _save_values(save, answer, at),
                b_section=layout.slots[save.position].section_index,
            )
            if connection.execute(_SAVE_GUARDED, params).rowcount != 1:
                return False  # stale, duplicate or refused: the locked path says which
        snapshot.write_changes(attempt, seen)
        stamps.append(at)
        return True

    if not commit_group.group().run(commit_group.Job(write, several=len(prepared) > 1)):
        return None
    acks = [Ack(save.position, save.seq, "saved") for save, _answer in prepared]
    return acks, timing(attempt, stamps[0])


def _locked(user_id: int, device_token: str | None) -> tuple[snapshot.AttemptRow, bool]:
    """The attempt, locked and brought up to now (inside a write transaction)."""
    attempt = snapshot.read(user_id, lock=True)
    if attempt is None:
        raise refuse("no_attempt")
    if attempt.device_hash is not None and attempt.device_hash != device_hash(device_token):
        raise refuse("other_device")
    if not lifecycle.due(attempt, now()):
        return attempt, False
    moved, _definition, expired = load_for_update(user_id, device_token)
    db.session.flush()
    return snapshot.of(moved), expired


def _refusal(attempt: Any, expired: bool, *, deadline_code: str) -> DeliveryError | None:
    if expired:
        return refuse(deadline_code)
    if attempt.state in FINISHED:
        return refuse("attempt_closed")
    if attempt.state == AttemptState.PAUSED:
        return refuse("attempt_paused")
    return None


#: The conditional save, built once (per-request construction cost more than the write). It
#: changes the row only when the incoming seq is newer, so retried or reordered requests cannot
#: overwrite a newer answer.
_COLUMNS = Response.__table__.c
_SAVE = (
    update(Response)
    .where(
        Response.attempt_id == bindparam("b_attempt"),
        Response.position == bindparam("b_position"),
        Response.client_seq < bindparam("b_seq"),
    )
    .values(
        answer=bindparam("b_answer", type_=_COLUMNS.answer.type),
        flagged=bindparam("b_flagged", type_=_COLUMNS.flagged.type),
        client_seq=bindparam("b_seq"),
        saved_at=bindparam("b_saved_at", type_=_COLUMNS.saved_at.type),
        save_count=_COLUMNS.save_count + 1,
        # the first answer's moment and time on screen (SET sees the row as it was)
        first_answered_at=func.coalesce(
            _COLUMNS.first_answered_at,
            bindparam("b_first", type_=_COLUMNS.first_answered_at.type),
        ),
        first_answer_ms=case(
            (_COLUMNS.first_answered_at.is_(None), bindparam("b_shown", type_=Integer())),
            else_=_COLUMNS.first_answer_ms,
        ),
    )
    .execution_options(synchronize_session=False)
)


_A = Attempt.__table__.c
_S = AttemptSection.__table__.c
_CUTOFF = bindparam("b_cutoff", type_=_A.deadline_at.type)
#: The conditions a save depends on, checked by the UPDATE itself (SQLite's serialised writers).
_SAVE_GUARDED = _SAVE.where(
    exists().where(
        _A.id == bindparam("b_attempt"),
        _A.state == AttemptState.IN_PROGRESS.value,
        _A.paused_at.is_(None),
        _A.deadline_at >= _CUTOFF,
        or_(_A.device_hash.is_(None), _A.device_hash == bindparam("b_device")),
        _S.attempt_id == _A.id,
        _S.section_index == bindparam("b_section"),
        _S.started_at.is_not(None),
        _S.closed_at.is_(None),
        or_(_S.deadline_at.is_(None), _S.deadline_at >= _CUTOFF, _S.deadline_at >= _A.deadline_at),
    )
)


def _prepare(
    attempt: snapshot.AttemptRow, layout: frozen.Layout, saves: list[Save]
) -> list[tuple[Save, Any]]:
    """Validate every save against the frozen attempt before anything changes."""
    open_sections = {
        s.section_index
        for s in attempt.sections
        if s.started_at is not None and s.closed_at is None
    }
    prepared = []
    for save in saves:
        if not save.position < len(layout):
            raise refuse("bad_request", f"position {save.position} is not in this attempt")
        slot = layout.slots[save.position]
        if slot.section_index not in open_sections:
            raise refuse("section_closed")
        prepared.append((save, to_canonical(slot.item_type, slot.option_order, save.answer)))
    return prepared


def _save_values(save: Save, answer: Any, at: datetime) -> dict[str, Any]:
    """One save's values for :data:`_SAVE` (both paths): a blank keeps no first-answer time."""
    return {
        "b_position": save.position,
        "b_seq": save.seq,
        "b_answer": answer,
        "b_first": None if answer is None else at,
        "b_shown": None if answer is None else save.shown_ms,
        "b_flagged": save.flagged,
    }


def _apply(attempt: snapshot.AttemptRow, saves: list[Save], at: datetime) -> list[Ack]:
    layout = frozen.layout(attempt.id, attempt.seed, len(attempt.sections))
    prepared = _prepare(attempt, layout, saves)
    acks = []
    for save, answer in prepared:
        result = db.session.execute(
            _SAVE, {"b_attempt": attempt.id, "b_saved_at": at, **_save_values(save, answer, at)}
        )
        if result.rowcount == 1:
            acks.append(Ack(save.position, save.seq, "saved"))
            continue
        stored = db.session.scalar(
            select(Response.client_seq).where(
                Response.attempt_id == attempt.id, Response.position == save.position
            )
        )
        status = "duplicate" if stored == save.seq else "stale"
        acks.append(Ack(save.position, int(stored or 0), status))
    return acks


def _seen_after(
    attempt: snapshot.AttemptRow,
    at: datetime,
    ip: str | None,
    where: Where | None,
    *,
    heartbeat: bool = False,
) -> snapshot.AttemptRow:
    """The attempt with where the page is and that the PC is there, when due."""
    after = snapshot.copy(attempt)
    count = len(frozen.layout(attempt.id, attempt.seed, len(attempt.sections)))
    if where is not None and where.position < count and after.current_position != where.position:
        after.current_position = where.position  # where the page is: a resume opens it
        if attempt.paused_at is None and attempt.state not in FINISHED:
            # a new visit, timed only while the clock runs (item_time)
            after.position_since = item_time.arrival(attempt.position_since, at, where.age_ms)
    presence.mark_seen(after, at, ip, heartbeat=heartbeat)
    return after


def _seen(
    attempt: snapshot.AttemptRow,
    at: datetime,
    ip: str | None,
    position: Where | None,
    *,
    heartbeat: bool = False,
) -> None:
    """Write what :func:`_seen_after` finds due (inside the write transaction)."""
    snapshot.write_changes(attempt, _seen_after(attempt, at, ip, position, heartbeat=heartbeat))


def touch(
    user_id: int,
    device_token: str | None,
    *,
    position: Where | None = None,
    heartbeat: bool = False,
    ip: str | None = None,
) -> dict[str, Any]:
    """Position report and heartbeat: keep the attempt's clock and last-seen up to date.

    Read-only unless something is due (a stamp, a new position, the timer rules), so a lab's
    heartbeats do not queue for the write turn."""
    attempt = snapshot.read(user_id)
    if attempt is None:
        raise refuse("no_attempt")
    if attempt.device_hash is not None and attempt.device_hash != device_hash(device_token):
        raise refuse("other_device")
    at = now()
    layout = frozen.layout(attempt.id, attempt.seed, len(attempt.sections))
    if position is not None and position.position >= len(layout):
        raise refuse("bad_request", "position out of range")
    definition = frozen.definition(attempt.battery_version_id)
    if attempt.state in FINISHED or not (
        lifecycle.due(attempt, at, definition)
        or presence.seen_due(attempt, at, ip)
        or (position is not None and position.position != attempt.current_position)
    ):
        return timing(attempt, at)
    with write_transaction():
        attempt, _expired = _locked(user_id, device_token)
        at = now()
        if attempt.state not in FINISHED:
            _seen(attempt, at, ip, position, heartbeat=heartbeat)
        state = timing(attempt, at)
    return state


def record_events(user_id: int, device_token: str | None, payload: Any) -> tuple[int, int]:
    """Store integrity events (focus lost, reload, copy attempts ...) with the server's time.

    Only while the attempt is open, within the events budget per attempt, and up to
    :data:`MAX_EVENTS_STORED` per attempt (beyond, they are counted as dropped). Returns
    (stored, dropped)."""
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list) or len(events) > MAX_EVENTS_PER_REQUEST:
        raise refuse(
            "bad_request",
            f'body must be {{"events": [...]}} with at most {MAX_EVENTS_PER_REQUEST} events',
        )
    clean = []
    for n, event in enumerate(events):
        kind = event.get("kind") if isinstance(event, dict) else None
        if kind not in EVENT_KINDS:
            raise refuse("bad_request", f"events[{n}]: unknown kind {kind!r}")
        detail = event.get("detail")
        clean.append(
            (kind, detail if isinstance(detail, dict) and len(str(detail)) < 500 else None)
        )
    error: DeliveryError | None = None
    kept: list = []
    with write_transaction():
        attempt, _definition, _expired = load_for_update(user_id, device_token)
        at = now()
        if attempt.state in FINISHED:
            error = refuse("attempt_closed")
        else:
            try:
                budgets.check(budgets.EVENT_REQUESTS_PER_ATTEMPT, attempt.id, at)
            except budgets.OverBudget as limited:
                error = too_many(limited.retry_after)
        if error is None:
            budgets.spend(budgets.EVENT_REQUESTS_PER_ATTEMPT, attempt.id, at)
            kept = clean[: max(0, MAX_EVENTS_STORED - attempt.events_stored)]
            for kind, detail in kept:
                db.session.add(AttemptEvent(attempt_id=attempt.id, kind=kind, at=at, detail=detail))
            attempt.events_stored += len(kept)
            presence.mark_seen(attempt, at)
    if error is not None:
        raise error
    return len(kept), len(clean) - len(kept)


def finish_section(user_id: int, device_token: str | None, index: int) -> dict[str, Any]:
    """Close the open section early (timed or not) and open the next one; there is no way
    back (:func:`cbt_server.delivery.lifecycle.finish_section`)."""
    error: DeliveryError | None = None
    with write_transaction():
        attempt, definition, expired = load_for_update(user_id, device_token)
        error = _refusal(attempt, expired, deadline_code="attempt_closed")
        if error is None:
            try:
                lifecycle.finish_section(attempt, definition, index, now())
            except lifecycle.IllegalMove:
                error = refuse("section_closed")
        state = timing(attempt, now())
    if error is not None:
        raise error
    return state

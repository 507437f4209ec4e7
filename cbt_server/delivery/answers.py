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
from typing import Any

from sqlalchemy import select, update

from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery import clockwork, frozen, presence
from cbt_server.delivery.errors import DeliveryError, refuse, too_many
from cbt_server.delivery.lifecycle import FINISHED, AttemptState
from cbt_server.delivery.service import load_current, load_for_update
from cbt_server.delivery.views import timing
from cbt_server.limits import budgets
from cbt_server.models import Attempt, AttemptEvent, Response, db

MAX_SAVES_PER_REQUEST = 200
MAX_SHORT_ANSWER = 500
#: sequence numbers and positions are stored as 32-bit integers (PostgreSQL INTEGER)
MAX_INT = 2**31 - 1
#: integrity events kept per attempt; a page that sends more cannot fill the database
MAX_EVENTS_STORED = 2000
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


@dataclass(frozen=True)
class Ack:
    position: int
    seq: int
    status: str  # saved | duplicate | stale


def parse_position(payload: Any) -> int | None:
    """The optional ``position`` of a save request or a heartbeat (where the page is)."""
    position = payload.get("position") if isinstance(payload, dict) else None
    if position is None:
        return None
    if not _is_int(position) or not 0 <= position <= MAX_INT:
        raise refuse("bad_request", "position must be a non-negative integer")
    return position


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
        position, seq = entry.get("position"), entry.get("seq")
        if not _is_int(position) or not _is_int(seq) or seq < 1:
            raise refuse("bad_request", f"saves[{n}]: position and seq (≥ 1) must be integers")
        if not 0 <= position <= MAX_INT or seq > MAX_INT:
            raise refuse("bad_request", f"saves[{n}]: position or seq is out of range")
        flagged = entry.get("flagged", False)
        if not isinstance(flagged, bool):
            raise refuse("bad_request", f"saves[{n}]: flagged must be true or false")
        saves.append(Save(position, entry.get("answer"), flagged, seq))
    return saves


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
    if not isinstance(answer, list) or not all(_is_int(i) for i in answer):
        raise refuse("bad_request", "an answer is a list of option indexes")
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
    position: int | None = None,
    ip: str | None = None,
) -> tuple[list[Ack], dict[str, Any]]:
    """Store the saves in order, all or nothing, and acknowledge each after the commit.

    ``position`` is where the page is as it sends (saves may be older: queued during an
    outage). Returns the acknowledgements and the attempt's timing as of the commit."""
    error: DeliveryError | None = None
    acks: list[Ack] = []
    with write_transaction():
        attempt, _definition, expired = load_for_update(user_id, device_token)
        error = _refusal(attempt, expired, deadline_code="deadline_passed")
        if error is None:
            try:
                acks = _apply(attempt, saves, position, ip)
            except DeliveryError as refused:
                db.session.rollback()
                raise refused from None
        state = timing(attempt, now())
    if error is not None:
        raise error
    return acks, state


def _refusal(attempt: Attempt, expired: bool, *, deadline_code: str) -> DeliveryError | None:
    if expired:
        return refuse(deadline_code)
    if attempt.state in FINISHED:
        return refuse("attempt_closed")
    if attempt.state == AttemptState.PAUSED:
        return refuse("attempt_paused")
    return None


def _apply(attempt: Attempt, saves: list[Save], position: int | None, ip: str | None) -> list[Ack]:
    layout = frozen.layout(attempt.id, attempt.seed, len(attempt.sections))
    open_sections = {
        s.section_index
        for s in attempt.sections
        if s.started_at is not None and s.closed_at is None
    }
    prepared = []
    for save in saves:  # validate everything before changing anything
        if not save.position < len(layout):
            raise refuse("bad_request", f"position {save.position} is not in this attempt")
        slot = layout.slots[save.position]
        if slot.section_index not in open_sections:
            raise refuse("section_closed")
        prepared.append((save, to_canonical(slot.item_type, slot.option_order, save.answer)))
    at = now()
    acks = []
    for save, answer in prepared:
        result = db.session.execute(
            update(Response)
            .where(
                Response.attempt_id == attempt.id,
                Response.position == save.position,
                Response.client_seq < save.seq,
            )
            .values(answer=answer, flagged=save.flagged, client_seq=save.seq, saved_at=at)
            .execution_options(synchronize_session=False)
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
    if position is not None and position < len(layout) and attempt.current_position != position:
        attempt.current_position = position  # where the page is: a resume opens it
    presence.mark_seen(attempt, at, ip)
    return acks


def touch(
    user_id: int,
    device_token: str | None,
    *,
    position: Any = None,
    heartbeat: bool = False,
    ip: str | None = None,
) -> dict[str, Any]:
    """Position report and heartbeat: keep the attempt's clock and last-seen up to date.

    Read-only unless something is due (a stamp, a new position, the timer rules), so a lab's
    heartbeats do not queue for the write lock."""
    if position is not None and (not _is_int(position) or not 0 <= position <= MAX_INT):
        raise refuse("bad_request", "position out of range")
    attempt, definition = load_current(user_id, device_token)
    at = now()
    if position is not None and position >= len(
        frozen.layout(attempt.id, attempt.seed, len(attempt.sections))
    ):
        raise refuse("bad_request", "position out of range")
    if attempt.state in FINISHED or not (
        clockwork.needs_advance(attempt, at, definition)
        or presence.seen_due(attempt, at, ip)
        or (position is not None and position != attempt.current_position)
    ):
        return timing(attempt, at)
    with write_transaction():
        attempt, _definition, _expired = load_for_update(user_id, device_token)
        at = now()
        if attempt.state not in FINISHED:
            if position is not None and position != attempt.current_position:
                attempt.current_position = position
            presence.mark_seen(attempt, at, ip, heartbeat=heartbeat)
        state = timing(attempt, at)
    return state


def record_events(user_id: int, device_token: str | None, payload: Any) -> tuple[int, int]:
    """Store integrity events (focus lost, reload, copy attempts ...) with the server's time.

    Only while the attempt is open, within the events budget per attempt, and up to
    :data:`MAX_EVENTS_STORED` per attempt (beyond, they are counted as dropped). Returns
    (stored, dropped)."""
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list) or len(events) > 100:
        raise refuse("bad_request", 'body must be {"events": [...]} with at most 100 events')
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
    """Close the open section early and open the next one; there is no way back."""
    error: DeliveryError | None = None
    with write_transaction():
        attempt, definition, expired = load_for_update(user_id, device_token)
        error = _refusal(attempt, expired, deadline_code="attempt_closed")
        if error is None:
            section = clockwork.open_section(attempt)
            if section is None or section.section_index != index:
                error = refuse("section_closed")
            else:
                clockwork.close_section(attempt, index, now(), clockwork.section_limits(definition))
        state = timing(attempt, now())
    if error is not None:
        raise error
    return state

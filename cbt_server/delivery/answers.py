"""Autosave, position, heartbeat, integrity events and section finishing.

A save is acknowledged only after its transaction commits. Saves are idempotent and ordered per
item by the client's sequence number: the stored row changes only when the incoming ``seq`` is
greater than the stored one (one conditional UPDATE, so concurrent requests cannot reorder it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery import clockwork
from cbt_server.delivery.errors import DeliveryError, refuse
from cbt_server.delivery.lifecycle import FINISHED, AttemptState
from cbt_server.delivery.service import load_for_update
from cbt_server.models import Attempt, AttemptEvent, AttemptItem, Item, Response, User, db

MAX_SAVES_PER_REQUEST = 200
MAX_SHORT_ANSWER = 500
#: last_seen is written at most this often (no write per request: SQLite serialises writes)
SEEN_THROTTLE = timedelta(seconds=5)
#: a heartbeat is kept as an attempt event at most this often
HEARTBEAT_EVENT_EVERY = timedelta(seconds=60)
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


def from_canonical(option_order: Sequence[str], stored: Any) -> Any:
    """Stored canonical labels → shown-option indices (for the participant's page)."""
    if stored is None or isinstance(stored, str):
        return stored
    return sorted(option_order.index(label) for label in stored)


def save_answers(
    user: User, device_token: str | None, saves: list[Save]
) -> tuple[list[Ack], Attempt]:
    """Store the saves in order, all or nothing, and acknowledge each after the commit."""
    error: DeliveryError | None = None
    acks: list[Ack] = []
    with write_transaction():
        attempt, _definition, expired = load_for_update(user, device_token)
        error = _refusal(attempt, expired, deadline_code="deadline_passed")
        if error is None:
            try:
                acks = _apply(attempt, saves)
            except DeliveryError as refused:
                db.session.rollback()
                raise refused from None
    if error is not None:
        raise error
    return acks, attempt


def _refusal(attempt: Attempt, expired: bool, *, deadline_code: str) -> DeliveryError | None:
    if expired:
        return refuse(deadline_code)
    if attempt.state in FINISHED:
        return refuse("attempt_closed")
    if attempt.state == AttemptState.PAUSED:
        return refuse("attempt_paused")
    return None


def _apply(attempt: Attempt, saves: list[Save]) -> list[Ack]:
    positions = {s.position for s in saves}
    frozen = {
        position: (section_index, option_order, item_type)
        for position, section_index, option_order, item_type in db.session.execute(
            select(
                AttemptItem.position,
                AttemptItem.section_index,
                AttemptItem.option_order,
                Item.item_type,
            )
            .join(Item, Item.id == AttemptItem.item_id)
            .where(AttemptItem.attempt_id == attempt.id, AttemptItem.position.in_(positions))
        )
    }
    open_sections = {
        s.section_index
        for s in attempt.sections
        if s.started_at is not None and s.closed_at is None
    }
    prepared = []
    for save in saves:  # validate everything before changing anything
        if save.position not in frozen:
            raise refuse("bad_request", f"position {save.position} is not in this attempt")
        section_index, option_order, item_type = frozen[save.position]
        if section_index not in open_sections:
            raise refuse("section_closed")
        prepared.append((save, to_canonical(item_type, option_order, save.answer)))
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
    _seen(attempt, at)
    return acks


def _seen(attempt: Attempt, at, ip: str | None = None) -> None:  # type: ignore[no-untyped-def]
    if attempt.last_seen_at is None or at - attempt.last_seen_at >= SEEN_THROTTLE:
        attempt.last_seen_at = at
    if ip and attempt.last_ip != ip:
        attempt.last_ip = ip


def touch(
    user: User,
    device_token: str | None,
    *,
    position: int | None = None,
    heartbeat: bool = False,
    ip: str | None = None,
) -> Attempt:
    """Position report and heartbeat: keep the attempt's clock and last-seen up to date."""
    with write_transaction():
        attempt, _definition, _expired = load_for_update(user, device_token)
        if attempt.state in FINISHED:
            return attempt
        at = now()
        if position is not None:
            if not _is_int(position) or not 0 <= position < _item_count(attempt):
                raise refuse("bad_request", "position out of range")
            attempt.current_position = position
        _seen(attempt, at, ip)
        if heartbeat and (
            attempt.last_heartbeat_event_at is None
            or at - attempt.last_heartbeat_event_at >= HEARTBEAT_EVENT_EVERY
        ):
            attempt.last_heartbeat_event_at = at
            db.session.add(AttemptEvent(attempt_id=attempt.id, kind="heartbeat", at=at))
    return attempt


def _item_count(attempt: Attempt) -> int:
    from sqlalchemy import func

    return (
        db.session.scalar(
            select(func.count())
            .select_from(AttemptItem)
            .where(AttemptItem.attempt_id == attempt.id)
        )
        or 0
    )


def record_events(user: User, device_token: str | None, payload: Any) -> int:
    """Store integrity events (focus lost, reload, copy attempts ...) with the server's time."""
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
    with write_transaction():
        attempt, _definition, _expired = load_for_update(user, device_token)
        at = now()
        for kind, detail in clean:
            db.session.add(AttemptEvent(attempt_id=attempt.id, kind=kind, at=at, detail=detail))
        _seen(attempt, at)
    return len(clean)


def finish_section(user: User, device_token: str | None, index: int) -> Attempt:
    """Close the open section early and open the next one; there is no way back."""
    error: DeliveryError | None = None
    with write_transaction():
        attempt, definition, expired = load_for_update(user, device_token)
        error = _refusal(attempt, expired, deadline_code="attempt_closed")
        if error is None:
            section = clockwork.open_section(attempt)
            if section is None or section.section_index != index:
                error = refuse("section_closed")
            else:
                clockwork.close_section(attempt, index, now(), clockwork.section_limits(definition))
    if error is not None:
        raise error
    return attempt

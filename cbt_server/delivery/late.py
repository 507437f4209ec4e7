"""Late answers: what a PC still held when the server refused it for good, kept apart.

A page whose saves were refused as too late (the attempt closed while the PC was cut off) does
not delete them: it sends them here, or a proctor uploads the PC's rescue file. They are stored
in ``late_answers``, never graded, until an assessor accepts (the answer then counts, and a
finished attempt is graded again) or rejects each one, with a reason, in the audit log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from cbt_server import audit
from cbt_server.accounts import reach
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery import frozen
from cbt_server.delivery.answers import (
    MAX_INT,
    MAX_SAVES_PER_REQUEST,
    as_int,
    parse_saves,
    to_canonical,
)
from cbt_server.delivery.errors import DeliveryError, refuse
from cbt_server.delivery.grading import grade_attempt
from cbt_server.delivery.lifecycle import AttemptState
from cbt_server.delivery.service import load_for_update
from cbt_server.models import Attempt, Enrolment, ExamSession, LateAnswer, Response, User, db

#: late answers kept per attempt, as a multiple of its items (retries are deduplicated anyway)
PER_ITEM = 5
RESCUE_FORMAT = "cbt-rescue/1"
MAX_RESCUE_BYTES = 2 * 1024 * 1024


class LateAnswerError(ValueError):
    """Refused (nothing stored); the message says what and where, for the proctor or assessor."""


@dataclass(frozen=True)
class LateSave:
    index: int  # in the request, to name the entries that were invalid
    position: int
    answer: Any
    flagged: bool
    seq: int
    age_ms: int | None


def parse_late(payload: Any) -> tuple[list[LateSave], list[int]]:
    """The late saves of a request, and the indexes of entries that are malformed (those are
    answered as invalid rather than refusing the rest: a page cannot repair them, and the
    valid ones must not wait behind them)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("saves"), list):
        raise refuse("bad_request", 'body must be {"saves": [...]}')
    raw = payload["saves"]
    if not raw or len(raw) > MAX_SAVES_PER_REQUEST:
        raise refuse("bad_request", f"send 1 to {MAX_SAVES_PER_REQUEST} saves per request")
    parsed, invalid = [], []
    for n, entry in enumerate(raw):
        try:
            (save,) = parse_saves({"saves": [entry]})
        except DeliveryError:
            invalid.append(n)
            continue
        age = as_int(entry.get("age_ms"))
        if age is not None and not 0 <= age <= MAX_INT:
            age = None  # information only: a bad duration is dropped, not the answer
        parsed.append(LateSave(n, save.position, save.answer, save.flagged, save.seq, age))
    return parsed, invalid


def _store(attempt: Attempt, saves: list[LateSave], source: str) -> tuple[int, int, list[int]]:
    """Validate against the frozen attempt and keep what is new. Inside a write transaction.
    Returns (stored, duplicates, indexes of entries that do not fit the attempt)."""
    layout = frozen.layout(attempt.id, attempt.seed, len(attempt.sections))
    canonical, invalid = [], []
    for save in saves:
        try:
            if not save.position < len(layout):
                raise refuse("bad_request", f"position {save.position} is not in this attempt")
            slot = layout.slots[save.position]
            canonical.append((save, to_canonical(slot.item_type, slot.option_order, save.answer)))
        except DeliveryError:
            invalid.append(save.index)
    known = set(
        db.session.execute(
            select(LateAnswer.position, LateAnswer.client_seq).where(
                LateAnswer.attempt_id == attempt.id
            )
        ).all()
    )
    kept = (
        db.session.scalar(
            select(func.count()).select_from(LateAnswer).where(LateAnswer.attempt_id == attempt.id)
        )
        or 0
    )
    room = PER_ITEM * len(layout) - kept
    at = now()
    stored = duplicates = 0
    for save, answer in canonical:
        if (save.position, save.seq) in known:
            duplicates += 1
            continue
        if stored >= room:
            raise refuse("late_answers_full", "this attempt holds as many late answers as it may")
        known.add((save.position, save.seq))
        db.session.add(
            LateAnswer(
                attempt_id=attempt.id,
                position=save.position,
                answer=answer,
                flagged=save.flagged,
                client_seq=save.seq,
                age_ms=save.age_ms,
                received_at=at,
                source=source,
            )
        )
        stored += 1
    return stored, duplicates, invalid


def store_from_page(
    user_id: int, device_token: str | None, payload: Any
) -> tuple[int, int, list[int]]:
    """The exam page hands over saves the server refused for good. Whatever the attempt's
    state; idempotent per (position, seq). Returns (stored, duplicates, invalid indexes)."""
    saves, malformed = parse_late(payload)
    error: DeliveryError | None = None
    with write_transaction():
        attempt, _definition, _expired = load_for_update(user_id, device_token)
        try:
            stored, duplicates, unfit = _store(attempt, saves, "page")
        except DeliveryError as refused:
            error = refused
            db.session.rollback()
    if error is not None:
        raise error
    return stored, duplicates, sorted(malformed + unfit)


def store_rescue_file(actor: User, session: ExamSession, data: bytes, filename: str) -> int:
    """A proctor uploads the rescue file a PC saved. Returns how many answers were new."""
    if len(data) > MAX_RESCUE_BYTES:
        raise LateAnswerError(f"{filename}: berkas lebih dari 2 MB; ini bukan berkas penyelamatan.")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise LateAnswerError(
            f"{filename}: bukan berkas penyelamatan (JSON tidak terbaca: {problem})."
        ) from None
    if not isinstance(document, dict) or document.get("format") != RESCUE_FORMAT:
        raise LateAnswerError(f'{filename}: format harus "{RESCUE_FORMAT}".')
    attempt_id = document.get("attempt_id")
    if not isinstance(attempt_id, int) or isinstance(attempt_id, bool):
        raise LateAnswerError(f"{filename}: attempt_id tidak ada atau bukan bilangan.")
    try:
        saves, malformed = parse_late(document)
    except DeliveryError as refused:
        raise LateAnswerError(f"{filename}: {refused.detail or refused.code}") from None
    if malformed:
        raise LateAnswerError(
            f"{filename}: saves[{malformed[0]}] tidak valid; tidak ada yang disimpan."
        )
    with write_transaction():
        attempt = db.session.scalar(
            select(Attempt).where(Attempt.id == attempt_id).with_for_update()
        )
        if attempt is None or attempt.session_id != session.id:
            raise LateAnswerError(
                f"{filename}: ujian {attempt_id} bukan bagian dari sesi {session.code}."
            )
        try:
            stored, duplicates, unfit = _store(attempt, saves, "rescue_file")
        except DeliveryError as refused:
            raise LateAnswerError(f"{filename}: {refused.detail or refused.code}") from None
        if unfit:
            raise LateAnswerError(
                f"{filename}: saves[{unfit[0]}] tidak cocok dengan soal ujian ini; "
                "tidak ada yang disimpan."
            )
        audit.record(
            "attempt.rescue_file",
            actor=actor,
            target=session.code,
            details={
                "attempt_id": attempt.id,
                "file": filename[:200],
                "answers": len(saves),
                "stored": stored,
                "duplicates": duplicates,
            },
        )
    return stored


@dataclass(frozen=True)
class LateLine:
    id: int
    participant: str
    name: str
    attempt_id: int
    attempt_state: str
    position: int
    answer: Any
    flagged: bool
    seq: int
    stored_seq: int
    age_ms: int | None
    received_at: Any
    source: str
    decision: str | None
    decision_reason: str | None


def session_lines(session: ExamSession) -> list[LateLine]:
    rows = db.session.execute(
        select(LateAnswer, Attempt.state, Enrolment.participant_number, User.full_name, User.nip)
        .join(Attempt, Attempt.id == LateAnswer.attempt_id)
        .join(Enrolment, Enrolment.id == Attempt.enrolment_id)
        .join(User, User.id == Attempt.user_id)
        .where(Attempt.session_id == session.id, reach.current().rows(Attempt.session_id, User.id))
        .order_by(Enrolment.participant_number, LateAnswer.position, LateAnswer.client_seq)
    ).all()
    stored = {
        (attempt_id, position): seq
        for attempt_id, position, seq in db.session.execute(
            select(Response.attempt_id, Response.position, Response.client_seq).where(
                Response.attempt_id.in_({row[0].attempt_id for row in rows})
            )
        )
    }
    return [
        LateLine(
            late.id,
            number or nip or "",
            name,
            late.attempt_id,
            state,
            late.position,
            late.answer,
            late.flagged,
            late.client_seq,
            int(stored.get((late.attempt_id, late.position), 0) or 0),
            late.age_ms,
            late.received_at,
            late.source,
            late.decision,
            late.decision_reason,
        )
        for late, state, number, name, nip in rows
    ]


def decide(actor: User, session: ExamSession, late_id: int, accept: bool, reason: str) -> bool:
    """An assessor's decision on one late answer. Accepting puts it in the attempt when it is
    newer than the stored answer (by the PC's sequence number), then grades a finished attempt
    again. Returns whether the stored answer changed."""
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise LateAnswerError("Tuliskan alasan keputusan.")
    with write_transaction():
        late = db.session.scalar(
            select(LateAnswer).where(LateAnswer.id == late_id).with_for_update()
        )
        attempt = db.session.get(Attempt, late.attempt_id) if late is not None else None
        if (
            late is None
            or attempt is None
            or attempt.session_id != session.id
            or not reach.current().sees(attempt.session_id, attempt.user_id)
        ):
            raise LateAnswerError("Jawaban terlambat itu tidak ada di sesi ini.")
        if late.decision is not None:
            raise LateAnswerError("Jawaban ini sudah diputuskan.")
        late.decision = "accepted" if accept else "rejected"
        late.decided_by, late.decided_at, late.decision_reason = actor.id, now(), reason[:1000]
        changed = False
        before = attempt.total_score
        if accept:
            response = db.session.get(Response, (attempt.id, late.position))
            if response is not None and late.client_seq > response.client_seq:
                response.answer, response.flagged = late.answer, late.flagged
                response.client_seq, response.saved_at = late.client_seq, now()
                changed = True
            if changed and attempt.state in (AttemptState.SUBMITTED, AttemptState.EXPIRED):
                db.session.flush()
                grade_attempt(
                    attempt, frozen.definition(attempt.battery_version_id), reason="late_answer"
                )
        audit.record(
            "late_answer.accept" if accept else "late_answer.reject",
            actor=actor,
            target=session.code,
            reason=reason[:1000],
            details={
                "late_answer": late.id,
                "attempt_id": attempt.id,
                "position": late.position,
                "changed": changed,
                "total_before": before,
                "total_after": attempt.total_score,
            },
        )
    return changed

"""Preparing sessions: create, roster import, exam-card credentials. Every change is audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from cbt_server import audit
from cbt_server.accounts.service import create_user
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import (
    Attempt,
    BatteryVersion,
    Enrolment,
    ExamSession,
    Position,
    SessionProctor,
    User,
    db,
)
from cbt_server.sessions.roster import RosterProblem, RosterRow, parse_roster
from cbt_server.sessions.tokens import TOKEN_ALPHABET, new_token
from cbt_server.tabular import TableError, read_table

PASSWORD_LENGTH = 8


class SessionError(ValueError):
    """A session request that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class Credential:
    participant_number: str
    password: str
    full_name: str
    nip: str | None
    seat: str | None
    position: str | None
    unit: str | None


@dataclass(frozen=True)
class CardRun:
    """The cards made by one run, and who was left out (they keep the card they have)."""

    cards: list[Credential]
    #: "participant number — name" of those skipped by "print all"
    skipped: list[str]


def may_create_sessions(user: User) -> bool:
    return user.role == "admin" or (user.role == "proctor" and user.can_create_sessions)


def create_session(
    actor: User,
    *,
    code: str,
    name: str,
    battery_version_id: int,
    room: str,
    starts_at: datetime,
    ends_at: datetime,
    proctor_ids: list[int],
    token_rotate_minutes: int = 15,
) -> ExamSession:
    code = code.strip().upper()
    if not may_create_sessions(actor):
        raise SessionError("Anda tidak berwenang membuat sesi.")
    if ends_at <= starts_at:
        raise SessionError("Waktu selesai harus setelah waktu mulai.")
    if not 0 <= token_rotate_minutes <= 240:
        raise SessionError("Rotasi token 0–240 menit.")
    with write_transaction():
        if db.session.scalar(select(ExamSession.id).where(ExamSession.code == code)):
            raise SessionError(f"Kode sesi {code} sudah dipakai.")
        if db.session.get(BatteryVersion, battery_version_id) is None:
            raise SessionError("Baterai tes tidak ditemukan.")
        proctors = db.session.scalars(
            select(User).where(User.id.in_(proctor_ids), User.role == "proctor")
        ).all()
        if len(proctors) != len(set(proctor_ids)):
            raise SessionError("Pengawas yang dipilih tidak valid.")
        if actor.role == "proctor" and actor.id not in proctor_ids:
            proctors = [*proctors, actor]
        session = ExamSession(
            code=code,
            name=name.strip(),
            battery_version_id=battery_version_id,
            room=room.strip(),
            starts_at=starts_at,
            ends_at=ends_at,
            token=new_token(),
            token_rotated_at=now(),
            token_rotate_minutes=token_rotate_minutes,
            status="scheduled",
            created_at=now(),
            created_by=actor.id,
        )
        db.session.add(session)
        db.session.flush()
        for proctor in proctors:
            db.session.add(SessionProctor(session_id=session.id, user_id=proctor.id))
        audit.record(
            "session.create",
            actor=actor,
            target=code,
            details={
                "battery_version_id": battery_version_id,
                "room": room,
                "proctors": sorted(p.username for p in proctors),
            },
        )
    return session


def import_roster(
    actor: User, session: ExamSession, filename: str, data: bytes
) -> tuple[int, list[RosterProblem], list[RosterProblem]]:
    """Add the file's participants to the roster, or nothing when any row is bad.

    Returns (added, problems, notices). A NIP that is already a person keeps that person's name,
    position and unit (identity belongs to the person and is changed only by an admin,
    :func:`cbt_server.accounts.service.change_identity`): where the file says otherwise, the row
    is enrolled and a notice names the difference.
    """
    try:
        table = read_table(filename, data)
    except TableError as error:
        return 0, [error.problem()], []
    positions = dict(db.session.execute(select(Position.code, Position.name)).all())
    existing = db.session.scalars(
        select(User.nip)
        .join(Enrolment, Enrolment.user_id == User.id)
        .where(Enrolment.session_id == session.id, User.nip.is_not(None))
    ).all()
    rows, problems = parse_roster(table, positions, existing)
    if not problems:
        problems = _staff_nips(rows)
    if problems:
        return 0, problems, []
    notices: list[RosterProblem] = []
    differing: list[str] = []
    with write_transaction():
        number = _next_number(session)
        for row in rows:
            user = db.session.scalar(select(User).where(User.nip == row.nip))
            if user is None:
                user = create_user(
                    f"p{row.nip}",
                    secrets.token_urlsafe(16),
                    "participant",
                    row.name,
                    nip=row.nip,
                    position_code=row.position_code,
                    unit=row.unit,
                )
            elif user.role != "participant":
                raise SessionError(f"baris {row.row}: NIP {row.nip} milik akun non-peserta")
            else:
                differs = _identity_differs(row, user, positions)
                notices.extend(differs)
                if differs:
                    differing.append(row.nip)
            db.session.flush()
            db.session.add(
                Enrolment(
                    session_id=session.id,
                    user_id=user.id,
                    seat=row.seat,
                    participant_number=f"{session.code}-{number:03d}",
                )
            )
            number += 1
        audit.record(
            "session.roster_import",
            actor=actor,
            target=session.code,
            details={
                "file": filename,
                "rows": len(rows),
                "identity_differs": differing,
            },
        )
    return len(rows), [], notices


def _identity_differs(row: RosterRow, user: User, positions: dict[str, str]) -> list[RosterProblem]:
    """Notices for a roster row whose name, position or unit differ from the person's record."""
    checks = (
        ("Nama", row.name, user.full_name),
        ("Jabatan", positions.get(row.position_code, row.position_code), None),
        ("Unit", row.unit, user.unit or "—"),
    )
    differs = (
        row.name != user.full_name,
        row.position_code != user.position_code,
        row.unit != (user.unit or ""),
    )
    recorded_position = positions.get(user.position_code or "", user.position_code or "—")
    return [
        RosterProblem(
            row.row,
            column,
            f"NIP {row.nip}: di berkas “{given}”, tercatat “{recorded or recorded_position}” "
            "(tetap; perubahan identitas hanya oleh admin)",
        )
        for (column, given, recorded), differ in zip(checks, differs, strict=True)
        if differ
    ]


def _staff_nips(rows: list[RosterRow]) -> list[RosterProblem]:
    """A NIP that already belongs to a proctor, assessor or admin cannot become a participant."""
    staff = set(
        db.session.scalars(
            select(User.nip).where(
                User.nip.in_([row.nip for row in rows]), User.role != "participant"
            )
        )
    )
    return [
        RosterProblem(row.row, "NIP", f"NIP {row.nip} milik akun yang bukan peserta")
        for row in rows
        if row.nip in staff
    ]


def _next_number(session: ExamSession) -> int:
    count = db.session.scalar(
        select(func.count()).select_from(Enrolment).where(Enrolment.session_id == session.id)
    )
    return int(count or 0) + 1


def new_password() -> str:
    # Typed from a printed card: unambiguous characters only.
    return "".join(
        secrets.choice(TOKEN_ALPHABET.lower() + "23456789") for _ in range(PASSWORD_LENGTH)
    )


def generate_credentials(
    actor: User,
    session: ExamSession,
    enrolment_ids: list[int] | None = None,
    reason: str = "",
    *,
    renew: bool = False,
) -> CardRun:
    """Make exam cards: a new password for each chosen enrolment of this session, returned once
    for printing (only the hash is stored, on the enrolment: no other session's card changes).

    ``enrolment_ids`` None ("print all") makes cards only for those who have none yet and have
    not started; the others keep their card and are listed as skipped. Named enrolments (a lost
    card) get a new card whatever their state, and need a reason: the old card stops working.
    ``renew`` (with a reason, e.g. after a new secret key) renews every card of those who have
    not started.
    """
    reason = reason.strip()
    if (enrolment_ids is not None or renew) and len(reason) < 3:
        raise SessionError("Tuliskan alasan mencetak ulang kartu (mis. kartu hilang).")
    cards: list[Credential] = []
    skipped: list[str] = []
    with write_transaction():
        query = (
            select(Enrolment, User, Position.name, Attempt.id)
            .join(User, User.id == Enrolment.user_id)
            .outerjoin(Position, Position.code == User.position_code)
            .outerjoin(Attempt, Attempt.enrolment_id == Enrolment.id)
            .where(Enrolment.session_id == session.id)
            .order_by(Enrolment.participant_number, Enrolment.id)
        )
        if enrolment_ids is not None:
            query = query.where(Enrolment.id.in_(enrolment_ids))
        rows = db.session.execute(query).all()
        if enrolment_ids is not None and len(rows) != len(set(enrolment_ids)):
            raise SessionError("Peserta tidak ada di sesi ini.")
        at = now()
        issued: list[int] = []
        for enrolment, user, position, attempt_id in rows:
            if enrolment_ids is None and (
                attempt_id is not None or (enrolment.card_issued_at is not None and not renew)
            ):
                skipped.append(f"{enrolment.participant_number or '—'} — {user.full_name}")
                continue
            if enrolment.participant_number is None:
                enrolment.participant_number = f"{session.code}-{enrolment.id:03d}"
            password = new_password()
            issued.append(enrolment.id)
            enrolment.set_password(password)
            enrolment.card_issued_at = at
            cards.append(
                Credential(
                    enrolment.participant_number,
                    password,
                    user.full_name,
                    user.nip,
                    enrolment.seat,
                    position,
                    user.unit,
                )
            )
        audit.record(
            "session.credentials",
            actor=actor,
            target=session.code,
            reason=reason or None,
            details={
                "count": len(cards),
                "scope": "some" if enrolment_ids else "renew" if renew else "all",
                "participants": [c.participant_number for c in cards],
                # whose cards, by enrolment too: a participant number can be reissued
                "enrolment_ids": issued,
                "skipped": len(skipped),
            },
        )
    return CardRun(cards, skipped)


@dataclass(frozen=True)
class CardLine:
    """One enrolment as the session page lists it for cards."""

    enrolment_id: int
    participant_number: str | None
    name: str
    has_card: bool


def card_lines(session: ExamSession) -> list[CardLine]:
    """The roster with who has a card, for the session page's "reprint one card" form."""
    rows = db.session.execute(
        select(Enrolment.id, Enrolment.participant_number, User.full_name, Enrolment.card_issued_at)
        .join(User, User.id == Enrolment.user_id)
        .where(Enrolment.session_id == session.id)
        .order_by(Enrolment.participant_number, Enrolment.id)
    ).all()
    return [CardLine(i, number, name, issued is not None) for i, number, name, issued in rows]

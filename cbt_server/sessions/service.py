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
) -> tuple[int, list[RosterProblem]]:
    """Add the file's participants to the roster, or nothing when any row is bad."""
    try:
        table = read_table(filename, data)
    except TableError as error:
        return 0, [error.problem()]
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
        return 0, problems
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
                user.full_name, user.position_code, user.unit = (
                    row.name,
                    row.position_code,
                    row.unit,
                )
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
            details={"file": filename, "rows": len(rows)},
        )
    return len(rows), []


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
    actor: User, session: ExamSession, enrolment_ids: list[int] | None = None, reason: str = ""
) -> list[Credential]:
    """Set new passwords for the roster (or some of it) and return them for the exam cards.

    Passwords are stored hashed only, so cards can be printed once per generation; printing
    again makes new passwords (and the old ones stop working).
    """
    cards: list[Credential] = []
    with write_transaction():
        query = (
            select(Enrolment, User, Position.name)
            .join(User, User.id == Enrolment.user_id)
            .outerjoin(Position, Position.code == User.position_code)
            .where(Enrolment.session_id == session.id)
            .order_by(Enrolment.participant_number, Enrolment.id)
        )
        if enrolment_ids is not None:
            query = query.where(Enrolment.id.in_(enrolment_ids))
        for enrolment, user, position in db.session.execute(query).all():
            if enrolment.participant_number is None:
                enrolment.participant_number = f"{session.code}-{enrolment.id:03d}"
            password = new_password()
            user.set_password(password)
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
            details={"count": len(cards), "scope": "all" if enrolment_ids is None else "some"},
        )
    return cards

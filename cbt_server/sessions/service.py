"""Preparing sessions: create, edit, delete, copy and schedule them, roster import and moves,
exam-card credentials. Every change is audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from cbt_server import audit
from cbt_server.accounts import login_sessions
from cbt_server.accounts.service import create_user
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery.service import SESSION_CLOSED
from cbt_server.localtime import window_from_local
from cbt_server.models import (
    Attempt,
    BatteryVersion,
    Enrolment,
    ExamSession,
    Position,
    SessionNote,
    SessionProctor,
    User,
    db,
)
from cbt_server.proctoring.access import may_act_on
from cbt_server.sessions import lab
from cbt_server.sessions.roster import RosterProblem, RosterRow, parse_roster
from cbt_server.sessions.schedule import parse_schedule
from cbt_server.sessions.tokens import TOKEN_ALPHABET, new_token
from cbt_server.tabular import TableError, read_table

PASSWORD_LENGTH = 8
#: the longest window a session may have (a night session, 20:00–06:00, is 10 hours)
MAX_SESSION_LENGTH = timedelta(hours=24)


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


@dataclass(frozen=True)
class SessionPlan:
    """A new session as a form, a copied session or a schedule's line gives it."""

    code: str
    name: str
    battery_version_id: int
    room: str
    starts_at: datetime
    ends_at: datetime
    proctor_ids: tuple[int, ...] = ()
    token_rotate_minutes: int = 15


def create_session(actor: User, plan: SessionPlan) -> ExamSession:
    _need_create_right(actor)
    with write_transaction():
        session, proctors = _add_session(actor, plan)
        _audit_created(actor, session, proctors)
    return session


def _need_create_right(actor: User) -> None:
    if not may_create_sessions(actor):
        raise SessionError("Anda tidak berwenang membuat sesi.")


def check_window(starts_at: datetime, ends_at: datetime) -> None:
    """A window ends after it starts and lasts at most :data:`MAX_SESSION_LENGTH` (it may cross
    midnight: a night session is one window, not two days)."""
    if ends_at <= starts_at:
        raise SessionError("Waktu selesai harus setelah waktu mulai.")
    if ends_at - starts_at > MAX_SESSION_LENGTH:
        hours = int(MAX_SESSION_LENGTH.total_seconds() // 3600)
        raise SessionError(
            f"Sesi paling lama {hours} jam; bagi menjadi beberapa sesi bila perlu lebih lama."
        )


def _check_rotation(minutes: int) -> None:
    if not 0 <= minutes <= 240:
        raise SessionError("Rotasi token 0–240 menit.")


def _chosen_proctors(
    actor: User, proctor_ids: list[int], already: frozenset[int] = frozenset()
) -> list[User]:
    """The proctors picked on a form: active proctor accounts (one already on the session may
    stay after it was deactivated); a proctor who acts is always on their own session."""
    wanted = set(proctor_ids)
    proctors = list(
        db.session.scalars(select(User).where(User.id.in_(wanted), User.role == "proctor"))
    )
    if len(proctors) != len(wanted) or any(not p.active and p.id not in already for p in proctors):
        raise SessionError("Pengawas yang dipilih tidak valid.")
    if actor.role == "proctor" and actor.id not in wanted:
        proctors.append(actor)
    return proctors


def _code_taken(code: str) -> bool:
    return db.session.scalar(select(ExamSession.id).where(ExamSession.code == code)) is not None


def _add_session(actor: User, plan: SessionPlan) -> tuple[ExamSession, list[User]]:
    """A new session with its proctors, inside the caller's write transaction (not audited)."""
    code = plan.code.strip().upper()
    check_window(plan.starts_at, plan.ends_at)
    _check_rotation(plan.token_rotate_minutes)
    if _code_taken(code):
        raise SessionError(f"Kode sesi {code} sudah dipakai.")
    if db.session.get(BatteryVersion, plan.battery_version_id) is None:
        raise SessionError("Baterai tes tidak ditemukan.")
    proctors = _chosen_proctors(actor, list(plan.proctor_ids))
    session = ExamSession(
        code=code,
        name=plan.name.strip(),
        battery_version_id=plan.battery_version_id,
        room=plan.room.strip(),
        starts_at=plan.starts_at,
        ends_at=plan.ends_at,
        token=new_token(),
        token_rotated_at=now(),
        token_rotate_minutes=plan.token_rotate_minutes,
        status="scheduled",
        created_at=now(),
        created_by=actor.id,
    )
    db.session.add(session)
    db.session.flush()
    for proctor in proctors:
        db.session.add(SessionProctor(session_id=session.id, user_id=proctor.id))
    return session, proctors


def _audit_created(
    actor: User, session: ExamSession, proctors: list[User], **details: object
) -> None:
    audit.record(
        "session.create",
        actor=actor,
        target=session.code,
        details={
            "battery_version_id": session.battery_version_id,
            "room": session.room,
            "starts_at": session.starts_at.isoformat(),
            "ends_at": session.ends_at.isoformat(),
            "proctors": sorted(p.username for p in proctors),
            **details,
        },
    )


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
    """The next free participant number's sequence in this session: past the highest in use,
    so a participant moved or removed never lets a number be given twice."""
    numbers = db.session.scalars(
        select(Enrolment.participant_number).where(Enrolment.session_id == session.id)
    ).all()
    prefix = f"{session.code}-"
    used = [
        int(n[len(prefix) :])
        for n in numbers
        if n and n.startswith(prefix) and n[len(prefix) :].isdigit()
    ]
    return max([len(numbers), *used]) + 1


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
    #: started in this session (then never moved or removed)
    has_attempt: bool = False


def card_lines(session: ExamSession) -> list[CardLine]:
    """The roster with who has a card and who has started, for the session page's "reprint one
    card" and "move / remove a participant" forms."""
    rows = db.session.execute(
        select(
            Enrolment.id,
            Enrolment.participant_number,
            User.full_name,
            Enrolment.card_issued_at,
            Attempt.id,
        )
        .join(User, User.id == Enrolment.user_id)
        .outerjoin(Attempt, Attempt.enrolment_id == Enrolment.id)
        .where(Enrolment.session_id == session.id)
        .order_by(Enrolment.participant_number, Enrolment.id)
    ).all()
    return [
        CardLine(i, number, name, issued is not None, attempt is not None)
        for i, number, name, issued, attempt in rows
    ]


# ---- changing the plan: edit, delete, copy, schedule, move and remove participants ----------


def may_edit_sessions(user: User, session: ExamSession) -> bool:
    """Edit, delete or copy this session: who may create sessions, on a session they are on."""
    return may_create_sessions(user) and may_act_on(user, session.id)


def started(session: ExamSession, at: datetime | None = None) -> bool:
    return (at or now()) >= session.starts_at


#: what an edit may change once the session has started (with a reason)
CHANGEABLE_AFTER_START = frozenset({"ends_at", "proctors"})
FIELD_NAMES = {
    "name": "nama",
    "room": "ruang",
    "starts_at": "waktu mulai",
    "ends_at": "waktu selesai",
    "token_rotate_minutes": "rotasi token",
    "proctors": "pengawas",
}


def _need_reason(reason: str | None, what: str) -> str:
    written = audit.written_reason(reason)
    if written is None:
        raise SessionError(f"Tuliskan alasan {what}.")
    return written


def assigned_proctors(session: ExamSession) -> set[int]:
    return set(
        db.session.scalars(
            select(SessionProctor.user_id).where(SessionProctor.session_id == session.id)
        )
    )


def _audited_value(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def edit_session(
    actor: User,
    session: ExamSession,
    *,
    name: str,
    room: str,
    starts_at: datetime,
    ends_at: datetime,
    proctor_ids: list[int],
    token_rotate_minutes: int,
    reason: str = "",
) -> list[str]:
    """Change the session's plan; returns the names of what changed (none: nothing written).

    Until the session starts everything here may change. From its start only the end and the
    proctors may, with a reason in the audit row: the participants already hold its room, day
    and token."""
    if not may_edit_sessions(actor, session):
        raise SessionError("Anda tidak berwenang mengubah sesi ini.")
    check_window(starts_at, ends_at)
    _check_rotation(token_rotate_minutes)
    with write_transaction():
        row = db.session.scalar(
            select(ExamSession).where(ExamSession.id == session.id).with_for_update()
        )
        if row is None:
            raise SessionError("Sesi tidak ditemukan.")
        before_proctors = assigned_proctors(row)
        proctors = _chosen_proctors(actor, proctor_ids, frozenset(before_proctors))
        wanted = {
            "name": name.strip(),
            "room": room.strip(),
            "starts_at": starts_at,
            "ends_at": ends_at,
            "token_rotate_minutes": token_rotate_minutes,
        }
        changes = {
            field: [_audited_value(getattr(row, field)), _audited_value(value)]
            for field, value in wanted.items()
            if getattr(row, field) != value
        }
        if {p.id for p in proctors} != before_proctors:
            names = dict(
                db.session.execute(
                    select(User.id, User.username).where(
                        User.id.in_(before_proctors | {p.id for p in proctors})
                    )
                ).all()
            )
            changes["proctors"] = [
                sorted(names[i] for i in before_proctors),
                sorted(p.username for p in proctors),
            ]
        if not changes:
            return []
        after_start = started(row)
        if after_start:
            fixed = [FIELD_NAMES[f] for f in changes if f not in CHANGEABLE_AFTER_START]
            if fixed:
                raise SessionError(
                    "Sesi sudah dimulai: hanya waktu selesai dan pengawas yang dapat diubah "
                    f"(tidak dapat diubah: {', '.join(fixed)})."
                )
            reason = _need_reason(reason, "perubahan sesi yang sudah dimulai")
        for field, value in wanted.items():
            setattr(row, field, value)
        if "proctors" in changes:
            db.session.execute(delete(SessionProctor).where(SessionProctor.session_id == row.id))
            for proctor in proctors:
                db.session.add(SessionProctor(session_id=row.id, user_id=proctor.id))
        audit.record(
            "session.edit",
            actor=actor,
            target=row.code,
            reason=reason.strip() or None,
            details={"changes": changes, "after_start": after_start},
        )
    if "room" in changes:
        lab.forget()  # a seat-bound session's PCs are those of its room
    return list(changes)


def delete_session(actor: User, session: ExamSession, confirm_code: str, reason: str = "") -> None:
    """Delete a session nobody has started, with its roster and proctors; the audit row keeps
    what was removed. ``confirm_code`` is the session's code typed again; once its window has
    opened a reason is needed too."""
    if not may_edit_sessions(actor, session):
        raise SessionError("Anda tidak berwenang menghapus sesi ini.")
    if confirm_code.strip().upper() != session.code:
        raise SessionError(f"Ketik kode sesi {session.code} untuk menghapusnya.")
    with write_transaction():
        row = db.session.scalar(
            select(ExamSession).where(ExamSession.id == session.id).with_for_update()
        )
        if row is None:
            raise SessionError("Sesi tidak ditemukan.")
        code = row.code
        attempts = db.session.scalar(
            select(func.count()).select_from(Attempt).where(Attempt.session_id == row.id)
        )
        if attempts:
            raise SessionError(
                f"Sesi {code} tidak dapat dihapus: {attempts} peserta sudah mulai mengerjakan."
            )
        if started(row):
            reason = _need_reason(reason, "menghapus sesi yang sudah dimulai")
        roster = db.session.execute(
            select(Enrolment.participant_number, User.nip, User.full_name)
            .join(User, User.id == Enrolment.user_id)
            .where(Enrolment.session_id == row.id)
            .order_by(Enrolment.participant_number, Enrolment.id)
        ).all()
        proctors = db.session.scalars(
            select(User.username)
            .join(SessionProctor, SessionProctor.user_id == User.id)
            .where(SessionProctor.session_id == row.id)
            .order_by(User.username)
        ).all()
        details = {
            "name": row.name,
            "battery_version_id": row.battery_version_id,
            "room": row.room,
            "starts_at": row.starts_at.isoformat(),
            "ends_at": row.ends_at.isoformat(),
            "proctors": list(proctors),
            "enrolments": [
                {"participant_number": number, "nip": nip, "name": name}
                for number, nip, name in roster
            ],
        }
        # Rows that point at the session or its roster go first; logins of its cards end
        # with their enrolments (ON DELETE CASCADE).
        db.session.execute(delete(SessionNote).where(SessionNote.session_id == row.id))
        db.session.execute(delete(Enrolment).where(Enrolment.session_id == row.id))
        db.session.execute(delete(SessionProctor).where(SessionProctor.session_id == row.id))
        db.session.execute(delete(ExamSession).where(ExamSession.id == row.id))
        db.session.expunge(row)
        audit.record(
            "session.delete",
            actor=actor,
            target=code,
            reason=reason.strip() or None,
            details=details,
        )
    lab.forget()


def suggest_code(code: str) -> str:
    """A free code for a copy: the number at the end counted up (``TKD-01`` → ``TKD-02``), else
    ``-2``, ``-3``… appended."""
    head, digits = code, ""
    while head and head[-1].isdigit():
        head, digits = head[:-1], head[-1] + digits
    number, width = (int(digits), len(digits)) if digits else (1, 0)
    if not digits:
        head = f"{code}-"
    while True:
        number += 1
        candidate = f"{head}{number:0{width}d}"[:32]
        if not _code_taken(candidate):
            return candidate


def copy_session(
    actor: User,
    source: ExamSession,
    *,
    code: str,
    starts_at: datetime,
    ends_at: datetime,
    with_roster: bool = True,
) -> ExamSession:
    """The same battery, room, proctors, lab boundary and (``with_roster``) roster on another
    day, under a new code. The roster is enrolled anew without cards: the new session's cards
    are printed on its page, and a card of the source session never opens the copy."""
    if not may_edit_sessions(actor, source):
        raise SessionError("Anda tidak berwenang menyalin sesi ini.")
    with write_transaction():
        active = db.session.scalars(
            select(User.id)
            .join(SessionProctor, SessionProctor.user_id == User.id)
            .where(SessionProctor.session_id == source.id, User.active)
        ).all()
        plan = SessionPlan(
            code,
            source.name,
            source.battery_version_id,
            source.room,
            starts_at,
            ends_at,
            tuple(active),
            source.token_rotate_minutes,
        )
        session, proctors = _add_session(actor, plan)
        for setting in ("allowed_networks", "bind_seats", "seb_required", "seb_keys"):
            setattr(session, setting, getattr(source, setting))
        enrolled = 0
        if with_roster:
            people = db.session.execute(
                select(Enrolment.user_id, Enrolment.seat)
                .where(Enrolment.session_id == source.id)
                .order_by(Enrolment.participant_number, Enrolment.id)
            ).all()
            for number, (user_id, seat) in enumerate(people, start=1):
                db.session.add(
                    Enrolment(
                        session_id=session.id,
                        user_id=user_id,
                        seat=seat,
                        participant_number=f"{session.code}-{number:03d}",
                    )
                )
            enrolled = len(people)
        _audit_created(actor, session, proctors, copied_from=source.code, enrolments=enrolled)
    lab.forget()
    return session


def schedule_sessions(
    actor: User,
    *,
    name: str,
    battery_version_id: int,
    room: str,
    proctor_ids: list[int],
    token_rotate_minutes: int,
    text: str,
) -> tuple[list[ExamSession], list[RosterProblem]]:
    """Several sessions of one battery, room and proctors, one a line of ``text`` (see
    :mod:`cbt_server.sessions.schedule`): all of them, or none and every problem by line."""
    _need_create_right(actor)
    lines, problems = parse_schedule(text)
    taken = set(
        db.session.scalars(
            select(ExamSession.code).where(ExamSession.code.in_([line.code for line in lines]))
        )
    )
    problems += [
        RosterProblem(line.line, "Kode", f"kode sesi {line.code} sudah dipakai")
        for line in lines
        if line.code in taken
    ]
    if problems:
        return [], sorted(problems, key=lambda p: (p.row or 0, FIELD_ORDER.get(p.column, 0)))
    created = []
    with write_transaction():
        for line in lines:
            window = window_from_local(line.day, line.starts, line.ends)
            plan = SessionPlan(
                line.code,
                name,
                battery_version_id,
                room,
                *window,
                tuple(proctor_ids),
                token_rotate_minutes,
            )
            session, proctors = _add_session(actor, plan)
            _audit_created(actor, session, proctors, scheduled_line=line.line)
            created.append(session)
    return created, []


#: problems of one line in the order of its fields
FIELD_ORDER = {None: 0, "Kode": 1, "Tanggal": 2, "Mulai": 3, "Selesai": 4}


def _absent_enrolment(session: ExamSession, enrolment_id: int) -> tuple[Enrolment, User]:
    """An enrolment of this session whose participant has no attempt in it, locked."""
    found = db.session.execute(
        select(Enrolment, User)
        .join(User, User.id == Enrolment.user_id)
        .where(Enrolment.id == enrolment_id, Enrolment.session_id == session.id)
        .with_for_update()
    ).first()
    if found is None:
        raise SessionError("Peserta tidak ada di sesi ini.")
    enrolment, user = found
    attempt = db.session.scalar(select(Attempt.id).where(Attempt.enrolment_id == enrolment.id))
    if attempt is not None:
        raise SessionError(
            f"{user.full_name} sudah mulai mengerjakan di sesi {session.code}: "
            "tidak dapat dipindah atau dihapus."
        )
    return enrolment, user


def move_targets(actor: User, session: ExamSession) -> list[ExamSession]:
    """The sessions a participant of ``session`` may move to: not ended, not closed, a battery
    of the same kind, and the actor's to act on."""
    kind = select(BatteryVersion.kind).where(BatteryVersion.id == session.battery_version_id)
    candidates = db.session.scalars(
        select(ExamSession)
        .join(BatteryVersion, BatteryVersion.id == ExamSession.battery_version_id)
        .where(
            ExamSession.id != session.id,
            ExamSession.ends_at > now(),
            ExamSession.status != SESSION_CLOSED,
            BatteryVersion.kind == kind.scalar_subquery(),
        )
        .order_by(ExamSession.starts_at, ExamSession.code)
    ).all()
    return [s for s in candidates if may_act_on(actor, s.id)]


def move_enrolment(
    actor: User, session: ExamSession, enrolment_id: int, target_id: int, reason: str
) -> Enrolment:
    """Move a participant who has not started to another session that has not ended and uses a
    battery of the same kind. The enrolment gets the target's next participant number and no
    card (its old card and logins end: a card belongs to one session)."""
    reason = _need_reason(reason, "memindahkan peserta")
    target = next((s for s in move_targets(actor, session) if s.id == target_id), None)
    if target is None:
        raise SessionError(
            "Sesi tujuan tidak dapat dipilih: harus sesi Anda yang belum berakhir dengan "
            "jenis tes yang sama."
        )
    with write_transaction():
        enrolment, user = _absent_enrolment(session, enrolment_id)
        already = db.session.scalar(
            select(Enrolment.id).where(
                Enrolment.session_id == target.id, Enrolment.user_id == user.id
            )
        )
        if already is not None:
            raise SessionError(f"{user.full_name} sudah terdaftar di sesi {target.code}.")
        old_number = enrolment.participant_number
        seat_taken = db.session.scalar(
            select(Enrolment.id).where(
                Enrolment.session_id == target.id, Enrolment.seat == enrolment.seat
            )
        )
        new_number = f"{target.code}-{_next_number(target):03d}"
        login_sessions.revoke_enrolment(enrolment.id, user.id, keep_unbound=True)
        enrolment.session_id = target.id
        enrolment.participant_number = new_number
        enrolment.password_hash = None
        enrolment.card_issued_at = None
        if seat_taken is not None:
            enrolment.seat = None  # the target's roster has that seat already
        audit.record(
            "session.participant_move",
            actor=actor,
            target=session.code,
            reason=reason,
            details={
                "participants": [old_number or user.nip or user.username],
                "nip": user.nip,
                "enrolment_id": enrolment.id,
                "to": target.code,
                "new_number": new_number,
                "seat": enrolment.seat,
            },
        )
    lab.forget()
    return enrolment


def remove_enrolment(actor: User, session: ExamSession, enrolment_id: int, reason: str) -> str:
    """Take a participant who has not started off the roster (their card and logins end).
    Returns their name. Notes written about them stay with the session."""
    reason = _need_reason(reason, "menghapus peserta")
    with write_transaction():
        enrolment, user = _absent_enrolment(session, enrolment_id)
        notes = db.session.execute(
            update(SessionNote)
            .where(SessionNote.enrolment_id == enrolment.id)
            .values(enrolment_id=None)
        ).rowcount
        audit.record(
            "session.participant_remove",
            actor=actor,
            target=session.code,
            reason=reason,
            details={
                "participants": [enrolment.participant_number or user.nip or user.username],
                "nip": user.nip,
                "name": user.full_name,
                "seat": enrolment.seat,
                "enrolment_id": enrolment.id,
                "had_card": enrolment.card_issued_at is not None,
                "notes_kept_on_session": int(notes or 0),
            },
        )
        db.session.execute(delete(Enrolment).where(Enrolment.id == enrolment.id))
        db.session.expunge(enrolment)
    lab.forget()
    return user.full_name

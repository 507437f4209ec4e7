"""The demo lab: accounts for every role and one open session, for trying the server out."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from cbt_server import audit
from cbt_server.accounts.service import create_user
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.localtime import window_text
from cbt_server.models import (
    BatteryVersion,
    Enrolment,
    ExamSession,
    Position,
    SessionProctor,
    User,
    db,
)
from cbt_server.sessions.tokens import new_token

DEMO_SESSION_CODE = "DEMO-01"
DEMO_BATTERY = "BAT-TEK-WP"

# (username, role, full name, NIP, position, unit, seat)
DEMO_PEOPLE = [
    ("admin", "admin", "Administrator Lab", None, None, "BBPMP Provinsi", None),
    ("pengawas", "proctor", "Rina Wulandari", None, None, "BBPMP Provinsi", None),
    ("asesor", "assessor", "Dr. Hendra Saputra", None, None, "BBPMP Provinsi", None),
    (
        "peserta01",
        "participant",
        "Siti Nurhaliza",
        "198703152010012001",
        "JF-WP-AP",
        "Tim Penjaminan Mutu Wilayah I",
        "PC-01",
    ),
    (
        "peserta02",
        "participant",
        "Budi Santoso",
        "199001202015031002",
        "JF-WP-AM",
        "Tim Penjaminan Mutu Wilayah II",
        "PC-02",
    ),
    (
        "peserta03",
        "participant",
        "Made Ayu Pratiwi",
        "198911082014022003",
        "JF-WP-AP",
        "Tim Fasilitasi Rapor Pendidikan",
        "PC-03",
    ),
    (
        "peserta04",
        "participant",
        "Yohanes Kurniawan",
        "199205172019031004",
        "PELAKSANA",
        "Subbagian Umum",
        "PC-04",
    ),
    (
        "peserta05",
        "participant",
        "Nur Aisyah Rahmawati",
        "198512302009122005",
        "PENGAWAS",
        "Subbagian Umum",
        "PC-05",
    ),
]


class DemoError(RuntimeError):
    """The demo cannot be built; the message says what to do first."""


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    full_name: str
    seat: str | None


@dataclass(frozen=True)
class DemoLab:
    session_code: str
    session_name: str
    battery_title: str
    room: str
    token: str
    accounts: list[DemoAccount]
    #: the window as the lab reads it (from the current hour for 10 hours: started at 20:00
    #: it runs to 06:00 the next day, one night session)
    window: str = ""
    #: demo user names held by accounts the demo did not make: left untouched
    skipped: list[str] = field(default_factory=list)


def build_demo() -> DemoLab:
    """Create (or refresh) the demo accounts and session; every run sets new passwords on the
    demo's own accounts (``users.demo``), never on an account someone else made."""
    battery = db.session.scalars(
        select(BatteryVersion)
        .where(BatteryVersion.code == DEMO_BATTERY)
        .order_by(BatteryVersion.id.desc())
    ).first()
    if battery is None:
        raise DemoError(
            f"battery {DEMO_BATTERY} is not imported: run "
            "`flask --app cbt_server banks import question_banks` first"
        )
    missing = {p[4] for p in DEMO_PEOPLE if p[4]} - set(db.session.scalars(select(Position.code)))
    if missing:
        raise DemoError(f"positions {sorted(missing)} are not imported: import the banks first")
    accounts: list[DemoAccount] = []
    skipped: list[str] = []
    with write_transaction():
        session = _demo_session(battery)
        for username, role, name, nip, position, unit, seat in DEMO_PEOPLE:
            password = _password()
            user = db.session.scalar(select(User).where(User.username == username))
            if user is None:
                user = create_user(
                    username, password, role, name, nip=nip, position_code=position, unit=unit
                )
                user.demo = True
            elif not user.demo:
                skipped.append(username)
                continue
            else:
                user.set_password(password)
                user.active = True
                user.must_change_password = False
            db.session.flush()
            # Kept across restarts: a rerun must not orphan the demo's attempts.
            if role == "participant" and not _enrolled(session, user):
                db.session.add(
                    Enrolment(
                        session_id=session.id,
                        user_id=user.id,
                        seat=seat,
                        participant_number=f"{DEMO_SESSION_CODE}-{seat[-2:]}" if seat else None,
                    )
                )
            elif (
                role == "proctor" and db.session.get(SessionProctor, (session.id, user.id)) is None
            ):
                db.session.add(SessionProctor(session_id=session.id, user_id=user.id))
            accounts.append(DemoAccount(username, password, role, name, seat))
        audit.record(
            "demo.build",
            actor_label="cli",
            target=session.code,
            details={"skipped": skipped} if skipped else None,
        )
    return DemoLab(
        session.code,
        session.name,
        battery.title,
        session.room,
        session.token or "",
        accounts,
        window_text(session.starts_at, session.ends_at),
        skipped=skipped,
    )


def _demo_session(battery: BatteryVersion) -> ExamSession:
    start = now().replace(minute=0, second=0, microsecond=0)
    fields = dict(
        name="Sesi Demo — Uji Kompetensi Teknis",
        battery_version_id=battery.id,
        room="Lab Komputer 1",
        starts_at=start,
        ends_at=start + timedelta(hours=10),
        token=new_token(),
        previous_token=None,
        previous_token_until=None,
        token_rotated_at=now(),
        token_rotate_minutes=15,
        status="scheduled",
        closed_at=None,
    )
    session = db.session.scalar(select(ExamSession).where(ExamSession.code == DEMO_SESSION_CODE))
    if session is None:
        session = ExamSession(code=DEMO_SESSION_CODE, created_at=now(), **fields)
        db.session.add(session)
    else:
        for name, value in fields.items():
            setattr(session, name, value)
    db.session.flush()
    return session


def _enrolled(session: ExamSession, user: User) -> bool:
    return (
        db.session.scalar(
            select(Enrolment.id).where(
                Enrolment.session_id == session.id, Enrolment.user_id == user.id
            )
        )
        is not None
    )


def _password() -> str:
    # Short enough to type from a printed card, random enough for a LAN demo.
    return secrets.token_urlsafe(6)

"""The session report (berita acara pelaksanaan) and the attendance list (daftar hadir)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from cbt_server.models import (
    Attempt,
    AuditEntry,
    BatteryVersion,
    Enrolment,
    ExamSession,
    Position,
    SessionNote,
    SessionProctor,
    User,
    db,
)

ACTION_LABELS = {
    "attempt.extend": "Tambah waktu",
    "attempt.pause": "Jeda",
    "attempt.resume": "Lanjutkan",
    "attempt.force_submit": "Kumpulkan paksa",
    "attempt.void": "Batalkan ujian",
    "attempt.reset_login": "Reset login",
    "session.token_rotate": "Ganti token",
    "session.note": "Catatan",
}


@dataclass(frozen=True)
class AttendanceRow:
    number: int
    participant_number: str | None
    nip: str | None
    name: str
    position: str | None
    unit: str | None
    seat: str | None
    present: bool
    status: str
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class Irregularity:
    at: datetime
    who: str
    what: str
    target: str
    reason: str


@dataclass
class SessionReport:
    session: ExamSession
    battery_title: str
    proctors: list[str]
    registered: int
    present: int
    absent: int
    finished: int
    voided: int
    still_running: int
    attendance: list[AttendanceRow] = field(default_factory=list)
    irregularities: list[Irregularity] = field(default_factory=list)


def attendance(session: ExamSession) -> list[AttendanceRow]:
    rows = db.session.execute(
        select(Enrolment, User, Attempt, Position.name)
        .join(User, User.id == Enrolment.user_id)
        .outerjoin(Attempt, Attempt.enrolment_id == Enrolment.id)
        .outerjoin(Position, Position.code == User.position_code)
        .where(Enrolment.session_id == session.id)
        .order_by(Enrolment.participant_number, Enrolment.id)
    ).all()
    return [
        AttendanceRow(
            number=n,
            participant_number=enrolment.participant_number,
            nip=user.nip,
            name=user.full_name,
            position=position,
            unit=user.unit,
            seat=enrolment.seat,
            present=attempt is not None,
            status=attempt.state if attempt else "absent",
            started_at=attempt.started_at if attempt else None,
            finished_at=attempt.finished_at if attempt else None,
        )
        for n, (enrolment, user, attempt, position) in enumerate(rows, start=1)
    ]


def session_report(session: ExamSession) -> SessionReport:
    rows = attendance(session)
    proctors = db.session.scalars(
        select(User.full_name)
        .join(SessionProctor, SessionProctor.user_id == User.id)
        .where(SessionProctor.session_id == session.id)
        .order_by(User.full_name)
    ).all()
    battery = db.session.get(BatteryVersion, session.battery_version_id)
    report = SessionReport(
        session=session,
        battery_title=battery.title if battery else "",
        proctors=list(proctors),
        registered=len(rows),
        present=sum(r.present for r in rows),
        absent=sum(not r.present for r in rows),
        finished=sum(r.status in ("submitted", "expired") for r in rows),
        voided=sum(r.status == "voided" for r in rows),
        still_running=sum(r.status in ("in_progress", "paused") for r in rows),
        attendance=rows,
    )
    report.irregularities = _irregularities(session)
    return report


def _irregularities(session: ExamSession) -> list[Irregularity]:
    names = dict(db.session.execute(select(User.id, User.full_name)).all())
    found = [
        Irregularity(
            at=entry.at,
            who=names.get(entry.actor_id, entry.actor_label),
            what=ACTION_LABELS[entry.action],
            target=", ".join((entry.details or {}).get("participants", []))
            or ("semua peserta" if (entry.details or {}).get("scope") == "all" else "sesi"),
            reason=entry.reason or "",
        )
        for entry in db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target == session.code, AuditEntry.action.in_(ACTION_LABELS))
            .order_by(AuditEntry.at, AuditEntry.id)
        )
        if entry.action != "session.note"
    ]
    numbers = dict(
        db.session.execute(
            select(Enrolment.id, Enrolment.participant_number).where(
                Enrolment.session_id == session.id
            )
        ).all()
    )
    for note in db.session.scalars(
        select(SessionNote).where(SessionNote.session_id == session.id).order_by(SessionNote.at)
    ):
        found.append(
            Irregularity(
                at=note.at,
                who=names.get(note.author_id, "?"),
                what="Catatan",
                target=numbers.get(note.enrolment_id) or "sesi" if note.enrolment_id else "sesi",
                reason=note.text,
            )
        )
    return sorted(found, key=lambda i: i.at)


STATUS_LABELS = {
    "absent": "Tidak hadir",
    "in_progress": "Sedang mengerjakan",
    "paused": "Dijeda",
    "submitted": "Selesai",
    "expired": "Selesai (waktu habis)",
    "voided": "Dibatalkan",
}


def attendance_csv(session: ExamSession) -> str:
    """UTF-8 with BOM (added by the caller's encoding) so Excel reads Indonesian names right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "No",
            "Nomor Peserta",
            "NIP",
            "Nama",
            "Jabatan",
            "Unit Kerja",
            "Kursi",
            "Kehadiran",
            "Status",
            "Mulai (UTC)",
            "Selesai (UTC)",
        ]
    )
    for row in attendance(session):
        writer.writerow(
            [
                row.number,
                row.participant_number or "",
                row.nip or "",
                row.name,
                row.position or "",
                row.unit or "",
                row.seat or "",
                "Hadir" if row.present else "Tidak hadir",
                STATUS_LABELS.get(row.status, row.status),
                row.started_at.strftime("%Y-%m-%d %H:%M:%S") if row.started_at else "",
                row.finished_at.strftime("%Y-%m-%d %H:%M:%S") if row.finished_at else "",
            ]
        )
    return out.getvalue()


def report_csv(report: SessionReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    s = report.session
    for key, value in [
        ("Kode sesi", s.code),
        ("Nama sesi", s.name),
        ("Ruang", s.room),
        ("Tanggal", s.starts_at.strftime("%Y-%m-%d")),
        ("Waktu (UTC)", f"{s.starts_at:%H:%M}-{s.ends_at:%H:%M}"),
        ("Tes", report.battery_title),
        ("Pengawas", "; ".join(report.proctors)),
        ("Terdaftar", report.registered),
        ("Hadir", report.present),
        ("Tidak hadir", report.absent),
        ("Selesai", report.finished),
        ("Dibatalkan", report.voided),
        ("Masih berlangsung", report.still_running),
    ]:
        writer.writerow([key, value])
    writer.writerow([])
    writer.writerow(["Waktu (UTC)", "Oleh", "Kejadian", "Peserta", "Alasan / catatan"])
    for item in report.irregularities:
        writer.writerow(
            [item.at.strftime("%Y-%m-%d %H:%M:%S"), item.who, item.what, item.target, item.reason]
        )
    return out.getvalue()

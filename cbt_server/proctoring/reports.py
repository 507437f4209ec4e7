"""The session report (berita acara pelaksanaan) and the attendance list (daftar hadir).

Both are printed on A4 and signed: the read models carry what the paper needs (the day in
words, who was absent, every proctor who signs), the templates only lay it out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from cbt_server.audit_check import Anchor, anchors, session_digest
from cbt_server.delivery.lifecycle import GRADED, RUNNING
from cbt_server.localtime import last_day, to_local, zone
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
from cbt_server.tabular import CsvWriter

ACTION_LABELS = {
    "attempt.extend": "Tambah waktu",
    "attempt.pause": "Jeda",
    "attempt.resume": "Lanjutkan",
    "attempt.force_submit": "Kumpulkan paksa",
    "attempt.void": "Batalkan ujian",
    "attempt.reset_login": "Reset login",
    "session.token_rotate": "Ganti token",
    "session.note": "Catatan",
    # changes to the session's plan once it started (edits before its start are not events)
    "session.edit": "Ubah sesi",
    "session.participant_move": "Pindah ke sesi lain",
    "session.participant_remove": "Hapus dari sesi",
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


@dataclass(frozen=True)
class Signatory:
    """A proctor who signs the printed report."""

    name: str
    nip: str | None


@dataclass
class SessionReport:
    session: ExamSession
    battery_title: str
    proctors: list[str]
    #: the session's day in the lab's zone (printed as "Selasa, 1 Desember 2026")
    day: date | None
    registered: int
    present: int
    absent: int
    finished: int
    voided: int
    still_running: int
    attendance: list[AttendanceRow] = field(default_factory=list)
    irregularities: list[Irregularity] = field(default_factory=list)
    signatories: list[Signatory] = field(default_factory=list)
    #: SHA-256 of the stored scores of the session's attempts (docs/tamper-evidence.md): the
    #: printed value can be checked against the database later (``flask audit digest``)
    results_digest: str = ""
    #: both hash chains' heads when printed: a rewritten history no longer matches them
    anchors: list[Anchor] = field(default_factory=list)
    #: the day a night session ends, when not the day it starts (20:00–06:00)
    last_day: date | None = None

    @property
    def absentees(self) -> list[AttendanceRow]:
        return [row for row in self.attendance if not row.present]


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


def session_day(session: ExamSession) -> date | None:
    """The day the session starts, as the lab's calendar has it."""
    local = to_local(session.starts_at)
    return local.date() if local is not None else None


def signatories(session: ExamSession) -> list[Signatory]:
    """Every proctor of the session, by name: each signs the report and the attendance list."""
    rows = db.session.execute(
        select(User.full_name, User.nip)
        .join(SessionProctor, SessionProctor.user_id == User.id)
        .where(SessionProctor.session_id == session.id)
        .order_by(User.full_name)
    ).all()
    return [Signatory(name, nip) for name, nip in rows]


def session_report(session: ExamSession) -> SessionReport:
    rows = attendance(session)
    signers = signatories(session)
    battery = db.session.get(BatteryVersion, session.battery_version_id)
    report = SessionReport(
        session=session,
        battery_title=battery.title if battery else "",
        proctors=[s.name for s in signers],
        day=session_day(session),
        last_day=last_day(session.starts_at, session.ends_at),
        signatories=signers,
        registered=len(rows),
        present=sum(r.present for r in rows),
        absent=sum(not r.present for r in rows),
        finished=sum(r.status in GRADED for r in rows),
        voided=sum(r.status == "voided" for r in rows),
        still_running=sum(r.status in RUNNING for r in rows),
        attendance=rows,
    )
    report.irregularities = _irregularities(session)
    report.results_digest = session_digest(session)
    report.anchors = anchors()
    return report


def _irregularities(session: ExamSession) -> list[Irregularity]:
    entries = db.session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.target == session.code,
            AuditEntry.action.in_(ACTION_LABELS),
            AuditEntry.action != "session.note",  # the notes themselves are read below
            # a code is free again after its session was deleted: not that session's rows
            AuditEntry.at >= session.created_at,
        )
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    notes = db.session.execute(
        select(SessionNote, Enrolment.participant_number, User.nip)
        .outerjoin(Enrolment, Enrolment.id == SessionNote.enrolment_id)
        .outerjoin(User, User.id == Enrolment.user_id)
        .where(SessionNote.session_id == session.id)
        .order_by(SessionNote.at, SessionNote.id)
    ).all()
    authors = {e.actor_id for e in entries} | {note.author_id for note, _n, _nip in notes}
    names = dict(
        db.session.execute(select(User.id, User.full_name).where(User.id.in_(authors))).all()
    )
    found = [
        Irregularity(
            at=entry.at,
            who=names.get(entry.actor_id, entry.actor_label),
            what=_what(entry),
            target=", ".join((entry.details or {}).get("participants", []))
            or ("semua peserta" if (entry.details or {}).get("scope") == "all" else "sesi"),
            reason=entry.reason or "",
        )
        for entry in entries
        if entry.action != "session.edit" or (entry.details or {}).get("after_start")
    ]
    found.extend(
        Irregularity(
            at=note.at,
            who=names.get(note.author_id, "?"),
            what=ACTION_LABELS["session.note"],
            target=(number or nip or "?") if note.enrolment_id else "sesi",
            reason=note.text,
        )
        for note, number, nip in notes
    )
    return sorted(found, key=lambda i: i.at)


def _what(entry: AuditEntry) -> str:
    minutes = (entry.details or {}).get("minutes")
    label = ACTION_LABELS[entry.action]
    return f"{label} {minutes} menit" if entry.action == "attempt.extend" and minutes else label


STATUS_LABELS = {
    "absent": "Tidak hadir",
    "in_progress": "Sedang mengerjakan",
    "paused": "Dijeda",
    "submitted": "Selesai",
    "expired": "Selesai (waktu habis)",
    "voided": "Dibatalkan",
}


def _local(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time as the lab reads it (the printed pages show the same), '' for none."""
    shown = to_local(moment)
    return shown.strftime(fmt) if shown is not None else ""


def _zone_name() -> str:
    return datetime.now(zone()).tzname() or str(zone())


def attendance_csv(session: ExamSession) -> str:
    """UTF-8 with BOM (added by the caller's encoding) so Excel reads Indonesian names right.

    Times are in the lab's zone (the header says which), as on the printed list.
    """
    out = io.StringIO()
    writer = CsvWriter(out)  # text that a spreadsheet would run is made inert
    tz = _zone_name()
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
            f"Mulai ({tz})",
            f"Selesai ({tz})",
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
                _local(row.started_at),
                _local(row.finished_at),
            ]
        )
    return out.getvalue()


def report_csv(report: SessionReport) -> str:
    out = io.StringIO()
    writer = CsvWriter(out)  # text that a spreadsheet would run is made inert
    s = report.session
    tz = _zone_name()
    for key, value in [
        ("Kode sesi", s.code),
        ("Nama sesi", s.name),
        ("Ruang", s.room),
        (
            "Tanggal",
            _local(s.starts_at, "%Y-%m-%d")
            + (f" s.d. {report.last_day}" if report.last_day else ""),
        ),
        (f"Waktu ({tz})", f"{_local(s.starts_at, '%H:%M')}-{_local(s.ends_at, '%H:%M')}"),
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
    writer.writerow([f"Waktu ({tz})", "Oleh", "Kejadian", "Peserta", "Alasan / catatan"])
    for item in report.irregularities:
        writer.writerow([_local(item.at), item.who, item.what, item.target, item.reason])
    return out.getvalue()

"""Exam sessions: a battery delivered in a room during a time window to a roster."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cbt_server.models.base import UTCDateTime, db


class ExamSession(db.Model):
    __tablename__ = "exam_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    battery_version_id: Mapped[int] = mapped_column(ForeignKey("battery_versions.id"))
    room: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    token: Mapped[str | None] = mapped_column(String(16))
    #: the token before the last rotation, still accepted until ``previous_token_until``
    previous_token: Mapped[str | None] = mapped_column(String(16))
    previous_token_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the token changes every this many minutes (0: only when the proctor rotates it)
    token_rotate_minutes: Mapped[int] = mapped_column(default=15)
    #: scheduled | closed
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The lab boundary (each off by default; cbt_server/delivery/boundary.py enforces it).
    #: address ranges (CIDR), one per line, from which this session's exam may be taken
    allowed_networks: Mapped[str | None] = mapped_column(Text)
    #: a participant may only take the exam on the PC registered for their seat
    bind_seats: Mapped[bool] = mapped_column(default=False)
    #: requests must come from Safe Exam Browser with one of ``seb_keys``
    seb_required: Mapped[bool] = mapped_column(default=False)
    #: accepted SEB Config Keys / Browser Exam Keys (64 hex digits), one per line
    seb_keys: Mapped[str | None] = mapped_column(Text)

    enrolments: Mapped[list[Enrolment]] = relationship(
        back_populates="session", order_by="Enrolment.seat"
    )


class Enrolment(db.Model):
    """A participant on a session's roster, with the seat (PC) assigned."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("session_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    seat: Mapped[str | None] = mapped_column(String(32))
    #: the login printed on the exam card (nomor peserta), unique across sessions
    participant_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    #: this enrolment's exam-card password (participant scheme, accounts/passwords.py); None
    #: until its card is made. Cards of one session never touch another's (docs/exam-credentials.md)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    #: when the card in use was made (None: no card yet, "print all" makes one)
    card_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    session: Mapped[ExamSession] = relationship(back_populates="enrolments")

    def set_password(self, password: str) -> None:
        from cbt_server.accounts.passwords import hash_password

        self.password_hash = hash_password(password, "participant")

    def check_password(self, password: str) -> bool:
        from cbt_server.accounts.passwords import check_password

        return self.password_hash is not None and check_password(self.password_hash, password)


class SessionNote(db.Model):
    """An irregularity or note written by a proctor, on the session or on one participant."""

    __tablename__ = "session_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True
    )
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)


class SessionProctor(db.Model):
    __tablename__ = "session_proctors"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class LabSeat(db.Model):
    """A lab PC registered (once, by a proctor) as a seat of a room.

    The PC keeps a random secret in a long-lived cookie; only its SHA-256 is stored."""

    __tablename__ = "lab_seats"
    __table_args__ = (UniqueConstraint("room", "seat"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room: Mapped[str] = mapped_column(String(100))
    seat: Mapped[str] = mapped_column(String(32))
    device_hash: Mapped[str] = mapped_column(String(64), unique=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    registered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

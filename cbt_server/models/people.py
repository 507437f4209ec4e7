"""Accounts: participants (ASN), proctors, assessors and admins."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cbt_server.models.base import UTCDateTime, db

ROLES = ("participant", "proctor", "assessor", "admin")


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('participant', 'proctor', 'assessor', 'admin')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    full_name: Mapped[str] = mapped_column(String(200))
    nip: Mapped[str | None] = mapped_column(String(32), unique=True)
    position_code: Mapped[str | None] = mapped_column(ForeignKey("positions.code"))
    unit: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    #: a proctor allowed to create sessions (admins always are)
    can_create_sessions: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: set by an admin's reset (and on new staff accounts): the one-time password opens one
    #: login, whose every page leads to the change-password page (docs/accounts.md)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    #: made by ``flask demo``, which refreshes these accounts only (never one an admin made)
    demo: Mapped[bool] = mapped_column(default=False)

    def set_password(self, password: str) -> None:
        """Hash by role (accounts/passwords.py): set the role first."""
        from cbt_server.accounts.passwords import hash_password

        self.password_hash = hash_password(password, self.role)

    def check_password(self, password: str) -> bool:
        from cbt_server.accounts.passwords import check_password

        return check_password(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active


class AssessorScope(db.Model):
    """One unit or one session an assessor may see; an assessor without rows sees everyone."""

    __tablename__ = "assessor_scopes"
    __table_args__ = (
        CheckConstraint("(unit IS NULL) <> (session_id IS NULL)", name="one_target"),
        UniqueConstraint("user_id", "unit"),
        UniqueConstraint("user_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit: Mapped[str | None] = mapped_column(String(200))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("exam_sessions.id", ondelete="CASCADE")
    )

"""The audit log: who did what, when and why. Rows are only ever added.

Tamper evidence: audit rows and score seals each form a hash chain (every row carries the hash
of the one before it, in ``chain_seq`` order); ``ChainHead`` holds the end of each chain so
that appending takes one row lock and never scans the table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cbt_server.models.base import JSONType, UTCDateTime, db


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: None for actions taken from the command line
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(JSONType)
    #: position in the audit chain (1, 2, ...); None only for rows written before chaining
    chain_seq: Mapped[int | None] = mapped_column(unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))


class ChainHead(db.Model):
    """The last link of one hash chain ("audit", "scores")."""

    __tablename__ = "chain_heads"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class ScoreSeal(db.Model):
    """A link in the score chain: the digest of one attempt's stored scores when they were written.

    ``attempt_id`` is deliberately not a foreign key: a seal outlives a deleted attempt, so the
    deletion shows up when the chain is verified."""

    __tablename__ = "score_seals"

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_seq: Mapped[int] = mapped_column(unique=True)
    attempt_id: Mapped[int] = mapped_column(index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: why the scores were (re)written: graded | regrade | ...
    reason: Mapped[str] = mapped_column(String(32))
    scores_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))

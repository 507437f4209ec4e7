"""Writing the audit log. Every proctor/admin action (and every CLI change) goes through here.

Tamper evidence (docs/tamper-evidence.md): audit rows and score seals each form a hash chain.
Linking happens in the writer's own transaction, when its rows are flushed: the chain's head row
(``chain_heads``) is advanced by one ``UPDATE ... RETURNING``, which on PostgreSQL holds the
row lock until commit, so concurrent writers queue instead of forking the chain (SQLite writes
are already one at a time). A transaction's audit rows share one head advance; its score seals
are written just before it commits, one advance for all of them, from the scores read back.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from cbt_server import integrity
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import AttemptScore, AuditEntry, ChainHead, ScoreSeal, User, db


class Actor(NamedTuple):
    """Who acts, as the audit row names them: for a caller that must not touch a loaded
    ``User`` inside its write turn (a commit expired it; reading it again is a statement)."""

    id: int
    username: str


AUDIT_CHAIN = "audit"
SCORES_CHAIN = "scores"
_PENDING_SEALS = "cbt_pending_score_seals"


#: a reason shorter than this is no reason (a proctor's "-" or "ok"); longer ones are cut here
REASON_MIN, REASON_MAX = 3, 1000


def written_reason(reason: str | None) -> str | None:
    """The reason a person gave for an audited action, trimmed to what an audit row keeps, or
    None when nothing that counts as a reason was written (the caller refuses the action)."""
    reason = (reason or "").strip()
    return reason[:REASON_MAX] if len(reason) >= REASON_MIN else None


def record(
    action: str,
    *,
    actor: User | Actor | None = None,
    actor_label: str | None = None,
    target: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit row to the current transaction (it commits with the action it records)."""
    entry = AuditEntry(
        at=now(),
        actor_id=actor.id if actor is not None else None,
        actor_label=actor.username if actor is not None else (actor_label or "cli"),
        action=action,
        target=target,
        reason=reason,
        details=details,
    )
    db.session.add(entry)
    return entry


def record_alone(action: str, *, actor: User, target: str | None = None, **details: Any) -> None:
    """An audit row in a transaction of its own: a download, or a view of personal results
    (one short write; the page itself only reads)."""
    with write_transaction():
        record(action, actor=actor, target=target, details=details or None)


def scores_changed(attempt_id: int, reason: str) -> None:
    """Seal this attempt's scores (written or cleared in the current transaction) at commit.

    Every writer of ``attempt_scores`` calls it; the seal covers the scores as read back just
    before the commit, so later changes in the same transaction are covered too."""
    pending: dict[int, str] = db.session.info.setdefault(_PENDING_SEALS, {})
    pending[attempt_id] = reason


def score_columns() -> tuple[Any, ...]:
    """The attempt id, then the columns of a stored score that its seal covers."""
    return (
        AttemptScore.attempt_id,
        AttemptScore.scope,
        AttemptScore.code,
        AttemptScore.score,
        AttemptScore.max_score,
        AttemptScore.percent,
        AttemptScore.level,
        AttemptScore.flagged,
    )


def advance(session: Session, name: str, count: int) -> tuple[int, str]:
    """Reserve ``count`` links of a chain: returns the first new sequence number and the hash
    to link to. The caller must set the head's ``last_hash`` before its transaction ends."""
    table = ChainHead.__table__
    bump = (
        update(table)
        .where(table.c.name == name)
        .values(seq=table.c.seq + count)
        .returning(table.c.seq, table.c.last_hash)
    )
    connection = session.connection()
    row = connection.execute(bump).first()
    if row is None:  # the chain's first link ever
        connection.execute(_insert_head(connection.dialect.name, name))
        row = connection.execute(bump).first()
    end, last_hash = row
    return end - count + 1, last_hash


def _insert_head(dialect: str, name: str):  # type: ignore[no-untyped-def]
    values = {"name": name, "seq": 0, "last_hash": integrity.GENESIS}
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(ChainHead.__table__).values(values).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(ChainHead.__table__).values(values).on_conflict_do_nothing()
    return insert(ChainHead.__table__).values(values)


def _set_head(session: Session, name: str, last_hash: str) -> None:
    table = ChainHead.__table__
    session.connection().execute(
        update(table).where(table.c.name == name).values(last_hash=last_hash)
    )


def head(name: str) -> tuple[int, str]:
    """A chain's last link: (sequence number, hash); (0, genesis) before its first."""
    row = db.session.execute(
        select(ChainHead.seq, ChainHead.last_hash).where(ChainHead.name == name)
    ).first()
    return (row[0], row[1]) if row is not None else (0, integrity.GENESIS)


@event.listens_for(db.session, "before_flush")
def _chain_audit_rows(session: Session, _context, _instances) -> None:  # type: ignore[no-untyped-def]
    """Link the audit rows about to be inserted (however they were made) into the chain."""
    new = [o for o in session.new if isinstance(o, AuditEntry) and o.chain_seq is None]
    if not new:
        return
    from sqlalchemy import inspect

    new.sort(key=lambda o: inspect(o).insert_order)
    seq, prev = advance(session, AUDIT_CHAIN, len(new))
    for entry in new:
        # Hash what the database will give back: the JSON as a round trip returns it.
        entry.details = integrity.as_stored_json(entry.details)
        entry.chain_seq, entry.prev_hash = seq, prev
        entry.row_hash = prev = integrity.link(prev, integrity.audit_row(entry))
        seq += 1
    _set_head(session, AUDIT_CHAIN, prev)


@event.listens_for(db.session, "before_commit")
def _seal_scores(session: Session) -> None:
    pending: dict[int, str] | None = session.info.get(_PENDING_SEALS)
    if not pending:
        return
    session.flush()
    ids = sorted(pending)
    rows: dict[int, list[list[Any]]] = {aid: [] for aid in ids}
    for aid, *values in session.execute(
        select(*score_columns()).where(AttemptScore.attempt_id.in_(ids))
    ):
        rows[aid].append(integrity.score_row(*values))
    at = now()
    seq, prev = advance(session, SCORES_CHAIN, len(ids))
    seals = []
    for aid in ids:
        digest = integrity.scores_digest(aid, rows[aid])
        row_hash = integrity.link(prev, integrity.seal_row(seq, aid, at, pending[aid], digest))
        seals.append(
            {
                "chain_seq": seq,
                "attempt_id": aid,
                "at": at,
                "reason": pending[aid],
                "scores_digest": digest,
                "prev_hash": prev,
                "row_hash": row_hash,
            }
        )
        prev, seq = row_hash, seq + 1
    session.execute(insert(ScoreSeal), seals)
    _set_head(session, SCORES_CHAIN, prev)
    pending.clear()


@event.listens_for(db.session, "after_transaction_end")
def _forget_seals(session: Session, transaction) -> None:  # type: ignore[no-untyped-def]
    # A rolled-back transaction's scores are gone with it: nothing left to seal.
    if transaction.parent is None:
        session.info.pop(_PENDING_SEALS, None)

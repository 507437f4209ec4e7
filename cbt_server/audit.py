"""Writing the audit log. Every proctor/admin action (and every CLI change) goes through here."""

from __future__ import annotations

from typing import Any

from cbt_server.clock import now
from cbt_server.models import AuditEntry, User, db


def record(
    action: str,
    *,
    actor: User | None = None,
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

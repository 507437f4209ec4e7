"""Hash chains and digests of stored results: pure functions, no database.

Everything hashed is first put in a canonical form that the database gives back unchanged, so a
hash computed when a row is written equals the one computed from the row read back later, on
SQLite and PostgreSQL alike:

- JSON with sorted keys, no spaces, UTF-8 (``ensure_ascii=False``);
- datetimes as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (both databases keep microseconds);
- a float with an integral value as an integer (a JSONB column or a driver may give ``2`` back
  for ``2.0``), any other float by Python's shortest round-trip ``repr``;
- JSON values (audit details) as a JSON round trip gives them back (tuples become lists, keys
  strings).

A link is ``row_hash = sha256(prev_hash + canonical(row))``; the first row of a chain links to
:data:`GENESIS`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
#: how many hex digits a printed fingerprint shows (64 bits: enough to tell sheets apart by eye)
SHORT = 16
#: the seal reason of scores stored before sealing began (``audit seal-existing``)
EXISTING = "existing"


def _plain(value: Any) -> Any:
    """A value in canonical terms (recursively)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


def timestamp(moment: datetime) -> str:
    """A datetime as canonical text (aware or naive-UTC, as the database returns it)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(value: Any) -> str:
    return json.dumps(
        _plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True
    )


def as_stored_json(value: Any) -> Any:
    """A JSON value as the database will return it (what an audit row's hash must cover)."""
    return None if value is None else json.loads(json.dumps(value, default=str))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def link(prev_hash: str, row: Mapping[str, Any]) -> str:
    """The hash of a chain row: it covers the previous link and the row's canonical form."""
    return sha256(prev_hash + canonical(row))


def audit_row(row: Any) -> dict[str, Any]:
    """The hashed content of an audit row (everything but its id and its own hashes), from the
    model object or a row read back: anything with the audit log's column names."""
    return {
        "seq": row.chain_seq,
        "at": row.at,
        "actor_id": row.actor_id,
        "actor_label": row.actor_label,
        "action": row.action,
        "target": row.target,
        "reason": row.reason,
        "details": row.details,
    }


def seal_row(
    seq: int, attempt_id: int, at: datetime, reason: str, scores_digest: str
) -> dict[str, Any]:
    """The hashed content of a score seal."""
    return {
        "seq": seq,
        "attempt_id": attempt_id,
        "at": at,
        "reason": reason,
        "scores_digest": scores_digest,
    }


def score_row(
    scope: str,
    code: str,
    score: float | None,
    max_score: float | None,
    percent: float | None,
    level: int | None,
    flagged: bool | None,
) -> list[Any]:
    """One stored score in canonical order of fields (types fixed: drivers differ)."""
    return [
        scope,
        code,
        None if score is None else float(score),
        None if max_score is None else float(max_score),
        None if percent is None else float(percent),
        None if level is None else int(level),
        bool(flagged),
    ]


def scores_digest(attempt_id: int, rows: Iterable[Sequence[Any]]) -> str:
    """The digest of one attempt's scores (rows from :func:`score_row`, any order).

    The attempt's id is covered, so scores moved to another attempt do not match."""
    ordered = sorted((list(r) for r in rows), key=lambda r: (r[0], r[1]))
    return sha256(canonical({"attempt_id": attempt_id, "scores": ordered}))


def results_digest(attempt_digests: Iterable[tuple[int, str]]) -> str:
    """The digest of a set of attempts' scores (a session's or a battery's): over each
    attempt's :func:`scores_digest`, by attempt id."""
    return sha256(canonical(sorted([aid, digest] for aid, digest in attempt_digests)))


def short(digest: str) -> str:
    """The printed fingerprint: the first 16 hex digits in groups of four."""
    head = digest[:SHORT]
    return " ".join(head[n : n + 4] for n in range(0, SHORT, 4))


def typed(text: str) -> str:
    """A digest typed from paper: spaces, dashes and case ignored."""
    return "".join(ch for ch in (text or "").lower() if ch in "0123456789abcdef")


def matches(typed_text: str, digest: str) -> bool:
    """Whether a typed digest (the 16-digit fingerprint or more, up to the full value) is this
    digest's beginning."""
    given = typed(typed_text)
    return len(given) >= SHORT and digest.startswith(given)

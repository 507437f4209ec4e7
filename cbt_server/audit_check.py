"""Checking the hash chains and the stored scores against their seals; digests of results.

The reading side of tamper evidence (the writing side is :mod:`cbt_server.audit`): used by
``flask audit verify|seal-existing|digest`` and the integrity page (docs/tamper-evidence.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select

from cbt_server import audit, integrity
from cbt_server.models import (
    Attempt,
    AttemptScore,
    AuditEntry,
    BatteryVersion,
    Enrolment,
    ExamSession,
    ScoreSeal,
    User,
    db,
)

#: the audit action that records sealing the scores stored before sealing began (once)
SEAL_EXISTING = "audit.seal_existing"
#: at most this many score mismatches are listed (the count is always given)
LISTED = 50
_CHUNK = 1000


@dataclass(frozen=True)
class Finding:
    """One break: which table, which row, what differs."""

    table: str
    #: deleted | edited | inserted | reordered | head | scores_changed | scores_deleted | unsealed
    kind: str
    seq: int | None
    row_id: int | None
    detail: str

    def line(self) -> str:
        where = []
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.row_id is not None:
            where.append(f"id {self.row_id}")
        place = f" ({', '.join(where)})" if where else ""
        return f"{self.table}{place}: {self.kind}: {self.detail}"


@dataclass
class Report:
    audit_rows: int = 0
    #: audit rows from before chaining began (not covered by the chain)
    audit_unchained: int = 0
    score_seals: int = 0
    attempts_checked: int = 0
    #: attempts whose scores predate sealing and have not been sealed yet
    unsealed_existing: int = 0
    seal_existing_done: bool = False
    findings: list[Finding] = field(default_factory=list)
    #: score mismatches beyond those listed
    more_findings: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        if self.ok:
            return f"OK: {self.audit_rows} audit rows, {self.score_seals} score seals"
        return f"BROKEN: {self.findings[0].line()}"

    def lines(self) -> list[str]:
        out = [self.summary()]
        out += [f"  {f.line()}" for f in self.findings[1:]]
        if self.more_findings:
            out.append(f"  ... and {self.more_findings} more score mismatches")
        if self.audit_unchained:
            out.append(
                f"not covered: {self.audit_unchained} audit rows written before chaining began"
            )
        if self.unsealed_existing:
            out.append(
                f"not covered: {self.unsealed_existing} attempts' scores stored before sealing "
                "began; seal them once with `flask --app cbt_server audit seal-existing`"
            )
        return out


def _stream(query: Select) -> Iterator[Any]:
    return iter(db.session.execute(query.execution_options(yield_per=_CHUNK)))


def _walk(
    report: Report,
    table: str,
    rows: Iterator[Any],
    content: Any,
    chain: str,
) -> int:
    """Check one chain link by link; append its first break. Returns the links seen."""
    expected, prev, seen = 1, integrity.GENESIS, 0
    broken = False
    for row in rows:
        seen += 1
        if broken:
            continue
        seq = row.chain_seq
        if seq != expected:
            kind = "deleted" if seq > expected else "inserted"
            detail = (
                f"links {expected}–{seq - 1} are missing"
                if seq > expected
                else f"sequence number {seq} appears again"
            )
            report.findings.append(Finding(table, kind, seq, row.id, detail))
            broken = True
            continue
        recomputed = integrity.link(row.prev_hash, content(row))
        if recomputed != row.row_hash:
            report.findings.append(
                Finding(table, "edited", seq, row.id, "the row's content does not match its hash")
            )
            broken = True
        elif row.prev_hash != prev:
            report.findings.append(
                Finding(
                    table,
                    "reordered",
                    seq,
                    row.id,
                    "the row does not link to the one before it (inserted, moved or replaced)",
                )
            )
            broken = True
        prev, expected = row.row_hash, expected + 1
    if not broken:
        last, last_hash = audit.head(chain)
        if last > expected - 1:
            report.findings.append(
                Finding(
                    table,
                    "deleted",
                    expected,
                    None,
                    f"the chain ends at {expected - 1} but its head says {last}: "
                    "the last rows were removed",
                )
            )
        elif last < expected - 1 or (last and last_hash != prev):
            report.findings.append(
                Finding("chain_heads", "head", last, None, f"the head of '{chain}' does not match")
            )
    return seen


def _seal_content(row: Any) -> dict[str, Any]:
    return integrity.seal_row(row.chain_seq, row.attempt_id, row.at, row.reason, row.scores_digest)


def _digests(query: Select) -> Iterator[tuple[int, str]]:
    """(attempt id, scores digest) for every attempt with scores in the query, by attempt id."""
    current: int | None = None
    rows: list[list[Any]] = []
    for aid, *values in _stream(query.order_by(AttemptScore.attempt_id)):
        if aid != current:
            if current is not None:
                yield current, integrity.scores_digest(current, rows)
            current, rows = aid, []
        rows.append(integrity.score_row(*values))
    if current is not None:
        yield current, integrity.scores_digest(current, rows)


def _sealing_began() -> Any:
    return db.session.scalar(select(func.min(ScoreSeal.at)))


def seal_existing_done() -> bool:
    return bool(db.session.scalar(select(func.count()).where(AuditEntry.action == SEAL_EXISTING)))


def verify() -> Report:
    """Walk both chains and compare every attempt's scores with its latest seal."""
    report = Report()
    report.audit_unchained = (
        db.session.scalar(select(func.count()).where(AuditEntry.chain_seq.is_(None))) or 0
    )
    first_chained = db.session.scalar(
        select(func.min(AuditEntry.id)).where(AuditEntry.chain_seq.is_not(None))
    )
    if first_chained is not None:
        # Unchained rows are only legitimate before the chain's first row.
        late = db.session.scalar(
            select(func.min(AuditEntry.id)).where(
                AuditEntry.chain_seq.is_(None), AuditEntry.id > first_chained
            )
        )
        if late is not None:
            report.findings.append(
                Finding(
                    "audit_log",
                    "inserted",
                    None,
                    late,
                    "a row without a link was added after chaining began",
                )
            )
    report.audit_rows = _walk(
        report,
        "audit_log",
        _stream(
            select(AuditEntry.__table__)
            .where(AuditEntry.chain_seq.is_not(None))
            .order_by(AuditEntry.chain_seq)
        ),
        integrity.audit_row,
        audit.AUDIT_CHAIN,
    )
    latest: dict[int, tuple[str, str]] = {}

    def seals() -> Iterator[Any]:
        for row in _stream(select(ScoreSeal.__table__).order_by(ScoreSeal.chain_seq)):
            latest[row.attempt_id] = (row.scores_digest, row.reason)
            yield row

    report.score_seals = _walk(report, "score_seals", seals(), _seal_content, audit.SCORES_CHAIN)
    _compare_scores(report, latest)
    return report


def _compare_scores(report: Report, latest: dict[int, tuple[str, str]]) -> None:
    report.seal_existing_done = seal_existing_done()
    began = _sealing_began()
    finished = dict(db.session.execute(select(Attempt.id, Attempt.finished_at)).all())
    mismatches: list[Finding] = []
    seen: set[int] = set()
    for aid, digest in _digests(select(*audit.score_columns())):
        seen.add(aid)
        report.attempts_checked += 1
        sealed = latest.get(aid)
        if sealed is None:
            ended = finished.get(aid)
            if not report.seal_existing_done and (began is None or (ended and ended < began)):
                report.unsealed_existing += 1
                continue
            mismatches.append(
                Finding("attempt_scores", "unsealed", None, aid, "scores without a seal (inserted)")
            )
        elif sealed[0] != digest:
            mismatches.append(
                Finding(
                    "attempt_scores",
                    "scores_changed",
                    None,
                    aid,
                    f"the stored scores differ from their last seal ({sealed[1]})",
                )
            )
    empty = {aid: integrity.scores_digest(aid, []) for aid in latest.keys() - seen}
    for aid, digest in sorted(empty.items()):
        if latest[aid][0] != digest:
            what = "its attempt was deleted" if aid not in finished else "scores were deleted"
            mismatches.append(
                Finding("attempt_scores", "scores_deleted", None, aid, f"sealed, but {what}")
            )
    report.findings.extend(mismatches[:LISTED])
    report.more_findings = max(0, len(mismatches) - LISTED)


def seal_existing(actor: User | None = None) -> int:
    """Seal, once, the scores stored before sealing began (an audited step).

    Inside a write transaction. Refused after the first time: a second run would seal scores
    inserted since, which is what verifying is to find."""
    if seal_existing_done():
        raise ValueError("the existing scores were already sealed")
    sealed = {aid for aid in db.session.scalars(select(ScoreSeal.attempt_id).distinct())}
    began = _sealing_began()
    ids = []
    for aid, ended in db.session.execute(
        select(Attempt.id, Attempt.finished_at)
        .where(Attempt.id.in_(select(AttemptScore.attempt_id).distinct()))
        .order_by(Attempt.id)
    ):
        if aid not in sealed and (began is None or ended is None or ended < began):
            ids.append(aid)
    for aid in ids:
        audit.scores_changed(aid, integrity.EXISTING)
    audit.record(SEAL_EXISTING, actor=actor, details={"attempts": len(ids), "attempt_ids": ids})
    return len(ids)


# ---- digests of the results a printout covers ----------------------------------------------


def _session_scores(session_id: int) -> Select:
    return (
        select(*audit.score_columns())
        .join(Attempt, Attempt.id == AttemptScore.attempt_id)
        .join(Enrolment, Enrolment.id == Attempt.enrolment_id)
        .where(Enrolment.session_id == session_id)
    )


def session_digest(session: ExamSession) -> str:
    """The digest of the scores of every attempt of the session (berita acara, score sheet)."""
    return integrity.results_digest(_digests(_session_scores(session.id)))


def battery_digest(battery_code: str) -> str:
    """The digest of the scores of every attempt in any session of the battery (its sheet)."""
    versions = select(BatteryVersion.id).where(BatteryVersion.code == battery_code)
    query = (
        select(*audit.score_columns())
        .join(Attempt, Attempt.id == AttemptScore.attempt_id)
        .join(Enrolment, Enrolment.id == Attempt.enrolment_id)
        .join(ExamSession, ExamSession.id == Enrolment.session_id)
        .where(ExamSession.battery_version_id.in_(versions))
    )
    return integrity.results_digest(_digests(query))


def session_by_code(code: str) -> ExamSession | None:
    return db.session.scalar(select(ExamSession).where(ExamSession.code == code))


@dataclass(frozen=True)
class Anchor:
    """A chain's head as printed on paper: the check is that the row at that place still
    carries that hash."""

    chain: str
    seq: int
    digest: str


def check_anchor(chain: str, seq: int, typed_hash: str) -> bool | None:
    """Whether the link ``seq`` of a chain still has the hash typed from paper (None: no such
    link)."""
    model = AuditEntry if chain == audit.AUDIT_CHAIN else ScoreSeal
    stored = db.session.scalar(select(model.row_hash).where(model.chain_seq == seq))
    if stored is None:
        return None
    return integrity.matches(typed_hash, stored)


def anchors() -> list[Anchor]:
    """Both chains' heads now (printed on the berita acara)."""
    return [Anchor(name, *audit.head(name)) for name in (audit.AUDIT_CHAIN, audit.SCORES_CHAIN)]

"""Tamper evidence (docs/tamper-evidence.md): the audit log and the scores are hash-chained, and
``flask audit verify`` (and the integrity page) finds a row edited, deleted or added directly in
the database; printouts carry the digest of the results they cover.

Edits are made the way someone with database access would: plain UPDATE/DELETE/INSERT
statements, past the application, on whichever database the suite runs.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, insert, select, update

from cbt_server import audit, integrity
from cbt_server.accounts.service import create_user
from cbt_server.db import write_transaction
from cbt_server.models import AttemptScore, AuditEntry, ChainHead, ScoreSeal, db
from tests.builders import RIGHT, finish
from tests.helpers import csrf_token, login

BEST = {**RIGHT, "U-L1": "4", "U-L2": "2", "U-SD": "5"}
WEAK = {"U-SGL": "A", "U-L1": "1"}


@pytest.fixture
def taken(app: Flask, lab):  # type: ignore[no-untyped-def]
    finish(app, lab, 0, BEST)
    finish(app, lab, 1, WEAK)
    with app.app_context():  # a few more rows, so that there is a middle to tamper with
        for n in range(4):
            with write_transaction():
                audit.record("test.filler", actor_label="cli", target=lab.code, details={"n": n})
    return lab


def _sql(app: Flask, statement) -> None:  # type: ignore[no-untyped-def]
    """A direct write, as with a database client: no audit, no seal."""
    with app.app_context():
        db.session.execute(statement)
        db.session.commit()


def _verify(runner) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["audit", "verify"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def _middle_audit_seq(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.max(AuditEntry.chain_seq))) // 2 or 1


# ---- pure: canonical form and links ------------------------------------------------------------


def test_canonical_form_is_stable_across_what_databases_give_back() -> None:
    aware = datetime(2026, 12, 1, 8, 30, 0, 120000, tzinfo=UTC)
    naive = aware.replace(tzinfo=None)
    assert integrity.canonical({"at": aware}) == integrity.canonical({"at": naive})
    assert integrity.timestamp(aware) == "2026-12-01T08:30:00.120000Z"
    # A driver or a JSONB column may give 2 for 2.0; sorted keys; non-ASCII kept.
    assert integrity.canonical({"b": 2.0, "a": "Ñ"}) == integrity.canonical({"a": "Ñ", "b": 2})
    assert integrity.canonical(0.1 + 0.2) == "0.30000000000000004"
    # Details are hashed as the JSON round trip returns them (tuples, integer keys).
    assert integrity.as_stored_json({1: (1, 2)}) == {"1": [1, 2]}


def test_a_link_covers_the_previous_hash_and_the_row() -> None:
    row = integrity.seal_row(1, 7, datetime(2026, 1, 1, tzinfo=UTC), "graded", "ab" * 32)
    first = integrity.link(integrity.GENESIS, row)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert integrity.link("1" * 64, row) != first
    assert integrity.link(integrity.GENESIS, {**row, "reason": "regrade"}) != first
    score = integrity.score_row("total", "TOTAL", 22, 24, 91.6667, None, False)
    assert integrity.scores_digest(7, [score]) != integrity.scores_digest(8, [score])
    assert integrity.matches("  ABCD ef01-2345 6789 ", "abcdef0123456789" + "0" * 48)
    assert not integrity.matches("abcd", "abcd" + "0" * 60)  # too short to mean anything


# ---- the chain is written as rows are ----------------------------------------------------------


def test_audit_rows_and_scores_are_chained_and_verify_ok(app: Flask, taken, runner) -> None:  # type: ignore[no-untyped-def]
    code, output = _verify(runner)
    assert code == 0, output
    with app.app_context():
        rows = db.session.scalar(select(func.count()).select_from(AuditEntry))
        seals = db.session.scalar(select(func.count()).select_from(ScoreSeal))
        head = db.session.get(ChainHead, "audit")
        assert head.seq == rows
    assert seals == 2  # one per graded attempt
    assert f"OK: {rows} audit rows, {seals} score seals" in output


def test_a_hash_is_that_of_the_row_read_back(app: Flask, taken) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), write_transaction():
        audit.record(
            "test.values",
            actor_label="cli",
            target="Ñusantara",
            details={"f": 2.0, "tiny": 1e-7, "big": 1e20, "t": (1, 2), 3: None, "s": "—"},
        )
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "test.values"))
        assert integrity.link(entry.prev_hash, integrity.audit_row(entry)) == entry.row_hash


def test_concurrent_writers_do_not_fork_the_chain(app: Flask, taken, runner) -> None:  # type: ignore[no-untyped-def]
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with app.app_context():
                for k in range(5):
                    with write_transaction():
                        audit.record("test.concurrent", actor_label=f"t{n}", details={"k": k})
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    code, output = _verify(runner)
    assert code == 0, output


# ---- verify finds direct edits ---------------------------------------------------------------


def test_verify_finds_an_audit_row_edited_in_the_database(app: Flask, taken, runner) -> None:  # type: ignore[no-untyped-def]
    seq = _middle_audit_seq(app)
    _sql(
        app,
        update(AuditEntry.__table__)
        .where(AuditEntry.__table__.c.chain_seq == seq)
        .values(details={"forged": True}),
    )
    code, output = _verify(runner)
    assert code == 1
    assert f"audit_log (seq {seq}" in output and "edited" in output


def test_verify_finds_an_audit_row_deleted(app: Flask, taken, runner) -> None:  # type: ignore[no-untyped-def]
    seq = _middle_audit_seq(app)
    _sql(app, delete(AuditEntry.__table__).where(AuditEntry.__table__.c.chain_seq == seq))
    code, output = _verify(runner)
    assert code == 1
    assert "deleted" in output and f"links {seq}–{seq}" in output


def test_verify_finds_the_last_audit_row_deleted(app: Flask, taken, runner) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        last = db.session.scalar(select(func.max(AuditEntry.chain_seq)))
    _sql(app, delete(AuditEntry.__table__).where(AuditEntry.__table__.c.chain_seq == last))
    code, output = _verify(runner)
    assert code == 1 and "the last rows were removed" in output


def test_verify_finds_an_audit_row_inserted_without_a_link(app: Flask, taken, runner) -> None:  # type: ignore[no-untyped-def]
    _sql(
        app,
        insert(AuditEntry.__table__).values(
            at=datetime.now(UTC), actor_label="admin", action="session.note", target="S-01"
        ),
    )
    code, output = _verify(runner)
    assert code == 1 and "inserted" in output


def test_verify_finds_a_score_changed_in_the_database(app: Flask, taken, runner) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        aid = db.session.scalar(select(func.min(AttemptScore.attempt_id)))
    _sql(
        app,
        update(AttemptScore.__table__)
        .where(
            AttemptScore.__table__.c.attempt_id == aid,
            AttemptScore.__table__.c.scope == "total",
        )
        .values(score=24.0),
    )
    code, output = _verify(runner)
    assert code == 1
    assert f"attempt_scores (id {aid}): scores_changed" in output


def test_verify_finds_scores_deleted(app: Flask, taken, runner) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        aid = db.session.scalar(select(func.max(AttemptScore.attempt_id)))
    _sql(app, delete(AttemptScore.__table__).where(AttemptScore.__table__.c.attempt_id == aid))
    code, output = _verify(runner)
    assert code == 1 and "scores_deleted" in output


def test_verify_finds_a_seal_edited_to_match_a_changed_score(app: Flask, taken, runner) -> None:  # type: ignore[no-untyped-def]
    """Changing a score and rewriting its seal's digest still breaks the seal chain."""
    with app.app_context():
        aid = db.session.scalar(select(func.min(AttemptScore.attempt_id)))
    scores = AttemptScore.__table__
    _sql(
        app,
        update(scores).where(scores.c.attempt_id == aid, scores.c.scope == "total").values(score=1),
    )
    with app.app_context():
        rows = db.session.execute(
            select(
                scores.c.scope,
                scores.c.code,
                scores.c.score,
                scores.c.max_score,
                scores.c.percent,
                scores.c.level,
                scores.c.flagged,
            ).where(scores.c.attempt_id == aid)
        ).all()
        forged = integrity.scores_digest(aid, [integrity.score_row(*r) for r in rows])
    seals = ScoreSeal.__table__
    _sql(app, update(seals).where(seals.c.attempt_id == aid).values(scores_digest=forged))
    code, output = _verify(runner)
    assert code == 1 and "score_seals (seq" in output and "edited" in output


def test_scores_from_before_sealing_are_sealed_once_and_audited(app: Flask, taken, runner) -> None:  # type: ignore[no-untyped-def]
    _sql(app, delete(ScoreSeal.__table__))
    _sql(app, delete(ChainHead.__table__).where(ChainHead.__table__.c.name == "scores"))
    code, output = _verify(runner)
    assert code == 0, output
    assert "not covered: 2 attempts' scores stored before sealing began" in output
    sealed = runner.invoke(args=["audit", "seal-existing"])
    assert sealed.exit_code == 0 and "2 attempt(s)" in sealed.output
    code, output = _verify(runner)
    assert code == 0 and "OK:" in output and "not covered: 2" not in output
    assert runner.invoke(args=["audit", "seal-existing"]).exit_code != 0  # once only
    with app.app_context():
        row = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "audit.seal_existing")
        )
        assert row.details["attempts"] == 2 and len(row.details["attempt_ids"]) == 2


def test_audit_rows_from_before_chaining_are_reported_not_covered(app: Flask, runner) -> None:  # type: ignore[no-untyped-def]
    # As migration 0005 leaves a database: older rows without links, the chain after them.
    for action in ("session.create", "session.token_rotate"):
        _sql(
            app,
            insert(AuditEntry.__table__).values(
                at=datetime.now(UTC), actor_label="cli", action=action
            ),
        )
    with app.app_context(), write_transaction():
        audit.record("test.after", actor_label="cli")
    code, output = _verify(runner)
    assert code == 0, output
    assert "OK: 1 audit rows" in output
    assert "not covered: 2 audit rows written before chaining began" in output


# ---- the page --------------------------------------------------------------------------------


@pytest.fixture
def admin(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    with app.app_context(), write_transaction():
        create_user("admin-1", "sandi-admin", "admin", "Admin Satu")
    client = app.test_client()
    assert login(client, "admin-1", "sandi-admin").status_code == 302
    return client


def test_the_integrity_page_reports_ok_and_then_the_edit(app: Flask, taken, assessor) -> None:  # type: ignore[no-untyped-def]
    page = assessor.get("/assessor/integrity")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="integrity-ok"' in html
    assert "/assessor/integrity" in assessor.get("/assessor/").get_data(as_text=True)
    seq = _middle_audit_seq(app)
    log = AuditEntry.__table__
    _sql(app, update(log).where(log.c.chain_seq == seq).values(reason="diubah"))
    html = assessor.get("/assessor/integrity").get_data(as_text=True)
    assert 'data-testid="integrity-broken"' in html
    assert f"seq {seq}" in html and "edited" in html


def test_only_an_admin_seals_existing_scores_from_the_page(
    app: Flask, taken, assessor, admin
) -> None:  # type: ignore[no-untyped-def]
    _sql(app, delete(ScoreSeal.__table__))
    _sql(app, delete(ChainHead.__table__).where(ChainHead.__table__.c.name == "scores"))
    page = assessor.get("/assessor/integrity").get_data(as_text=True)
    assert 'data-testid="seal-existing"' not in page
    refused = assessor.post("/assessor/integrity/seal-existing", data={"csrf_token": "x"})
    assert refused.status_code in (400, 403)
    page = admin.get("/assessor/integrity").get_data(as_text=True)
    assert 'data-testid="seal-existing"' in page
    done = admin.post("/assessor/integrity/seal-existing", data={"csrf_token": csrf_token(page)})
    assert done.status_code == 302
    assert 'data-testid="integrity-ok"' in admin.get("/assessor/integrity").get_data(as_text=True)


# ---- digests on printouts ----------------------------------------------------------------------


def _printed_digest(html: str) -> str:
    match = re.search(r'data-testid="results-digest"[^>]*>\s*([0-9a-f]{64})', html)
    assert match, "no results digest on the page"
    return match.group(1)


def test_the_berita_acara_digest_matches_the_command_and_changes_with_a_score(  # type: ignore[no-untyped-def]
    app: Flask, taken, runner
) -> None:
    proctor = app.test_client()
    assert login(proctor, *taken.proctors[0]).status_code == 302
    html = proctor.get(f"/proctor/sessions/{taken.id}/report").get_data(as_text=True)
    printed = _printed_digest(html)
    assert integrity.short(printed) in html
    shown = runner.invoke(args=["audit", "digest", "--session", taken.code])
    assert shown.exit_code == 0 and printed in shown.output
    scores = AttemptScore.__table__
    with app.app_context():
        aid = db.session.scalar(select(func.min(scores.c.attempt_id)))
    _sql(
        app,
        update(scores).where(scores.c.attempt_id == aid, scores.c.scope == "total").values(score=0),
    )
    changed = runner.invoke(args=["audit", "digest", "--session", taken.code])
    assert printed not in changed.output


def test_score_sheets_carry_the_same_digest(app: Flask, taken, assessor, runner) -> None:  # type: ignore[no-untyped-def]
    digest = runner.invoke(args=["audit", "digest", "--session", taken.code]).output.split()[-1]
    page = assessor.get(f"/assessor/sessions/{taken.id}/scores").get_data(as_text=True)
    assert _printed_digest(page) == digest
    csv_file = assessor.get(f"/assessor/sessions/{taken.id}/scores.csv", buffered=True)
    assert csv_file.headers["X-Results-Digest"] == digest
    xlsx = assessor.get(f"/assessor/sessions/{taken.id}/scores.xlsx")
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(xlsx.get_data())).active
    assert any(digest in str(cell.value) for row in sheet.iter_rows(max_row=3) for cell in row)
    battery = runner.invoke(args=["audit", "digest", "--battery", "BAT-UJI"]).output.split()[-1]
    page = assessor.get("/assessor/batteries/BAT-UJI/scores").get_data(as_text=True)
    assert _printed_digest(page) == battery


def test_the_page_checks_a_digest_typed_from_paper(app: Flask, taken, assessor, runner) -> None:  # type: ignore[no-untyped-def]
    digest = runner.invoke(args=["audit", "digest", "--session", taken.code]).output.split()[-1]
    typed = integrity.short(digest).upper()
    page = assessor.get(
        "/assessor/integrity", query_string={"session": taken.code, "digest": typed}
    ).get_data(as_text=True)
    assert 'data-testid="digest-match"' in page
    page = assessor.get(
        "/assessor/integrity", query_string={"session": taken.code, "digest": "0" * 16}
    ).get_data(as_text=True)
    assert 'data-testid="digest-mismatch"' in page


def test_the_berita_acara_prints_the_audit_chain_head_which_the_page_checks(  # type: ignore[no-untyped-def]
    app: Flask, taken, assessor
) -> None:
    proctor = app.test_client()
    assert login(proctor, *taken.proctors[0]).status_code == 302
    html = proctor.get(f"/proctor/sessions/{taken.id}/report").get_data(as_text=True)
    match = re.search(
        r'data-testid="anchor-audit" data-seq="(\d+)" data-hash="([0-9a-f]{64})"', html
    )
    assert match, "no audit chain head on the berita acara"
    seq, value = match.groups()
    query = {"chain": "audit", "seq": seq, "hash": integrity.short(value)}
    page = assessor.get("/assessor/integrity", query_string=query).get_data(as_text=True)
    assert 'data-testid="anchor-match"' in page
    log = AuditEntry.__table__
    _sql(app, update(log).where(log.c.chain_seq == int(seq)).values(row_hash="f" * 64))
    page = assessor.get("/assessor/integrity", query_string=query).get_data(as_text=True)
    assert 'data-testid="anchor-mismatch"' in page

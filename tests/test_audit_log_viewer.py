"""The audit log viewer (/assessor/audit-log): filters, paging, the CSV export, and who may
read it (docs/assessor.md, "Audit log")."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt_server import audit
from cbt_server import audit_log as audit_log_module
from cbt_server.clock import ManualClock
from cbt_server.db import write_transaction
from cbt_server.models import AuditEntry, db
from tests.helpers import audit_count, login

NIP = "198001012005011001"
FORMULA = '=HYPERLINK("http://evil.example","klik")'
_ROW = re.compile(
    r'data-testid="audit-row" data-id="\d+">\s*<td>[^<]*</td>\s*<td>[^<]*</td>\s*'
    r"<td><code>([^<]+)</code></td>"
)


@pytest.fixture
def logged(app: Flask, lab, clock: ManualClock):  # type: ignore[no-untyped-def]
    """Rows of known content at known times, on top of the lab's own rows."""
    start = clock.now()

    def put(at: datetime, action: str, label: str, **fields: object) -> None:
        clock.set(at)
        with app.app_context(), write_transaction():
            audit.record(action, actor_label=label, **fields)  # type: ignore[arg-type]

    # 20 Nov, 10:00 WIB
    put(
        datetime(2026, 11, 20, 3, 0, tzinfo=UTC),
        "uji.alpha",
        "Operator-Budi",
        target="S-LAIN",
        details={"participants": ["P-777"], "scope": "some"},
    )
    # 25 Nov 23:30 UTC is already 26 Nov (06:30 WIB)
    put(
        datetime(2026, 11, 25, 23, 30, tzinfo=UTC),
        "uji.beta",
        "operator-sari",
        target=NIP,
        reason=FORMULA,
        details={"session": lab.code},
    )
    # 21 Nov; a family member of uji.alpha, and a look-alike of the "uji" family
    put(datetime(2026, 11, 21, 2, 0, tzinfo=UTC), "uji.alpha.sub", "operator-budi")
    put(datetime(2026, 11, 21, 2, 0, tzinfo=UTC), "ujian.lain", "cli", target="S-LAIN2")
    clock.set(start)
    return lab


def _actions(client: FlaskClient, query: str = "") -> list[str]:
    response = client.get(f"/assessor/audit-log{query}")
    assert response.status_code == 200
    return _ROW.findall(response.get_data(as_text=True))


def _mine(actions: list[str]) -> list[str]:
    return [a for a in actions if a.startswith("uji")]


def test_assessor_sees_rows_newest_first_with_chain_position(assessor, logged, app: Flask) -> None:  # type: ignore[no-untyped-def]
    response = assessor.get("/assessor/audit-log")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _mine(_ROW.findall(page)) == ["ujian.lain", "uji.alpha.sub", "uji.beta", "uji.alpha"]
    assert "/assessor/integrity" in page  # "Periksa keutuhan"
    assert "&#34;participants&#34;:[&#34;P-777&#34;]" in page or '"participants":["P-777"]' in page
    assert "26-11-2026 06:30:00" in page  # the lab's zone (WIB)
    with app.app_context():
        seqs = db.session.scalars(select(AuditEntry.chain_seq).order_by(AuditEntry.id)).all()
    assert f"<td>{seqs[-1]}</td>" in page
    desk = assessor.get("/assessor/").get_data(as_text=True)
    assert 'data-testid="go-audit-log"' in desk


def test_who_filter_is_a_partial_match(assessor, logged) -> None:  # type: ignore[no-untyped-def]
    assert _actions(assessor, "?who=OPERATOR-B") == ["uji.alpha.sub", "uji.alpha"]
    assert _actions(assessor, "?who=sari") == ["uji.beta"]


def test_what_filter_takes_an_action_or_its_family(assessor, logged) -> None:  # type: ignore[no-untyped-def]
    assert _actions(assessor, "?what=uji") == ["uji.alpha.sub", "uji.beta", "uji.alpha"]
    assert _actions(assessor, "?what=uji.alpha") == ["uji.alpha.sub", "uji.alpha"]
    assert _actions(assessor, "?what=uji.beta") == ["uji.beta"]
    page = assessor.get("/assessor/audit-log").get_data(as_text=True)
    assert '<option value="uji.alpha.sub">' in page and '<option value="uji">' in page


def test_session_filter_matches_target_or_details(assessor, logged, app: Flask) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), write_transaction():
        audit.record("session.note", actor_label="pengawas", target=logged.code, reason="catatan")
    assert _actions(assessor, "?session=S-LAIN") == ["uji.alpha"]  # not S-LAIN2
    shown = _actions(assessor, f"?session={logged.code}")
    assert "uji.beta" in shown and "uji.alpha" not in shown
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry)).all()
        expected = [
            r.action
            for r in sorted(rows, key=lambda r: -r.id)
            if r.target == logged.code or logged.code in str(r.details or "")
        ]
    assert shown == expected and shown[:2] == ["session.note", "uji.beta"]
    assert _actions(assessor, f"?session={logged.code.lower()}")[:2] == shown[:2]


def test_person_filter_matches_target_or_details(assessor, logged) -> None:  # type: ignore[no-untyped-def]
    assert _actions(assessor, "?person=P-777") == ["uji.alpha"]
    assert _actions(assessor, f"?person={NIP}") == ["uji.beta"]
    assert _actions(assessor, "?person=P-77") == []  # a whole number, not a part of one
    logins = _actions(assessor, "?person=asesor-1")
    assert logins and set(logins) <= {"login", "logout", "login.failed", "login.timeout"}


def test_time_range_is_in_the_labs_zone(assessor, logged) -> None:  # type: ignore[no-untyped-def]
    assert _actions(assessor, "?what=uji&since=2026-11-20&until=2026-11-20") == ["uji.alpha"]
    assert _actions(assessor, "?what=uji&since=2026-11-26") == ["uji.beta"]
    assert _actions(assessor, "?what=uji&since=2026-11-25&until=2026-11-25") == []
    assert _actions(assessor, "?what=uji&until=2026-11-21") == ["uji.alpha.sub", "uji.alpha"]
    page = assessor.get("/assessor/audit-log?what=uji&since=kemarin").get_data(as_text=True)
    assert "kemarin" in page and len(_mine(_ROW.findall(page))) == 3  # ignored, and said so


def test_filters_combine(assessor, logged) -> None:  # type: ignore[no-untyped-def]
    assert _actions(assessor, "?who=budi&what=uji.alpha&since=2026-11-21") == ["uji.alpha.sub"]


def test_pages_are_keyset_and_newest_first(assessor, logged, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(audit_log_module, "PAGE_SIZE", 2)
    page = assessor.get("/assessor/audit-log?what=uji").get_data(as_text=True)
    assert _ROW.findall(page) == ["uji.alpha.sub", "uji.beta"]
    older = re.search(r'href="([^"]+)" data-testid="audit-older"', page)
    assert older
    second = assessor.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert _ROW.findall(second) == ["uji.alpha"]
    assert 'data-testid="audit-older"' not in second


def test_csv_holds_the_filtered_rows_inertly_and_is_audited(assessor, logged, app: Flask) -> None:  # type: ignore[no-untyped-def]
    before = audit_count(app, "download.audit_log.csv")
    response = assessor.get("/assessor/audit-log.csv?what=uji&csv=en", buffered=True)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert len(rows) == 1 + 3
    assert [r[3] for r in rows[1:]] == ["uji.alpha.sub", "uji.beta", "uji.alpha"]
    beta = rows[2]
    assert beta[0] == "2026-11-26T06:30:00+07:00"
    assert beta[2] == "operator-sari" and beta[4] == NIP
    assert beta[5] == "'" + FORMULA  # a formula arrives as text
    assert beta[6] == f'{{"session":"{logged.code}"}}'
    assert rows[1][1].isdigit()  # the chain position
    assert audit_count(app, "download.audit_log.csv") == before + 1
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
        assert entry.action == "download.audit_log.csv"
        assert entry.actor_label == "asesor-1" and entry.chain_seq is not None
        assert entry.details == {"csv": "en", "what": "uji"}


def test_csv_person_filter(assessor, logged) -> None:  # type: ignore[no-untyped-def]
    text = assessor.get(f"/assessor/audit-log.csv?person={NIP}&csv=id", buffered=True).get_data(
        as_text=True
    )
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert [r[3] for r in rows[1:]] == ["uji.beta"]


def test_participant_and_anonymous_are_refused(app: Flask, logged) -> None:  # type: ignore[no-untyped-def]
    anonymous = app.test_client()
    for path in ("/assessor/audit-log", "/assessor/audit-log.csv"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    participant = app.test_client()
    assert login(participant, *logged.participants[0]).status_code == 302
    before = audit_count(app)
    for path in ("/assessor/audit-log", "/assessor/audit-log.csv"):
        assert participant.get(path).status_code == 403
    assert audit_count(app) == before


def test_proctor_is_refused(app: Flask, logged) -> None:  # type: ignore[no-untyped-def]
    proctor = app.test_client()
    assert login(proctor, *logged.proctors[0]).status_code == 302
    assert proctor.get("/assessor/audit-log").status_code == 403


def test_read_only(assessor, logged, app: Flask) -> None:  # type: ignore[no-untyped-def]
    before = audit_count(app)
    for path in ("/assessor/audit-log", "/assessor/audit-log.csv"):
        for method in ("post", "put", "delete", "patch"):
            assert getattr(assessor, method)(path).status_code == 405
    assert assessor.get("/assessor/audit-log?what=uji").status_code == 200
    assert audit_count(app) == before  # viewing writes nothing
    methods = {
        m
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("assessor.audit_log")
        for m in rule.methods
    }
    assert methods == {"GET", "HEAD", "OPTIONS"}


def test_csv_export_streams_in_batches(assessor, logged, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(audit_log_module, "EXPORT_BATCH", 2)
    text = assessor.get("/assessor/audit-log.csv?what=uji", buffered=True).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert [r[3] for r in rows[1:]] == ["uji.alpha.sub", "uji.beta", "uji.alpha"]

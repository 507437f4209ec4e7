"""Positions and their competency standards in the browser (issue 11, "Positions and standards").

The fixture position JF-UJ requires T.UJ.01 at level 3 and T.UJ.02 at level 2; an admin changes
it, the change is a new version with who, when and why, and a profile measured before the change
keeps the standard it was measured against.
"""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt_server.accounts.service import create_user
from cbt_server.db import write_transaction
from cbt_server.models import AuditEntry, PositionRequirement, StandardVersion, db
from tests.builders import RIGHT, finish
from tests.helpers import csrf_token, login, problems_table

FIXTURE_BANKS = "tests/fixtures/qb"


@pytest.fixture
def admin(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    with app.app_context(), write_transaction():
        create_user("admin-1", "sandi-admin-panjang", "admin", "Admin Satu")
    client = app.test_client()
    assert login(client, "admin-1", "sandi-admin-panjang").status_code == 302
    return client


def _post(client: FlaskClient, path: str, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return client.post(path, data={**fields, "csrf_token": csrf_token(page.get_data(as_text=True))})


def _standard(app: Flask, code: str) -> dict[str, int]:
    with app.app_context():
        return {
            r.competency_code: r.level
            for r in db.session.scalars(
                select(PositionRequirement).where(PositionRequirement.position_code == code)
            )
        }


def _versions(app: Flask, code: str) -> list[tuple[int, str, dict]]:
    with app.app_context():
        return [
            (v.number, v.source, v.levels)
            for v in db.session.scalars(
                select(StandardVersion)
                .where(StandardVersion.position_code == code)
                .order_by(StandardVersion.number)
            )
        ]


def _audit(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        db.session.expunge_all()
        return list(rows)


def _profile_required(client: FlaskClient, user_id: int, code: str) -> str:
    html = client.get(f"/assessor/people/{user_id}/profile").get_data(as_text=True)
    row = re.search(rf'<tr data-code="{re.escape(code)}">(.*?)</tr>', html, re.S)
    assert row, code
    cells = [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1], re.S)
    ]
    return cells[1]


def test_the_list_shows_each_position_with_its_standard_and_version(app: Flask, assessor) -> None:  # type: ignore[no-untyped-def]
    page = assessor.get("/admin/positions/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    row = re.search(r'<tr data-code="JF-UJ">(.*?)</tr>', html, re.S)
    assert row and "T.UJ.01: 3" in row[1] and "T.UJ.02: 2" in row[1]
    assert "v1" in row[1]  # the import made version 1
    assert 'data-testid="new-position"' not in html  # assessors read, admins change


def test_only_assessors_and_admins_reach_the_pages_and_only_admins_change(
    app: Flask, lab, assessor
) -> None:  # type: ignore[no-untyped-def]
    participant, proctor = app.test_client(), app.test_client()
    assert login(participant, *lab.participants[0]).status_code == 302
    assert login(proctor, *lab.proctors[0]).status_code == 302
    for client in (participant, proctor):
        for path in ("/admin/positions/", "/admin/positions/JF-UJ", "/admin/positions/new"):
            assert client.get(path).status_code == 403, path
    assert assessor.get("/admin/positions/new").status_code == 403
    page = assessor.get("/admin/positions/JF-UJ")
    assert page.status_code == 200
    forged = assessor.post(
        "/admin/positions/JF-UJ",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "name": "X", "reason": "x"},
    )
    assert forged.status_code == 403
    assert _standard(app, "JF-UJ") == {"T.UJ.01": 3, "T.UJ.02": 2}


def test_an_admin_adds_a_position_that_a_roster_then_accepts(app: Flask, admin, lab) -> None:  # type: ignore[no-untyped-def]
    sent = _post(
        admin,
        "/admin/positions/new",
        {
            "code": "kasi-uji",
            "name": "Kepala Seksi Uji",
            "position_type": "structural",
            "job_family": "",
            "level-T.UJ.01": "2",
            "level-T.UJ.02": "",
            "reason": "Jabatan baru di unit uji",
        },
    )
    assert sent.status_code == 302, sent.get_data(as_text=True)[:3000]
    assert _standard(app, "KASI-UJI") == {"T.UJ.01": 2}
    assert _versions(app, "KASI-UJI") == [(1, "browser", {"T.UJ.01": 2})]
    (entry,) = _audit(app, "position.create")
    assert entry.actor_label == "admin-1" and entry.target == "KASI-UJI"
    assert entry.reason == "Jabatan baru di unit uji"
    assert entry.details["levels_after"] == {"T.UJ.01": 2}
    # a roster may now give the new position (by name, as a unit's list says it)
    proctor = app.test_client()
    assert login(proctor, *lab.proctors[0]).status_code == 302
    page = proctor.get(f"/proctor/sessions/{lab.id}").get_data(as_text=True)
    roster = "NIP;Nama;Jabatan;Unit Kerja\n198703152010012001;Budi Santoso;Kepala Seksi Uji;Umum\n"
    sent = proctor.post(
        f"/proctor/sessions/{lab.id}/roster",
        data={"csrf_token": csrf_token(page), "file": (io.BytesIO(roster.encode()), "peserta.csv")},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302, problems_table(sent.get_data(as_text=True))
    with app.app_context():
        from cbt_server.models import User

        assert (
            db.session.scalar(select(User.position_code).where(User.nip == "198703152010012001"))
            == "KASI-UJI"
        )


def test_changing_a_standard_makes_a_new_version_and_old_profiles_keep_theirs(
    app: Flask, admin, assessor, lab, clock
) -> None:  # type: ignore[no-untyped-def]
    finish(app, lab, 0, RIGHT)
    with app.app_context():
        from cbt_server.models import User

        first = db.session.scalars(
            select(User.id).where(User.role == "participant").order_by(User.id)
        ).first()
    assert _profile_required(assessor, first, "T.UJ.01") == "3"
    clock.advance(3600)
    sent = _post(
        admin,
        "/admin/positions/JF-UJ",
        {
            "name": "Jabatan Fungsional Uji",
            "position_type": "functional",
            "job_family": "UJ",
            "level-T.UJ.01": "4",
            "level-T.UJ.02": "2",
            "reason": "Standar baru hasil analisis jabatan 2026",
        },
    )
    assert sent.status_code == 302
    assert _standard(app, "JF-UJ") == {"T.UJ.01": 4, "T.UJ.02": 2}
    assert [(n, s) for n, s, _levels in _versions(app, "JF-UJ")] == [(1, "import"), (2, "browser")]
    (entry,) = _audit(app, "position.update")
    assert entry.details["levels_before"] == {"T.UJ.01": 3, "T.UJ.02": 2}
    assert entry.details["levels_after"] == {"T.UJ.01": 4, "T.UJ.02": 2}
    assert entry.details["standard_version"] == 2
    # measured an hour before the change: still against version 1
    html = assessor.get(f"/assessor/people/{first}/profile").get_data(as_text=True)
    assert _profile_required(assessor, first, "T.UJ.01") == "3"
    assert 'data-testid="standard-version">(standar versi 1)' in html
    # someone measured after the change is compared with version 2
    clock.advance(60)
    finish(app, lab, 1, RIGHT)
    with app.app_context():
        from cbt_server.models import User

        second = db.session.scalars(
            select(User.id).where(User.role == "participant").order_by(User.id)
        ).all()[1]
    assert _profile_required(assessor, second, "T.UJ.01") == "4"
    # the edit page lists both versions, newest first, with who and why
    page = admin.get("/admin/positions/JF-UJ").get_data(as_text=True)
    history = re.search(r'data-testid="standard-versions".*?</table>', page, re.S)
    assert history and history[0].index("v2") < history[0].index("v1")
    assert "Admin Satu" in history[0] and "Standar baru hasil analisis jabatan 2026" in history[0]


def test_saving_the_same_standard_adds_no_version(app: Flask, admin) -> None:  # type: ignore[no-untyped-def]
    sent = _post(
        admin,
        "/admin/positions/JF-UJ",
        {
            "name": "Nama baru",
            "position_type": "functional",
            "job_family": "UJ",
            "level-T.UJ.01": "3",
            "level-T.UJ.02": "2",
            "reason": "Hanya nama",
        },
    )
    assert sent.status_code == 302
    assert len(_versions(app, "JF-UJ")) == 1
    (entry,) = _audit(app, "position.update")
    assert entry.details["fields"] == {"name": "Nama baru"}
    assert entry.details["standard_version"] is None


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"reason": ""}, "Alasan"),
        ({"level-T.UJ.01": "", "level-T.UJ.02": ""}, "Standar"),
        ({"position_type": "kontrak"}, "position_type"),
        ({"level-T.UJ.01": "7"}, "T.UJ.01"),
    ],
)
def test_a_bad_change_names_what_is_wrong_and_changes_nothing(
    app: Flask, admin, fields: dict[str, str], where: str
) -> None:  # type: ignore[no-untyped-def]
    base = {
        "name": "Jabatan Fungsional Uji",
        "position_type": "functional",
        "job_family": "UJ",
        "level-T.UJ.01": "4",
        "level-T.UJ.02": "2",
        "reason": "alasan",
    }
    sent = _post(admin, "/admin/positions/JF-UJ", {**base, **fields})
    assert sent.status_code == 400
    html = sent.get_data(as_text=True)
    if where == "position_type":
        assert "flash-error" in html
    else:
        table = re.search(r'data-testid="position-problems".*?</table>', html, re.S)
        assert table and f"<td>{where}</td>" in table[0], html[:2000]
    assert _standard(app, "JF-UJ") == {"T.UJ.01": 3, "T.UJ.02": 2}
    assert len(_versions(app, "JF-UJ")) == 1
    assert _audit(app, "position.update") == []


def test_integrity_scales_are_not_offered_for_a_standard(app: Flask, admin) -> None:  # type: ignore[no-untyped-def]
    page = admin.get("/admin/positions/JF-UJ").get_data(as_text=True)
    levels = re.search(r'data-testid="standard-levels".*?</table>', page, re.S)
    assert levels and 'name="level-T.UJ.01"' in levels[0]
    assert 'name="level-INT.UJ"' not in levels[0] and 'name="level-INT.SDUJ"' not in levels[0]


def test_a_new_position_with_a_code_in_use_is_refused(app: Flask, admin) -> None:  # type: ignore[no-untyped-def]
    sent = _post(
        admin,
        "/admin/positions/new",
        {
            "code": "JF-UJ",
            "name": "Dobel",
            "position_type": "functional",
            "job_family": "UJ",
            "level-T.UJ.01": "1",
            "reason": "coba",
        },
    )
    assert sent.status_code == 400
    assert "Jabatan JF-UJ sudah ada." in sent.get_data(as_text=True)
    assert _audit(app, "position.create") == []


def test_importing_the_bank_folder_again_keeps_an_admins_change(app: Flask, admin, runner) -> None:  # type: ignore[no-untyped-def]
    assert (
        _post(
            admin,
            "/admin/positions/JF-UJ",
            {
                "name": "Jabatan Fungsional Uji",
                "position_type": "functional",
                "job_family": "UJ",
                "level-T.UJ.01": "5",
                "level-T.UJ.02": "2",
                "reason": "dinaikkan",
            },
        ).status_code
        == 302
    )
    # every server start imports the folder; its own standard for JF-UJ has not changed
    result = runner.invoke(args=["banks", "import", FIXTURE_BANKS])
    assert result.exit_code == 0, result.output
    assert _standard(app, "JF-UJ") == {"T.UJ.01": 5, "T.UJ.02": 2}
    assert [n for n, _s, _l in _versions(app, "JF-UJ")] == [1, 2]


def test_a_renamed_position_keeps_its_name_over_a_restart(app: Flask, admin, runner) -> None:  # type: ignore[no-untyped-def]
    assert (
        _post(
            admin,
            "/admin/positions/JF-UJ",
            {
                "name": "Penguji Ahli Pertama",
                "position_type": "functional",
                "job_family": "UJ",
                "level-T.UJ.01": "3",
                "level-T.UJ.02": "2",
                "reason": "nama resmi",
            },
        ).status_code
        == 302
    )
    assert runner.invoke(args=["banks", "import", FIXTURE_BANKS]).exit_code == 0
    page = admin.get("/admin/positions/").get_data(as_text=True)
    row = re.search(r'<tr data-code="JF-UJ">(.*?)</tr>', page, re.S)
    assert row and "Penguji Ahli Pertama" in row[1]

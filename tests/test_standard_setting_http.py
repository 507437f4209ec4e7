"""Cut scores by the modified Angoff method through the browser: a study, three panelists,
the computed cuts, setting them with a reason, grading and regrading with them.

The fixture battery BAT-UJI (tests/fixtures/qb) draws all three items of T.UJ.01: U-SGL
(single, 1 point), U-MUL (multiple, 1 point) and U-TF (true/false, 1 point): a maximum of 3.
Its bank cuts are [40, 55, 70, 85]. T.UJ.02 draws U-SHORT (short, 2 points) and U-W (weighted,
maximum 4): a maximum of 6.
"""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from cbt_server.accounts.service import create_user
from cbt_server.db import write_transaction
from cbt_server.models import (
    AssessorScope,
    Attempt,
    AttemptRegrade,
    AttemptScore,
    AuditEntry,
    BatteryVersion,
    CutJudgement,
    CutScore,
    CutStudy,
    User,
    db,
)
from tests.builders import finish
from tests.helpers import audit_count, csrf_token, logged_in, login

BASE = "/assessor/batteries/BAT-UJI/cut-scores"
T1 = "T.UJ.01"
#: one right of three on T.UJ.01: 33.3333 % — level 1 by the bank (cut 40), 2 by the panel's
ONE_RIGHT = {"U-SGL": "B"}

#: What each panelist expects a person just reaching levels 2..5 to earn on each of T.UJ.01's
#: three items (U-MUL, partial credit, as expected points of its 1 point; the others as a
#: probability). By hand, a panelist's cut is 100 × (sum over the three items) / 3:
#: A 30, 50, 70, 90; B 20, 40, 60, 80; C 40, 60, 85, 100 — the panel's cuts are the means
#: 30, 50, 71.67, 90, and at every boundary but the third the SD is 10, the SE 10/√3 = 5.77.
PANEL = {
    "Dr. Ana": ["0,3", "0,5", "0,7", "0,9"],
    "Budi Santoso": ["0.2", "0.4", "0.6", "0.8"],
    "Citra": ["0,4", "0,6", "0,85", "1"],
}
CUTS = (30.0, 50.0, 71.67, 90.0)


def _version_id(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(BatteryVersion.id).where(BatteryVersion.code == "BAT-UJI"))


def _item_ids(app: Flask, codes: list[str]) -> dict[str, int]:
    from cbt_server.models import Item

    with app.app_context():
        return dict(
            db.session.execute(
                select(Item.item_code, Item.id).where(Item.item_code.in_(codes))
            ).all()
        )


def _open(app: Flask, client: FlaskClient, competency: str = T1) -> int:
    token = csrf_token(client.get(BASE).get_data(as_text=True))
    response = client.post(
        f"{BASE}/studies",
        data={
            "csrf_token": token,
            "battery_version_id": _version_id(app),
            "competency": competency,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    found = re.search(r"/studies/(\d+)$", response.headers["Location"])
    assert found, response.headers["Location"]
    return int(found.group(1))


def _judge(
    app: Flask,
    client: FlaskClient,
    study: int,
    name: str,
    per_item: dict[str, list[str]],
    token: str | None = "page",
):  # type: ignore[no-untyped-def]
    path = f"{BASE}/studies/{study}/panelist"
    ids = _item_ids(app, list(per_item))
    data = {"panelist": name}
    if token == "page":
        data["csrf_token"] = csrf_token(client.get(path).get_data(as_text=True))
    for code, values in per_item.items():
        for level, value in zip(range(2, 6), values, strict=True):
            data[f"v-{ids[code]}-{level}"] = value
    return client.post(path, data=data)


def _same_for_all(values: list[str]) -> dict[str, list[str]]:
    return {code: values for code in ("U-SGL", "U-MUL", "U-TF")}


def _level(app: Flask, attempt_id: int, code: str = T1) -> tuple[int | None, int | None]:
    with app.app_context():
        row = db.session.get(AttemptScore, (attempt_id, "competency", code))
        return row.level, row.cut_score_id


def _post(client: FlaskClient, path: str, page: str, **data: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=True)


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


def test_a_panel_sets_cuts_that_grade_new_attempts_and_a_regrade(
    app: Flask, lab, assessor: FlaskClient, clock
) -> None:  # type: ignore[no-untyped-def]
    earlier = finish(app, lab, 0, ONE_RIGHT)
    assert _level(app, earlier) == (1, None)  # 33.33 % < 40: the bank's level 1

    overview = _text(assessor.get(BASE))
    assert 'data-testid="cut-table"' in overview and "persentase tetap bank" in overview

    study = _open(app, assessor)
    page = f"{BASE}/studies/{study}"
    form = _text(assessor.get(f"{page}/panelist"))
    # each item as the participant sees it, with its key, as on the bank's item preview
    assert "Ibu kota Indonesia saat ini secara hukum adalah?" in form
    assert 'data-testid="key-value">B<' in form and 'data-testid="key-value">A, C<' in form
    assert audit_count(app, "cut_study.items_view") >= 1  # the keys were shown: audited

    for n, (name, values) in enumerate(PANEL.items()):
        response = _judge(app, assessor, study, name, _same_for_all(values))
        assert response.status_code == 302, _text(response)
        if n == 1:  # two panelists: computed, but too few to set
            refused = _post(assessor, f"{page}/set", page, **{"set-reason": "Terlalu dini"})
            assert "minimal 3 panelis" in _text(refused)
            with app.app_context():
                assert db.session.scalar(select(func.count()).select_from(CutScore)) == 0
    assert audit_count(app, "cut_study.judgements") == 3
    assert audit_count(app, "cut_study.open") == 1
    assert _open(app, assessor) == study  # the draft is opened again, not a second one
    assert audit_count(app, "cut_study.open") == 1

    shown = _text(assessor.get(page))
    for level, cut in zip(range(2, 6), ("30,00", "50,00", "71,67", "90,00"), strict=True):
        assert f'data-testid="cut-{level}">{cut}<' in shown
    assert "5,77" in shown  # the standard error of the first cut, 10 / √3
    assert 'data-testid="small-panel"' in shown  # 3 panelists: allowed, with a warning

    response = _post(assessor, f"{page}/set", page, **{"set-reason": "Rapat panel 3 Desember"})
    assert "Titik potong T.UJ.01 ditetapkan" in _text(response)
    with app.app_context():
        cut = db.session.scalar(select(CutScore))
        assessor_id = db.session.scalar(select(User.id).where(User.username == "asesor-1"))
        assert cut.cuts == CUTS and cut.method == "angoff" and cut.panelists == 3
        assert (cut.set_by_id, cut.set_at, cut.reason) == (
            assessor_id,
            clock.now(),
            "Rapat panel 3 Desember",
        )
        assert db.session.get(CutStudy, study).status == "set"
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "cut_scores.set"))
        assert entry.actor_label == "asesor-1" and entry.reason == "Rapat panel 3 Desember"
        assert entry.target == "BAT-UJI v1 T.UJ.01"
        assert entry.details["cuts"] == list(CUTS)
        assert entry.details["cuts_before"] == [40, 55, 70, 85]
        cut_id = cut.id

    # Graded after: the panel's cuts. Graded before: the bank's level, until a regrade.
    later = finish(app, lab, 1, ONE_RIGHT)
    assert _level(app, later) == (2, cut_id)
    assert _level(app, earlier) == (1, None)
    assert _level(app, later, "T.UJ.02")[1] is None  # other competencies keep the bank's

    shown = _text(assessor.get(page))
    assert 'data-testid="graded-before">1 percobaan' in shown
    sheet = _text(assessor.get(f"/assessor/sessions/{lab.id}/scores"))
    assert "T.UJ.01 — Angoff, ditetapkan" in sheet and "oleh Asesor Satu" in sheet
    assert "persentase tetap bank" in sheet  # the earlier attempt's level, not yet regraded

    response = _post(
        assessor, f"{page}/regrade", page, **{"regrade-reason": "Titik potong Angoff baru"}
    )
    assert "2 percobaan dinilai ulang; 1 berubah." in _text(response)
    assert _level(app, earlier) == (2, cut_id)
    with app.app_context():
        kept = db.session.scalar(select(AttemptRegrade).where(AttemptRegrade.attempt_id == earlier))
        before = {(s[0], s[1]): s[5] for s in kept.old_scores["scores"]}
        after = {(s[0], s[1]): s[5] for s in kept.new_scores["scores"]}
        assert before[("competency", T1)] == 1 and after[("competency", T1)] == 2
    assert audit_count(app, "battery.regrade") == 1

    with app.app_context():
        user_id = db.session.scalar(select(Attempt.user_id).where(Attempt.id == earlier))
    profile = _text(assessor.get(f"/assessor/people/{user_id}/profile"))
    assert 'data-testid="cut-sources"' in profile and "T.UJ.01 — Angoff, ditetapkan" in profile
    overview = _text(assessor.get(BASE))
    assert 'data-testid="cut-source-T.UJ.01">Angoff, ditetapkan' in overview


def test_cuts_out_of_order_are_refused_and_nothing_is_stored(
    app: Flask, lab, assessor: FlaskClient
) -> None:  # type: ignore[no-untyped-def]
    study = _open(app, assessor, "T.UJ.02")
    page = f"{BASE}/studies/{study}"
    # U-SHORT (probability of its 2 points) and U-W (expected points of 4): the sums are
    # 1.8, 3.6, 3.0 and 5.4 of 6, so the cuts 30, 60, 50, 90: level 4's is below level 3's.
    judged = {"U-SHORT": ["0,3", "0,6", "0,5", "0,9"], "U-W": ["1,2", "2,4", "2", "3,6"]}
    for name in ("A", "B", "C"):
        assert _judge(app, assessor, study, name, judged).status_code == 302
    message = "Titik potong level 4 (50,00) tidak lebih tinggi dari titik potong level 3 (60,00)."
    assert message in _text(assessor.get(page))
    response = _post(assessor, f"{page}/set", page, **{"set-reason": "Coba tetapkan"})
    assert message in _text(response)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CutScore)) == 0
        assert db.session.get(CutStudy, study).status == "draft"
    assert audit_count(app, "cut_scores.set") == 0


def test_judgements_out_of_range_or_missing_store_nothing(
    app: Flask, lab, assessor: FlaskClient
) -> None:  # type: ignore[no-untyped-def]
    study = _open(app, assessor)
    values = _same_for_all(["0,3", "0,5", "0,7", "0,9"])
    values["U-SGL"] = ["0,3", "1,5", "0,7", ""]
    response = _judge(app, assessor, study, "Dr. Ana", values)
    assert response.status_code == 422
    text = _text(response)
    assert "Butir U-SGL, level 3: harus antara 0 dan 1,0." in text
    assert "Butir U-SGL, level 5: belum diisi atau bukan angka." in text
    assert 'value="1,5"' in text  # what was typed stays in the form
    no_name = _judge(app, assessor, study, "  ", _same_for_all(["0,3", "0,5", "0,7", "0,9"]))
    assert no_name.status_code == 422 and "Tuliskan nama panelis" in _text(no_name)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CutJudgement)) == 0
    assert audit_count(app, "cut_study.judgements") == 0


def test_a_post_without_the_csrf_token_is_refused(app: Flask, lab, assessor: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    study = _open(app, assessor)
    values = _same_for_all(["0,3", "0,5", "0,7", "0,9"])
    assert _judge(app, assessor, study, "Dr. Ana", values, token=None).status_code == 400
    response = assessor.post(f"{BASE}/studies/{study}/set", data={"set-reason": "Tanpa token"})
    assert response.status_code == 400
    response = assessor.post(
        f"{BASE}/studies", data={"battery_version_id": _version_id(app), "competency": T1}
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CutJudgement)) == 0
        assert db.session.scalar(select(func.count()).select_from(CutStudy)) == 1


def test_only_assessors_with_lab_wide_reach(app: Flask, lab, assessor: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    study = _open(app, assessor)
    paths = (BASE, f"{BASE}/studies/{study}", f"{BASE}/studies/{study}/panelist")
    with app.app_context(), write_transaction():
        limited = create_user("asesor-unit", "sandi-unit", "assessor", "Asesor Unit")
        db.session.flush()
        db.session.add(AssessorScope(user_id=limited.id, unit="Unit Uji"))
    limited = logged_in(app, "asesor-unit", "sandi-unit")
    token = csrf_token(limited.get("/assessor/").get_data(as_text=True))
    for path in paths:
        assert limited.get(path).status_code == 403, path
    for tail in ("/studies", f"/studies/{study}/set", f"/studies/{study}/regrade"):
        response = limited.post(BASE + tail, data={"csrf_token": token, "set-reason": "x" * 9})
        assert response.status_code == 403, tail
    assert "cut-scores" not in limited.get("/assessor/").get_data(as_text=True)

    participant, proctor = app.test_client(), app.test_client()
    assert login(participant, *lab.participants[2]).status_code == 302
    assert login(proctor, *lab.proctors[0]).status_code == 302
    for client in (participant, proctor):
        for path in paths:
            assert client.get(path).status_code == 403, path
    anonymous = app.test_client().get(BASE)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CutScore)) == 0


@pytest.mark.parametrize("tail", ["", "/panelist"])
def test_a_study_of_another_battery_or_none_leads_back(
    app: Flask, lab, assessor: FlaskClient, tail: str
) -> None:  # type: ignore[no-untyped-def]
    response = assessor.get(f"{BASE}/studies/999{tail}", follow_redirects=True)
    assert response.status_code == 200
    assert "Studi penetapan titik potong tidak ditemukan." in _text(response)
    assert assessor.get("/assessor/batteries/TIDAK-ADA/cut-scores").status_code == 404

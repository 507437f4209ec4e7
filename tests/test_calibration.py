"""Calibrating a bank from stored responses (assessment/calibration.py): through the service,
the ``banks calibrate`` command and the assessor's pages, on a real database.

Graded attempts of the fixture bank UJI (tests/fixtures/qb) are bulk-inserted with item scores
as grading stores them, answers drawn from a Rasch model; the stored difficulties are compared
with ``calibrate_rasch`` run directly on the 0/1 matrix the test builds from the same scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, insert, select

from cbt_server.accounts.service import create_user
from cbt_server.analytics import irt
from cbt_server.analytics.irt import full_marks
from cbt_server.assessment.calibration import CalibrationRefused, calibrate_bank, fit_band
from cbt_server.assessment.item_matrix import bank_matrix
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import (
    AssessorScope,
    Attempt,
    AttemptItem,
    AuditEntry,
    BatteryVersion,
    Calibration,
    CalibrationItem,
    Enrolment,
    ExamSession,
    Item,
    Response,
    User,
    db,
)
from tests.builders import RIGHT, finish
from tests.helpers import audit_count, csrf_token, logged_in

#: the fixture bank's items in the order every generated attempt shows them
ITEMS = ["U-SGL", "U-MUL", "U-TF", "U-SHORT", "U-W", "U-L1", "U-L2", "U-SD"]
DICHOTOMOUS = ITEMS[:4]
EXCLUDED = ITEMS[4:]  # weighted and Likert
MAX = np.array([1, 1, 1, 2, 4, 5, 5, 5], dtype=float)
SECTION = [0, 0, 0, 1, 1, 1, 1, 1]
#: generating Rasch difficulties of the 0/1 items (logits)
B = np.array([-0.5, 0.4, -1.2, 0.9])
BASE = "/assessor/banks/UJI/calibrations"


@dataclass
class Taken:
    session_id: int
    code: str
    #: (N, 8) stored item scores in ITEMS order, NaN where not presented
    scores: np.ndarray

    @property
    def binary(self) -> np.ndarray:
        """The 0/1 matrix of the four dichotomous items, worked out here from the scores."""
        x = self.scores[:, :4]
        return np.where(np.isnan(x), np.nan, (x == MAX[:4]).astype(float))


def _answers(rng: np.random.Generator, theta: np.ndarray) -> tuple[list[list], np.ndarray]:
    """(answers, scores) per person × item, as the exam stores and grading scores them."""
    n = len(theta)
    right = rng.random((n, 4)) < 1 / (1 + np.exp(-(theta[:, None] - B[None, :])))
    partial = rng.random(n) < 0.5  # U-MUL: one of the two keyed options, half the points
    answers = [[None] * 8 for _ in range(n)]
    scores = np.zeros((n, 8))
    for p in range(n):
        answers[p][0], scores[p, 0] = (["B"], 1.0) if right[p, 0] else (["A"], 0.0)
        if right[p, 1]:
            answers[p][1], scores[p, 1] = ["A", "C"], 1.0
        elif partial[p]:
            answers[p][1], scores[p, 1] = ["A"], 0.5
        else:
            answers[p][1], scores[p, 1] = ["B"], 0.0
        answers[p][2], scores[p, 2] = (["A"], 1.0) if right[p, 2] else (["B"], 0.0)
        answers[p][3], scores[p, 3] = ("garuda", 2.0) if right[p, 3] else ("elang", 0.0)
        weight = {"A": 1.0, "B": 4.0, "C": 3.0, "D": 2.0}
        label = "ABCD"[int(rng.integers(4))]
        answers[p][4], scores[p, 4] = [label], weight[label]
        for k in (5, 6, 7):
            point = int(rng.integers(1, 6))
            answers[p][k], scores[p, k] = [str(point)], float(6 - point if k == 6 else point)
    return answers, scores


def seed(
    app: Flask,
    code: str,
    people: int,
    *,
    seed: int,
    shown: float = 0.85,
    never: tuple[str, ...] = (),
    theta_mean: float = 0.0,
) -> Taken:
    """A session of ``people`` submitted attempts of BAT-UJI with graded responses; each item
    is presented with probability ``shown`` (all of them to the first person), ``never`` not
    at all; a few presented items are left blank."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(theta_mean, 1.0, size=people)
    answers, scores = _answers(rng, theta)
    presented = rng.random((people, 8)) < shown
    presented[0] = True
    presented[:, [ITEMS.index(c) for c in never]] = False
    blank = (rng.random((people, 8)) < 0.03) & presented
    blank[0] = False
    scores[blank] = 0.0
    scores[~presented] = np.nan
    with app.app_context(), write_transaction():
        at = now() - timedelta(hours=1)
        battery = db.session.scalar(
            select(BatteryVersion.id).where(BatteryVersion.code == "BAT-UJI").limit(1)
        )
        item_ids = dict(
            db.session.execute(
                select(Item.item_code, Item.id).where(Item.item_code.in_(ITEMS))
            ).all()
        )
        session = ExamSession(
            code=code, name=f"Sesi {code}", battery_version_id=battery, room="Lab 1",
            starts_at=at - timedelta(hours=1), ends_at=at + timedelta(hours=1),
            token="KALIB7", created_at=at,
        )  # fmt: skip
        db.session.add(session)
        db.session.flush()
        users = _ids(
            User,
            [
                {"username": f"{code.lower()}-{p:04d}", "password_hash": "x"}
                | {"role": "participant", "full_name": f"Peserta {p}", "created_at": at}
                | {"nip": f"1995{session.id:04d}{p:010d}", "unit": "Unit Lain"}
                for p in range(people)
            ],
        )
        enrolments = _ids(Enrolment, [{"session_id": session.id, "user_id": u} for u in users])
        attempts = _ids(
            Attempt,
            [
                {"enrolment_id": e, "user_id": u, "session_id": session.id}
                | {"battery_version_id": battery, "state": "submitted", "seed": 1}
                | {"started_at": at, "deadline_at": at, "finished_at": at}
                for u, e in zip(users, enrolments, strict=True)
            ],
        )
        frozen, responses = [], []
        for p, attempt_id in enumerate(attempts):
            position = 0
            for k, item in enumerate(ITEMS):
                if not presented[p, k]:
                    continue
                frozen.append(
                    {"attempt_id": attempt_id, "position": position, "section_index": SECTION[k]}
                    | {"item_id": item_ids[item], "option_order": []}
                )
                responses.append(
                    {"attempt_id": attempt_id, "position": position, "client_seq": 1}
                    | {"answer": None if blank[p, k] else answers[p][k]}
                    | {"score": float(scores[p, k]), "max_score": float(MAX[k])}
                )
                position += 1
        db.session.execute(insert(AttemptItem), frozen)
        db.session.execute(insert(Response), responses)
        session_id = session.id
    return Taken(session_id, code, scores)


def _ids(model, values: list[dict]) -> list[int]:  # type: ignore[no-untyped-def]
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(db.session.scalars(statement, values))


def _stored(app: Flask, version: int) -> dict[str, CalibrationItem]:
    with app.app_context():
        items = db.session.scalars(
            select(CalibrationItem)
            .join(Calibration)
            .where(Calibration.bank_code == "UJI", Calibration.version == version)
        ).all()
        db.session.expunge_all()
        return {i.item_code: i for i in items}


def _calibration(app: Flask, version: int) -> Calibration:
    with app.app_context():
        row = db.session.scalar(
            select(Calibration).where(
                Calibration.bank_code == "UJI", Calibration.version == version
            )
        )
        db.session.expunge_all()
        return row


def _count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Calibration)) or 0


def _run(app: Flask, codes: list[str], **options) -> object:  # type: ignore[no-untyped-def]
    with app.app_context():
        return calibrate_bank(None, "UJI", codes, **options)


# ---- the 0/1 rule and the matrix ------------------------------------------------------------


def test_full_marks_is_one_and_anything_less_is_zero():
    scores = np.array([[1.0, 0.5, 2.0, np.nan], [0.0, 1.0, 1.999, 3.0]])
    got = full_marks(scores, np.array([1.0, 1.0, 2.0, 3.0]))
    assert np.array_equal(got, [[1, 0, 1, np.nan], [0, 1, 0, 1]], equal_nan=True)
    assert fit_band(1.0, 1.6) == "noisy" and fit_band(0.4, 1.0) == "overfit"
    assert fit_band(None, 0.6) == "productive" and fit_band(None, None) is None


def test_graded_attempts_give_the_matrix_the_rule_reads(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    """Attempts taken through the exam API: the bank's matrix holds the scores grading stored,
    so the multiple-response item answered half right is 0 and answered right is 1."""
    finish(app, lab, 0, RIGHT)
    finish(app, lab, 1, {**RIGHT, "U-MUL": ["A"], "U-SGL": "C"})
    with app.app_context():
        matrix = bank_matrix("UJI", [lab.id])
        assert bank_matrix("TIDAK-ADA", [lab.id]) is None
    assert matrix is not None and matrix.n_people == 2
    column = {code.split("/")[1]: k for k, code in enumerate(matrix.item_codes)}
    assert set(column) == set(ITEMS)
    k = [column[c] for c in DICHOTOMOUS]
    x = full_marks(matrix.scores[:, k], matrix.max_points[k])
    assert x.tolist() == [[1, 1, 1, 1], [0, 0, 1, 1]]
    assert matrix.scores[1, column["U-MUL"]] == 0.5  # partial credit, read as 0


# ---- the service --------------------------------------------------------------------------


def test_stored_difficulties_are_the_rasch_calibration_of_the_matrix(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    taken = seed(app, "K-A", 300, seed=1)
    outcome = _run(app, ["K-A"], note="Uji pertama")
    direct = irt.calibrate_rasch(taken.binary)
    fit = irt.item_fit(taken.binary, direct)
    stored = _stored(app, 1)
    assert outcome.version == 1 and outcome.calibrated == 4 and outcome.persons == direct.persons
    for k, code in enumerate(DICHOTOMOUS):
        item = stored[code]
        assert item.status == "calibrated"
        assert item.difficulty == pytest.approx(direct.difficulty[k], abs=1e-9)
        assert item.difficulty_se == pytest.approx(direct.difficulty_se[k], abs=1e-9)
        assert item.discrimination == 1.0
        assert item.n == direct.n[k] and item.correct == np.nansum(taken.binary[:, k])
        assert item.infit == pytest.approx(fit.infit[k], abs=1e-9)
        assert item.outfit == pytest.approx(fit.outfit[k], abs=1e-9)
        assert item.fit_category == fit_band(fit.infit[k], fit.outfit[k])
    # the generating order comes back (300 persons: SEs ~0.14)
    got = np.array([stored[c].difficulty for c in DICHOTOMOUS])
    assert np.argsort(got).tolist() == np.argsort(B).tolist()
    for code in EXCLUDED:
        assert stored[code].status == "excluded" and stored[code].difficulty is None
        assert stored[code].n == int((~np.isnan(taken.scores[:, ITEMS.index(code)])).sum())
    row = _calibration(app, 1)
    assert row.model == "rasch" and row.sessions == [{"id": taken.session_id, "code": "K-A"}]
    assert row.persons == direct.persons and row.responses == int(direct.n.sum())
    assert row.population_mean == 0 and row.population_sd == pytest.approx(direct.population_sd)
    assert row.log_likelihood == pytest.approx(direct.log_likelihood)
    assert row.converged and row.iterations == direct.iterations
    assert row.anchored_to_id is None and row.created_by_id is None and row.note == "Uji pertama"
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "calibration.run")
        ).one()
        assert (entry.actor_label, entry.target) == ("cli", "UJI v1")
        assert entry.details["sessions"] == ["K-A"] and entry.details["items_calibrated"] == 4


def test_versions_count_up_and_anchors_keep_the_earlier_difficulties(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    seed(app, "K-A", 300, seed=2, never=("U-SHORT",))
    later = seed(app, "K-B", 300, seed=3, theta_mean=0.7)
    first = _run(app, ["K-A"])
    assert first.version == 1 and "U-SHORT" not in _stored(app, 1)
    assert _run(app, ["K-B"]).version == 2  # not linked: its own population at 0
    linked = _run(app, ["K-B"], anchor_previous=True)
    assert linked.version == 3 and linked.anchored_to_version == 2
    anchors = {c: i.difficulty for c, i in _stored(app, 2).items() if i.status == "calibrated"}
    stored = _stored(app, 3)
    for code, difficulty in anchors.items():
        assert stored[code].status == "anchor" and stored[code].difficulty == difficulty
    # anchored to the unlinked v2 of the same data: the same scale again
    assert _calibration(app, 3).population_mean == pytest.approx(0, abs=1e-3)

    # Anchored to v1 (a population at 0): K-B's abler people move the scale; U-SHORT is new.
    with app.app_context(), write_transaction():
        db.session.execute(Calibration.__table__.delete().where(Calibration.version > 1))
    linked = _run(app, ["K-B"], anchor_previous=True)
    assert linked.version == 2 and linked.anchors == 3
    v1, v2 = _stored(app, 1), _stored(app, 2)
    column = {c: k for k, c in enumerate(DICHOTOMOUS)}
    direct = irt.calibrate_rasch(
        later.binary, {column[c]: v1[c].difficulty for c in ("U-SGL", "U-MUL", "U-TF")}
    )
    for code in ("U-SGL", "U-MUL", "U-TF"):
        assert v2[code].status == "anchor" and v2[code].difficulty == v1[code].difficulty
        assert v2[code].difficulty_se == 0
    assert v2["U-SHORT"].status == "calibrated"
    assert v2["U-SHORT"].difficulty == pytest.approx(direct.difficulty[3], abs=1e-9)
    row = _calibration(app, 2)
    assert row.anchored_to_id == _calibration(app, 1).id and row.anchors == 3
    assert row.population_mean == pytest.approx(direct.population_mean, abs=1e-9)
    assert 0.3 < row.population_mean < 1.1  # generated at 0.7


def test_the_2pl_is_stored_like_the_rasch(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    taken = seed(app, "K-A", 400, seed=4, shown=0.9)
    outcome = _run(app, ["K-A"], model="2pl")
    direct = irt.calibrate_2pl(taken.binary)
    stored = _stored(app, 1)
    assert outcome.model == "2pl"
    for k, code in enumerate(DICHOTOMOUS):
        assert stored[code].status == direct.status[k]
        if direct.status[k] == "calibrated":
            assert stored[code].discrimination == pytest.approx(direct.discrimination[k], abs=1e-9)
            assert stored[code].difficulty == pytest.approx(direct.difficulty[k], abs=1e-9)
    assert any(stored[c].status == "calibrated" for c in DICHOTOMOUS)
    with pytest.raises(CalibrationRefused) as refused:  # no earlier Rasch calibration
        _run(app, ["K-A"], anchor_previous=True)
    assert refused.value.kind == "no_previous"


@pytest.mark.parametrize(
    ("codes", "options", "kind", "words"),
    [
        (["K-A", "K-NOPE", "K-NADA"], {}, "unknown_sessions", "K-NOPE, K-NADA"),
        ([], {}, "no_sessions", "--sessions"),
        (["K-KECIL"], {}, "too_few", "30 responses"),
        (["S-01"], {}, "no_responses", "S-01"),
        (["K-A"], {"anchor_previous": True}, "no_previous", "no earlier rasch"),
        (["K-A"], {"model": "3pl"}, "model", "3pl"),
        (["K-A"], {"note": "x" * 1001}, "note", "1000"),
    ],
)
def test_refusals_say_why_and_store_nothing(app: Flask, lab, codes, options, kind, words) -> None:  # type: ignore[no-untyped-def]
    seed(app, "K-A", 40, seed=5)
    seed(app, "K-KECIL", 12, seed=6)
    with pytest.raises(CalibrationRefused) as refused:
        _run(app, codes, **options)
    assert refused.value.kind == kind
    assert words in str(refused.value) and "nothing was stored" in str(refused.value)
    assert _count(app) == 0 and audit_count(app, "calibration.run") == 0


def test_an_unknown_bank_is_refused(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), pytest.raises(CalibrationRefused) as refused:
        calibrate_bank(None, "TIDAK-ADA", ["S-01"])
    assert "bank 'TIDAK-ADA': no such bank" in str(refused.value)
    assert _count(app) == 0


def test_anchors_not_presented_are_refused(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    seed(app, "K-A", 200, seed=7, never=("U-SHORT",))
    seed(app, "K-B", 200, seed=8, never=("U-SGL", "U-MUL", "U-TF"))
    _run(app, ["K-A"])
    with pytest.raises(CalibrationRefused) as refused:
        _run(app, ["K-B"], anchor_previous=True)
    assert refused.value.kind == "no_anchor_items" and "version 1" in str(refused.value)
    assert _count(app) == 1


# ---- the command --------------------------------------------------------------------------


def test_the_command_prints_a_summary(app: Flask, lab, runner: FlaskCliRunner) -> None:  # type: ignore[no-untyped-def]
    seed(app, "K-A", 300, seed=9)
    seed(app, "K-B", 300, seed=10)
    result = runner.invoke(
        args=["banks", "calibrate", "UJI", "--sessions", "K-A,K-B", "--note", "dua sesi"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "bank UJI: calibration v1 stored (rasch)"
    assert lines[1].startswith("persons: 600, responses: ")
    assert lines[2] == "items calibrated: 4; not calibrated: 4 (excluded 4)"
    assert lines[3].startswith("population: mean 0.000, SD ")
    assert lines[4].startswith("converged: yes (")
    assert lines[5].startswith("misfitting items (infit or outfit outside 0.5-1.5): ")
    assert _calibration(app, 1).sessions[1]["code"] == "K-B"
    result = runner.invoke(
        args=["banks", "calibrate", "UJI", "--sessions", "K-B", "--anchor-previous"]
    )
    assert result.exit_code == 0, result.output
    assert "calibration v2 stored (rasch, anchored to v1 (4 anchor items))" in result.output


def test_command_errors_change_nothing(app: Flask, lab, runner: FlaskCliRunner) -> None:  # type: ignore[no-untyped-def]
    seed(app, "K-KECIL", 12, seed=11)
    for args, words in (
        (["NOPE", "--sessions", "K-KECIL"], "bank 'NOPE': no such bank"),
        (["UJI", "--sessions", "K-X"], "no such session: K-X"),
        (["UJI", "--sessions", "K-KECIL"], "most responses to one item: "),
        (["UJI", "--sessions", "K-KECIL", "--anchor-previous"], "no earlier rasch"),
    ):
        result = runner.invoke(args=["banks", "calibrate", *args])
        assert result.exit_code == 1, result.output
        assert words in result.output and "nothing was stored" in result.output
    assert _count(app) == 0 and audit_count(app, "calibration.run") == 0
    assert runner.invoke(args=["banks", "calibrate", "UJI"]).exit_code == 2  # --sessions needed


# ---- the pages ----------------------------------------------------------------------------


def test_the_assessor_calibrates_from_the_page(app: Flask, lab, assessor: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    seed(app, "K-A", 300, seed=12)
    seed(app, "K-KECIL", 12, seed=13)
    desk = assessor.get("/assessor/").get_data(as_text=True)
    assert f'href="{BASE}"' in desk and 'data-testid="calibrations-UJI"' in desk
    page = assessor.get(BASE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Bank ini belum pernah dikalibrasi" in html
    assert 'data-testid="session-K-A"' in html and 'data-testid="session-K-KECIL"' in html
    assert 'data-testid="session-S-01"' not in html  # no graded attempt yet
    token = csrf_token(html)

    refused = assessor.post(BASE, data={"csrf_token": token, "session": "K-KECIL"})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert 'data-testid="calibration-refused"' in text and "Tidak ada yang disimpan" in text
    assert 'value="K-KECIL" checked' in text
    assert _count(app) == 0

    done = assessor.post(
        BASE,
        data={"csrf_token": token, "session": "K-A", "model": "rasch", "note": "Dari halaman"},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(f"{BASE}/1")
    one = assessor.get(f"{BASE}/1").get_data(as_text=True)
    assert "Kalibrasi versi 1" in one and 'data-testid="calibration-persons">' in one
    stored = _stored(app, 1)
    order = sorted(DICHOTOMOUS, key=lambda c: stored[c].difficulty)
    table = one.split('data-testid="calibration-items"')[1].split("</table>")[0]
    assert [table.index(f'data-item="{c}"') for c in order] == sorted(
        table.index(f'data-item="{c}"') for c in order
    )  # easiest first
    others = one.split('data-testid="not-calibrated"')[1]
    for code in EXCLUDED:
        assert f'data-item="{code}" data-status="excluded"' in others
    assert "jenis butir dikecualikan" in others
    listing = assessor.get(BASE).get_data(as_text=True)
    assert 'data-version="1"' in listing and "Asesor Satu" in listing and "Dari halaman" in listing
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "calibration.run")
        ).one()
        assert (entry.actor_label, entry.target) == ("asesor-1", "UJI v1")
        assert entry.chain_seq is not None and entry.row_hash
    assert _calibration(app, 1).created_by_id == entry.actor_id

    again = assessor.post(
        BASE, data={"csrf_token": token, "session": "K-A", "anchor_previous": "y"}
    )
    assert again.headers["Location"].endswith(f"{BASE}/2")
    two = assessor.get(f"{BASE}/2").get_data(as_text=True)
    assert "4 butir dari versi 1" in two
    missing = assessor.get(f"{BASE}/9", follow_redirects=True)
    assert "Kalibrasi versi 9 tidak ada" in missing.get_data(as_text=True)
    assert assessor.get("/assessor/banks/NOPE/calibrations").status_code == 404
    assert assessor.get("/assessor/banks/NOPE/calibrations/1").status_code == 404


def test_post_without_csrf_is_refused(app: Flask, lab, assessor: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    seed(app, "K-A", 300, seed=14)
    assert assessor.post(BASE, data={"session": "K-A"}).status_code == 400
    assert _count(app) == 0


def test_a_limited_assessor_gets_403(app: Flask, lab, assessor: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    seed(app, "K-A", 300, seed=15)
    assert _run(app, ["K-A"]).version == 1
    with app.app_context(), write_transaction():
        limited = create_user("asesor-unit", "sandi-unit", "assessor", "Asesor Unit")
        db.session.flush()
        db.session.add(AssessorScope(user_id=limited.id, unit="Unit Uji"))
    client = logged_in(app, "asesor-unit", "sandi-unit")
    desk = client.get("/assessor/").get_data(as_text=True)
    assert "/calibrations" not in desk
    token = csrf_token(desk)
    for path in (BASE, f"{BASE}/1"):
        assert client.get(path).status_code == 403, path
    assert client.post(BASE, data={"csrf_token": token, "session": "K-A"}).status_code == 403
    assert _count(app) == 1
    assert assessor.get(f"{BASE}/1").status_code == 200  # the unlimited assessor still does

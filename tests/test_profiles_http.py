"""Profiles and group views through the assessor's pages, from attempts taken through the API.

The fixture position JF-UJ requires T.UJ.01 at level 3 and T.UJ.02 at level 2; BAT-UJI's level
cuts are 40/55/70/85 % and its validity flag is at 80 %.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from cbt_server.models import Attempt, AttemptScore, User, db
from tests.builders import RIGHT, csv_bytes, finish, upload
from tests.helpers import audit_count


@pytest.fixture
def taken(app: Flask, lab, assessor):  # type: ignore[no-untyped-def]
    """Participant 1 answers everything right, 2 nearly nothing, 3 is absent."""
    finish(app, lab, 0, {**RIGHT, "U-L1": "4", "U-L2": "2", "U-SD": "5"})
    finish(app, lab, 1, {"U-SGL": "A", "U-W": "B", "U-L1": "1", "U-SD": "2"})
    with app.app_context():
        ids = list(
            db.session.scalars(select(User.id).where(User.role == "participant").order_by(User.id))
        )
        nips = list(
            db.session.scalars(select(User.nip).where(User.role == "participant").order_by(User.id))
        )
    return ids, nips


def _graded_before_bands(app: Flask, user_id: int) -> None:
    """As if the person's attempt had been graded before levels had bands and the chance check
    (migration 0010): plain levels, nothing judged."""
    with app.app_context():
        attempt_ids = select(Attempt.id).where(Attempt.user_id == user_id)
        for score in db.session.scalars(
            select(AttemptScore).where(AttemptScore.attempt_id.in_(attempt_ids))
        ):
            score.level_low = score.level_high = score.quality = score.chance_p = None
        db.session.commit()


def _row(html: str, code: str) -> list[str]:
    match = re.search(rf'<tr data-code="{re.escape(code)}">(.*?)</tr>', html, re.S)
    assert match, code
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)
    ]


def test_profile_shows_gaps_jpm_strengths_and_validity_warning(app: Flask, taken, assessor):  # type: ignore[no-untyped-def]
    (best, weak, _absent), _nips = taken
    page = assessor.get(f"/assessor/people/{best}/profile")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # standard, test level, gap for both technical competencies: 3 of 3 items right is 100 %,
    # whose ±1 SE Wilson band over 3 items is 75–100 % → levels 4–5 (cuts 40/55/70/85)
    assert _row(html, "T.UJ.01")[1:4] == ["3", "4–5 (tidak pasti)", "+2"]
    assert _row(html, "T.UJ.02")[1:4] == ["2", "3–5 (tidak pasti)", "+3"]
    assert 'data-testid="provisional"' in html and "sementara" in html
    # JPM = (5 + 5) / (3 + 2) × 100, capped at 100; its low end (4 + 3) / 5 is capped too
    assert re.search(r'data-testid="jpm">.*?100,00 %', html, re.S)
    assert 'data-testid="jpm-category">Optimal<' in html
    assert 'data-testid="strengths"' in html and 'data-testid="areas"' not in html
    # the lie scale at 100 % of its maximum is over the battery's 80 %
    assert 'data-testid="validity-warning"' in html and "Peringatan validitas" in html
    svg = re.search(r"<svg.*?</svg>", html, re.S)
    assert svg is not None
    ET.fromstring(svg.group(0))  # noqa: S314 (our own page) server-side chart, well-formed
    assert "<script" not in html
    assert audit_count(app, "profile.view") == 1


def test_scores_that_guessing_reaches_are_not_measured_and_leave_the_jpm_without_category(
    app: Flask, taken, assessor
) -> None:  # type: ignore[no-untyped-def]
    """0 of 3 on T.UJ.01 and one weighted item at its best option on T.UJ.02: random
    responding reaches both often, so neither counts, never a level 1 that would weigh on the
    JPM (docs/psychometrics.md, "Levels with their error")."""
    (_best, weak, _absent), _nips = taken
    html = assessor.get(f"/assessor/people/{weak}/profile").get_data(as_text=True)
    assert _row(html, "T.UJ.01")[1:4] == ["3", "tidak terukur", "—"]
    assert _row(html, "T.UJ.02")[1:4] == ["2", "tidak terukur", "—"]
    assert 'data-testid="jpm-category"' not in html
    invalid = re.search(r'data-testid="jpm-invalid">(.*?)</p>', html, re.S)
    assert invalid and "T.UJ.01" in invalid.group(1) and "tes ulang" in invalid.group(1)
    assert 'data-testid="development"' not in html  # no gap measured, nothing to plan from


def test_areas_to_develop_come_with_suggested_activities(app: Flask, taken, assessor):  # type: ignore[no-untyped-def]
    """Scores graded before bands and the chance check were stored keep their plain levels."""
    (_best, weak, _absent), _nips = taken
    _graded_before_bands(app, weak)
    html = assessor.get(f"/assessor/people/{weak}/profile").get_data(as_text=True)
    # U-SGL wrong: T.UJ.01 0/3 → level 1 (gap −2); U-W weight 4 of 4 only: T.UJ.02 4/6 = 66.7 %
    # → level 3 (gap +1). JPM = (1 + 3) / (3 + 2) = 80 % → "Cukup Optimal" (78 ≤ JPM < 90).
    assert _row(html, "T.UJ.01")[1:4] == ["3", "1", "-2"]
    assert _row(html, "T.UJ.02")[1:4] == ["2", "3", "+1"]
    assert re.search(r'data-testid="jpm">.*?80,00 %', html, re.S)
    assert 'data-testid="jpm-category">Cukup Optimal<' in html
    development = re.search(r'data-testid="development">(.*?)</table>', html, re.S)
    assert development and "T.UJ.01" in development.group(1)
    # the shipped table has no T.UJ entry: its default for a gap of two or more applies
    assert "Pelatihan klasikal atau bimbingan teknis" in development.group(1)
    assert 'data-testid="validity-warning"' not in html
    # selection scale on request: 80 % is "Memenuhi Syarat" there (≥ 80)
    selection = assessor.get(f"/assessor/people/{weak}/profile?scale=selection")
    assert 'data-testid="jpm-category">Memenuhi Syarat<' in selection.get_data(as_text=True)


def test_self_supervisor_and_performance_sit_beside_the_test(app: Flask, taken, assessor):  # type: ignore[no-untyped-def]
    (best, _weak, _absent), (nip1, _nip2, _nip3) = taken
    ratings = [["NIP", "Kompetensi", "Level", "Periode"], [nip1, "T.UJ.01", "4", "2026"]]
    assert upload(assessor, "self", "diri.csv", csv_bytes(ratings)).status_code == 302
    ratings[1][2] = "2,5"
    assert upload(assessor, "supervisor", "atasan.csv", csv_bytes(ratings)).status_code == 302
    skp = [
        ["NIP", "Periode", "Indikator", "Target", "Realisasi", "Satuan", "Predikat"],
        [nip1, "2026", "Laporan supervisi", "12", "9", "laporan", "Sangat Baik"],
    ]
    assert upload(assessor, "performance", "skp.csv", csv_bytes(skp)).status_code == 302
    html = assessor.get(f"/assessor/people/{best}/profile").get_data(as_text=True)
    assert _row(html, "T.UJ.01")[4:6] == ["4,0", "2,5"]
    targets = re.search(r'data-testid="targets">(.*?)</table>', html, re.S)
    assert targets and "Laporan supervisi" in targets.group(1) and "75,0 %" in targets.group(1)
    assert "Sangat Baik" in html


def test_print_all_has_one_a4_profile_per_person(app: Flask, lab, taken, assessor):  # type: ignore[no-untyped-def]
    page = assessor.get(f"/assessor/sessions/{lab.id}/profiles")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('data-testid="profile"') == 3  # the absent one too: nothing measured
    assert "print.css" in html and "Belum ada kompetensi terukur" in html
    assert audit_count(app, "profile.print_all") == 1
    assert assessor.get("/assessor/people/999999/profile").status_code == 404


def test_group_view_counts_the_standard_and_places_the_9_box(app: Flask, lab, taken, assessor):  # type: ignore[no-untyped-def]
    (best, weak, absent), (nip1, nip2, _nip3) = taken
    page = assessor.get(f"/assessor/sessions/{lab.id}/group").get_data(as_text=True)
    # the weak one's scores are what guessing reaches: no box (a box must not rest on guesses)
    assert re.search(rf'<tr data-user="{weak}">.*?data-testid="box"[^>]*>—</td>', page, re.S)
    assert _row(page, "T.UJ.01")[1:] == ["1", "1", "1"]  # measured, compared, meeting
    _graded_before_bands(app, weak)
    skp = [
        ["NIP", "Periode", "Predikat"],
        [nip1, "2026", "Sangat Baik"],
        [nip2, "2026", "Butuh Perbaikan"],
    ]
    assert upload(assessor, "performance", "skp.csv", csv_bytes(skp)).status_code == 302
    page = assessor.get(f"/assessor/sessions/{lab.id}/group")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # T.UJ.01: best at 5 meets 3, weak at 1 does not; T.UJ.02: both meet 2
    assert _row(html, "T.UJ.01")[1:] == ["2", "2", "1"]
    assert _row(html, "T.UJ.02")[1:] == ["2", "2", "2"]

    def box(user_id: int) -> str:
        match = re.search(
            rf'<tr data-user="{user_id}">.*?data-testid="box"[^>]*>(.*?)</td>', html, re.S
        )
        assert match
        return match.group(1).strip()

    # JPM 100 (high) × Sangat Baik (above) → 9; JPM 80 (high at the default 80) × Butuh
    # Perbaikan (below) → 6; the absent person has no JPM → not placed.
    assert (box(best), box(weak), box(absent)) == ("9", "6", "—")
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        ET.fromstring(svg)  # noqa: S314 (our own page)
    # other cut points, chosen on the page: potential high from 85 → the weak one is middle (3)
    moved = assessor.get(f"/assessor/sessions/{lab.id}/group?potential_low=60&potential_high=85")
    html = moved.get_data(as_text=True)
    assert box(weak) == "3" and box(best) == "9"
    bad = assessor.get(f"/assessor/sessions/{lab.id}/group?potential_low=90&potential_high=80")
    assert bad.status_code == 200 and "Batas 9-box tidak sah" in bad.get_data(as_text=True)


def test_unit_group_and_unknown_unit(app: Flask, taken, assessor):  # type: ignore[no-untyped-def]
    page = assessor.get("/assessor/group?unit=Unit Uji")
    assert page.status_code == 200 and "Unit kerja Unit Uji" in page.get_data(as_text=True)
    assert assessor.get("/assessor/group?unit=Tidak Ada").status_code == 404
    assert assessor.get("/assessor/group").headers["Location"].endswith("/assessor/#units")
    desk = assessor.get("/assessor/").get_data(as_text=True)
    assert "/assessor/group?unit=Unit+Uji" in desk or "/assessor/group?unit=Unit%20Uji" in desk


def test_a_broken_development_table_shows_profiles_and_names_the_problem(
    app: Flask, taken, assessor, tmp_path: Path
):  # type: ignore[no-untyped-def]
    (_best, weak, _absent), _nips = taken
    _graded_before_bands(app, weak)
    (tmp_path / "development_activities.yaml").write_text("default:\n  gap_1: []\n")
    app.config["CBT_BANKS_PATH"] = str(tmp_path)
    page = assessor.get(f"/assessor/people/{weak}/profile")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="development-problem"' in html and "development_activities.yaml" in html
    assert _row(html, "T.UJ.01")[1:4] == ["3", "1", "-2"]

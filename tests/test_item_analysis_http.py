"""Item analysis end to end: attempts taken through the exam API, the page and the four CSV
files read back and checked against values worked out from the answers by hand."""

from __future__ import annotations

import csv
import io
import math

import pytest
from flask import Flask
from sqlalchemy import select

from cbt_server.accounts.service import create_user
from cbt_server.models import AuditEntry, db
from tests import psychometrics_reference as ref
from tests.builders import Participant, finish, make_session
from tests.helpers import audit_count, login

# What six participants answer (fixture battery BAT-UJI, tests/fixtures/qb), and the item
# scores that gives: S1 = U-SGL (key B), U-MUL (key A, C), U-TF (key A = Benar); S2 = U-SHORT
# (2 points), U-W (weights A1 B4 C3 D2), U-L1, U-L2 (reverse-keyed), U-SD (Likert 1–5).
ANSWERS = [
    {"U-SGL": "B", "U-MUL": ["A", "C"], "U-TF": "A", "U-SHORT": "elang", "U-W": "B",
     "U-L1": "5", "U-L2": "1", "U-SD": "5"},
    {"U-SGL": "B", "U-MUL": ["A", "B"], "U-TF": "A", "U-W": "C",
     "U-L1": "4", "U-L2": "2", "U-SD": "5"},
    {"U-SGL": "A", "U-MUL": ["B"], "U-TF": "B", "U-SHORT": "garuda", "U-W": "D",
     "U-L1": "3", "U-L2": "3", "U-SD": "5"},
    {"U-SGL": "B", "U-MUL": ["A", "B"], "U-TF": "A", "U-SHORT": "Garuda", "U-W": "A",
     "U-L1": "2", "U-L2": "4", "U-SD": "5"},
    {"U-SGL": "C", "U-TF": "A", "U-W": "B",
     "U-L1": "1", "U-L2": "5", "U-SD": "5"},
    {"U-SGL": "D", "U-MUL": ["B", "D"], "U-TF": "A", "U-SHORT": "Garuda Pancasila", "U-W": "A",
     "U-L1": "2", "U-L2": "4", "U-SD": "4"},
]  # fmt: skip
ITEMS = ["U-SGL", "U-MUL", "U-TF", "U-SHORT", "U-W", "U-L1", "U-L2", "U-SD"]
MAX = [1, 1, 1, 2, 4, 5, 5, 5]
SECTION = ["S1"] * 3 + ["S2"] * 5
SCORES = [
    [1, 1, 1, 0, 4, 5, 5, 5],
    [1, 0, 1, 0, 3, 4, 4, 5],
    [0, 0, 0, 2, 2, 3, 3, 5],
    [1, 0, 1, 2, 1, 2, 2, 5],
    [0, 0, 1, 0, 4, 1, 1, 5],
    [0, 0, 1, 2, 1, 2, 2, 4],
]
# The first four sit session S-01, the last two S-02.


@pytest.fixture
def world(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    first = make_session(app, participants=4, code="S-01", token="TOKEN7")
    second = make_session(app, participants=2, code="S-02", token="TOKEN8")
    with app.app_context():
        create_user("asesor-1", "sandi-asesor", "assessor", "Asesor Satu")
        db.session.commit()
    client = app.test_client()
    assert login(client, "asesor-1", "sandi-asesor").status_code == 302
    return first, second, client


def take_all(app: Flask, first, second) -> None:  # type: ignore[no-untyped-def]
    for n in range(4):
        finish(app, first, n, ANSWERS[n])
    for n in range(2):
        finish(app, second, n, ANSWERS[4 + n])


def download(client, path: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The file in the English CSV style ("," and "."; tests/test_downloads.py has the other)."""
    response = client.get(path + ("&" if "?" in path else "?") + "csv=en", buffered=True)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv"
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def test_item_statistics_page_and_csv_match_the_hand_computation(app: Flask, world):  # type: ignore[no-untyped-def]
    first, second, client = world
    take_all(app, first, second)
    rows = download(client, "/assessor/batteries/BAT-UJI/analysis.csv")
    by_item = {row["Kode butir"].split("/")[1]: row for row in rows}
    assert list(by_item) == sorted(ITEMS[:3]) + sorted(ITEMS[3:])  # by section, then code
    expected = ref.item_stats(SCORES, MAX, SECTION)
    hand_p = [3 / 6, 1 / 6, 5 / 6, 6 / 12, 15 / 24, 17 / 30, 17 / 30, 29 / 30]
    for k, code in enumerate(ITEMS):
        row = by_item[code]
        assert row["Bagian"] == SECTION[k] and int(row["n"]) == 6
        assert float(row["Skor maks"]) == MAX[k]
        assert float(row["p"]) == pytest.approx(hand_p[k], abs=1e-4)
        for column, name in (("r terkoreksi", "r"), ("D", "d")):
            want = expected[k][name]
            got = number(row[column])
            assert (got is None) if want is None else got == pytest.approx(want, abs=1e-4)
    # D by hand (upper and lower 27 % = 1.62 persons of S1 totals 3, 2, 0, 2, 1, 1)
    assert float(by_item["U-SGL"]["D"]) == 1
    assert float(by_item["U-TF"]["D"]) == pytest.approx(1 / 1.62, abs=1e-4)
    assert by_item["U-SGL"]["Kategori D"] == "sangat baik"
    assert by_item["U-MUL"]["Tanda"] == "p < 0,20"
    assert by_item["U-SHORT"]["Tanda"] == "r negatif; D negatif"  # the weak get it right
    assert by_item["U-SD"]["Tanda"].startswith("p > 0,90")
    assert by_item["U-SGL"]["Tanda"] == ""
    assert float(by_item["U-SHORT"]["Kosong"]) == pytest.approx(2 / 6, abs=1e-4)
    assert by_item["U-L1"]["Kompetensi/Skala"] == "INT.UJ"

    page = client.get("/assessor/batteries/BAT-UJI/analysis")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="n-people">6<' in html and 'data-testid="n-flagged">' in html
    assert 'class="flagged" data-item="UJI/U-MUL"' in html and "⚠" in html
    assert 'data-item="UJI/U-SGL"' in html and 'class="flagged" data-item="UJI/U-SGL"' not in html
    assert 'data-testid="small-sample"' in html  # six persons: a warning, not a crash
    assert audit_count(app, "download.analysis.items.csv") == 1


def test_options_reliability_and_standard_scores_csv(app: Flask, world):  # type: ignore[no-untyped-def]
    first, second, client = world
    take_all(app, first, second)
    options = download(client, "/assessor/batteries/BAT-UJI/analysis-options.csv")
    sgl = {r["Opsi"]: r for r in options if r["Kode butir"] == "UJI/U-SGL"}
    assert list(sgl) == ["A", "B", "C", "D"] and sgl["B"]["Kunci"] == "ya"
    assert [int(sgl[o]["Jumlah"]) for o in "ABCD"] == [1, 3, 1, 1]
    assert float(sgl["B"]["Proporsi"]) == 0.5
    assert float(sgl["B"]["Proporsi kelompok atas"]) == 1  # the 3 and both tied 2s chose B
    assert float(sgl["B"]["Proporsi kelompok bawah"]) == 0
    assert sgl["A"]["Pengecoh berfungsi"] == "ya"  # 1 in 6, chosen by the lowest scorer
    assert sgl["B"]["Pengecoh berfungsi"] == ""  # the key is not a distractor
    mul = {r["Opsi"]: r for r in options if r["Kode butir"] == "UJI/U-MUL"}
    assert [int(mul[o]["Jumlah"]) for o in "ABCD"] == [3, 4, 1, 1]  # several per person
    likert = [r["Opsi"] for r in options if r["Kode butir"] == "UJI/U-SD"]
    assert likert == ["1", "2", "3", "4", "5"]
    assert not [r for r in options if r["Kode butir"] == "UJI/U-SHORT"]

    reliability = {
        r["Kode"]: r for r in download(client, "/assessor/batteries/BAT-UJI/reliability.csv")
    }
    s1 = reliability["S1"]
    assert s1["Jenis"] == "Bagian" and s1["Koefisien"] == "KR-20" and s1["Lengkap"] == "ya"
    assert int(s1["k"]) == 3 and int(s1["n"]) == 6
    assert float(s1["Alpha"]) == pytest.approx(7 / 11, abs=1e-4)  # Σ var 19/30, var T 1.1
    assert float(s1["SEM"]) == pytest.approx(math.sqrt(0.4), abs=1e-4)
    assert float(s1["Rerata"]) == 1.5 and float(s1["SD"]) == pytest.approx(math.sqrt(1.1), 1e-4)
    s2 = reliability["S2"]
    assert s2["Koefisien"] == "alpha"
    s2_rows = [row[3:] for row in SCORES]
    assert float(s2["Alpha"]) == pytest.approx(ref.cronbach(s2_rows), abs=1e-4)
    assert reliability["INT.UJ"]["Jenis"] == "Skala" and reliability["INT.UJ"]["Nama"]
    assert float(reliability["INT.UJ"]["Alpha"]) == pytest.approx(1.0, abs=1e-4)  # L1 = L2
    assert reliability["INT.SDUJ"]["Alpha"] == ""  # one item: no alpha
    technical = reliability["T.UJ.02"]  # two items that disagree: negative alpha, no SEM
    alpha = ref.cronbach([row[3:5] for row in SCORES])
    assert alpha < 0 and float(technical["Alpha"]) == pytest.approx(alpha, abs=1e-4)
    assert technical["SEM"] == ""

    people = download(client, "/assessor/batteries/BAT-UJI/standard-scores.csv")
    first_columns = ["NIP", "Nama", "Total", "Total z", "Total T", "Total PR", "Total stanin"]
    assert list(people[0])[:7] == first_columns
    totals = [sum(row) for row in SCORES]
    z = ref.z_scores(totals)
    s1_totals = [sum(row[:3]) for row in SCORES]
    for row, total, zi, s1_total in zip(people, totals, z, s1_totals, strict=True):
        assert float(row["Total"]) == total
        assert float(row["Total z"]) == pytest.approx(zi, abs=1e-4)
        assert float(row["Total T"]) == pytest.approx(50 + 10 * zi, abs=1e-4)
        assert float(row["Total PR"]) == pytest.approx(ref.percentile_rank(totals, total), abs=1e-4)
        assert int(row["Total stanin"]) == min(9, max(1, math.floor(2 * zi + 5.5)))
        assert float(row["S1"]) == s1_total
    assert [float(r["S1 PR"]) for r in people] == pytest.approx(
        [100 * 5.5 / 6, 100 * 4 / 6, 100 * 0.5 / 6, 100 * 4 / 6, 100 * 2 / 6, 100 * 2 / 6], abs=1e-4
    )
    for action in ("options", "reliability", "standard_scores"):
        assert audit_count(app, f"download.analysis.{action}.csv") == 1


def test_session_filter(app: Flask, world):  # type: ignore[no-untyped-def]
    first, second, client = world
    take_all(app, first, second)
    entry = client.get(f"/assessor/sessions/{first.id}/analysis")
    assert entry.status_code == 302
    assert entry.headers["Location"].endswith(
        f"/assessor/batteries/BAT-UJI/analysis?session={first.id}"
    )
    page = client.get(entry.headers["Location"])
    assert page.status_code == 200 and 'data-testid="n-people">4<' in page.get_data(as_text=True)
    rows = download(client, f"/assessor/batteries/BAT-UJI/analysis.csv?session={first.id}")
    sgl = next(r for r in rows if r["Kode butir"] == "UJI/U-SGL")
    assert int(sgl["n"]) == 4 and float(sgl["p"]) == 0.75
    expected = dict(zip(ITEMS, ref.item_stats(SCORES[:4], MAX, SECTION), strict=True))
    for row in rows:
        want = expected[row["Kode butir"].split("/")[1]]
        assert number(row["p"]) == pytest.approx(want["p"], abs=1e-4)
        got, r = number(row["r terkoreksi"]), want["r"]
        assert (got is None) if r is None else got == pytest.approx(r, abs=1e-4)
    people = download(
        client, f"/assessor/batteries/BAT-UJI/standard-scores.csv?session={second.id}"
    )
    assert [float(r["Total"]) for r in people] == [sum(SCORES[4]), sum(SCORES[5])]
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "download.analysis.items.csv")
        ).one()
        assert entry.target == "analisis-butir-BAT-UJI-sesi-S-01"
        assert entry.details == {"battery": "BAT-UJI", "session": "S-01", "csv": "en"}
    assert client.get("/assessor/batteries/BAT-UJI/analysis?session=abc").status_code == 404
    assert client.get("/assessor/batteries/BAT-UJI/analysis?session=99999").status_code == 404
    assert client.get("/assessor/batteries/BAT-UJI/analysis?session=").status_code == 200
    assert client.get("/assessor/batteries/NOPE/analysis").status_code == 404
    assert client.get("/assessor/sessions/99999/analysis").status_code == 404


def test_without_finished_attempts_the_page_says_so(app: Flask, world):  # type: ignore[no-untyped-def]
    first, _second, client = world
    page = client.get("/assessor/batteries/BAT-UJI/analysis")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="analysis-empty"' in html and "Belum ada percobaan selesai" in html
    Participant(app, *first.participants[0]).begin(first.token)  # started, not finished
    page = client.get(f"/assessor/batteries/BAT-UJI/analysis?session={first.id}")
    assert "Belum ada percobaan selesai di sesi ini" in page.get_data(as_text=True)
    for path in ("analysis.csv", "analysis-options.csv", "reliability.csv", "standard-scores.csv"):
        assert download(client, f"/assessor/batteries/BAT-UJI/{path}") == []
    assert audit_count(app, "download.analysis.items.csv") == 1
    desk = client.get("/assessor/").get_data(as_text=True)
    assert "/assessor/batteries/BAT-UJI/analysis" in desk
    assert f"/assessor/sessions/{first.id}/analysis" in desk

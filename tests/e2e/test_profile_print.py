"""The printable competency profiles in a real browser: Chromium prints them on A4.

Set ``CBT_SCREENSHOT_DIR`` to keep the screenshot and the PDF for a person to look at.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from cbt_server.models import User, db
from tests.builders import RIGHT, assessor_lab, csv_bytes, finish, upload
from tests.e2e.conftest import LiveServer
from tests.helpers import login
from tests.test_profiles_http import _graded_before_bands


def _pdf_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_session_profiles_print_one_a4_page_per_person(
    live_server: LiveServer, browser, tmp_path: Path
):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = assessor_lab(app)
    finish(app, lab, 0, {**RIGHT, "U-L1": "4", "U-L2": "2", "U-SD": "5"})
    finish(app, lab, 1, {"U-SGL": "A", "U-W": "B", "U-L1": "1", "U-SD": "2"})

    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="id-ID")
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    page.fill("#login", "asesor-1")
    page.fill("#password", "sandi-asesor")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/assessor/")
    page.click("[data-testid=print-profiles]")
    profiles = page.locator("[data-testid=profile]")
    assert profiles.count() == 3
    assert "Ñusantara" in profiles.nth(0).inner_text()

    # The server-drawn chart is really drawn: visible, with a size, bars inside.
    chart = page.locator("[data-testid=profile] .chart svg").first
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 80
    assert page.locator("[data-testid=profile] .chart svg rect").count() > 4
    # The weak participant's scores are what guessing reaches: no level, no category, a retest
    best, weak = profiles.nth(0), profiles.filter(has_text="Peserta 2")
    assert "tidak terukur" in weak.get_by_test_id("level-T.UJ.01").inner_text()
    assert "tes ulang" in weak.get_by_test_id("jpm-invalid").inner_text()
    assert weak.locator("[data-testid=jpm-category]").count() == 0
    # the best one's levels come with their band, and the page says they are provisional
    assert "4–5" in best.get_by_test_id("level-T.UJ.01").inner_text()
    assert "sementara" in best.get_by_test_id("provisional").inner_text()

    page.emulate_media(media="print")
    assert page.locator(".no-print").first.is_hidden()
    screenshot = tmp_path / "profiles.png"
    page.screenshot(path=str(screenshot), full_page=True)
    pdf = page.pdf(format="A4", print_background=True)
    (tmp_path / "profiles.pdf").write_bytes(pdf)
    keep = os.environ.get("CBT_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name in ("profiles.png", "profiles.pdf"):
            shutil.copy(tmp_path / name, Path(keep) / name)
    # One person per page: each profile starts a new A4 sheet and, this size, fits on it.
    pages = _pdf_texts(pdf)
    assert len(pages) == 3
    for text, name in zip(pages, ("Ñusantara", "Peserta 2", "Peserta 3"), strict=True):
        assert "PROFIL KOMPETENSI" in text and name in text
    context.close()


def test_one_profile_with_every_part_prints_on_one_page(
    live_server: LiveServer, browser, tmp_path: Path
):  # type: ignore[no-untyped-def]
    """A profile with everything on it (development, integrity, self, supervisor and
    performance data) is one sheet, not a sheet and a mostly empty second one."""
    app = live_server.app()
    lab = assessor_lab(app)
    _a_real_position(app)
    finish(app, lab, 1, {"U-SGL": "A", "U-W": "B", "U-L1": "1", "U-SD": "5", "U-L2": "5"})
    with app.app_context():
        user_id, nip = db.session.execute(
            select(User.id, User.nip).where(User.username == lab.participants[1][0])
        ).one()
    # plain levels (as graded before bands), so that the areas to develop are on the sheet too
    _graded_before_bands(app, user_id)

    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="id-ID")
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    page.fill("#login", "asesor-1")
    page.fill("#password", "sandi-asesor")
    page.click("button[type=submit]")
    client = _assessor_client(app)
    ratings = [["NIP", "Kompetensi", "Level", "Periode"], [nip, "T.UJ.01", "2", "2026"]]
    ratings.append([nip, "T.UJ.02", "3", "2026"])
    ratings += [[nip, code, "3", "2026"] for code, _name in MANAGERIAL]
    assert upload(client, "self", "diri.csv", csv_bytes(ratings)).status_code == 302
    assert upload(client, "supervisor", "atasan.csv", csv_bytes(ratings)).status_code == 302
    skp = [["NIP", "Periode", "Indikator", "Target", "Realisasi", "Satuan", "Predikat"]]
    skp += [
        [
            nip,
            "2026",
            f"Laporan supervisi sekolah binaan triwulan {n}",
            "12",
            "9",
            "laporan",
            "Baik",
        ]
        for n in range(1, 5)
    ]
    assert upload(client, "performance", "skp.csv", csv_bytes(skp)).status_code == 302

    page.goto(f"{live_server.url}/assessor/people/{user_id}/profile")
    expect(page.get_by_test_id("development")).to_be_visible()
    expect(page.get_by_test_id("targets")).to_be_visible()
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True)
    keep = os.environ.get("CBT_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / "profile-one.pdf").write_bytes(pdf)
        page.screenshot(path=str(Path(keep) / "profile-one.png"), full_page=True)
    pages = _pdf_texts(pdf)
    assert len(pages) == 1, [text[-80:] for text in pages]
    assert "PROFIL KOMPETENSI" in pages[0] and "triwulan 4" in pages[0]
    context.close()


#: the competencies a real position requires beside its technical ones (PermenPANRB 38/2017)
MANAGERIAL = [
    ("M.01", "Integritas"),
    ("M.02", "Kerja Sama"),
    ("M.03", "Komunikasi"),
    ("M.04", "Orientasi pada Hasil"),
    ("M.05", "Pelayanan Publik"),
    ("M.06", "Pengembangan Diri dan Orang Lain"),
    ("M.07", "Mengelola Perubahan"),
    ("M.08", "Pengambilan Keputusan"),
    ("SK.01", "Perekat Bangsa"),
]


def _a_real_position(app) -> None:  # type: ignore[no-untyped-def]
    """JF-UJ requires as many competencies as a real position does (13, as the shipped
    standards): the gap table and the chart grow to their real size."""
    from cbt_server.db import write_transaction
    from cbt_server.models import Competency, PositionRequirement

    with app.app_context(), write_transaction():
        for code, name in MANAGERIAL:
            db.session.add(
                Competency(
                    code=code,
                    name=name,
                    competency_group="sociocultural" if code.startswith("SK") else "managerial",
                    definition=name,
                    levels={str(n): f"Level {n}" for n in range(1, 6)},
                )
            )
            db.session.add(
                PositionRequirement(position_code="JF-UJ", competency_code=code, level=3)
            )


def _assessor_client(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, "asesor-1", "sandi-asesor").status_code == 302
    return client

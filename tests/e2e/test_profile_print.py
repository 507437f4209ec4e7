"""The printable competency profiles in a real browser: Chromium prints them on A4.

Set ``CBT_SCREENSHOT_DIR`` to keep the screenshot and the PDF for a person to look at.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

from pypdf import PdfReader

from tests.builders import RIGHT, assessor_lab, finish
from tests.e2e.conftest import LiveServer


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
    weak = profiles.filter(has_text="Peserta 2")
    assert "Cukup Optimal" in weak.locator("[data-testid=jpm-category]").inner_text()
    assert weak.locator("[data-testid=development] li").count() > 0

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

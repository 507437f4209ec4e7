"""An admin imports a question bank in a real browser: a zip with an error shows the report row
and imports nothing, the fixed zip becomes a new version on the list, and its new item's preview
shows the item as participants see it with its key (docs/question-banks.md, section 6)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from cbt_server.accounts.service import create_user
from cbt_server.db import write_transaction
from tests.e2e.conftest import LiveServer
from tests.test_banks_browser_http import BANK, bank_zip, with_new_item

PASSWORD = "sandi-admin-bank"


def test_admin_fixes_a_bank_and_previews_its_new_item(  # type: ignore[no-untyped-def]
    live_server: LiveServer, open_page, tmp_path: Path
) -> None:
    app = live_server.app()
    with app.app_context(), write_transaction():
        create_user("admin-bank", PASSWORD, "admin", "Admin Bank")
    broken = tmp_path / "UJI-rusak.zip"
    broken.write_bytes(bank_zip(lambda t: with_new_item(t).replace("key: B\n", "key: Z\n", 1)))
    fixed = tmp_path / "UJI.zip"
    fixed.write_bytes(bank_zip(with_new_item))
    line = (BANK / "bank.yaml").read_text(encoding="utf-8").splitlines().index("  - id: U-SGL")

    page = open_page(locale="id-ID")
    page.goto(f"{live_server.url}/login")
    page.fill("#login", "admin-bank")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.get_by_test_id("go-banks").click()
    page.get_by_test_id("go-bank-upload").click()

    page.get_by_test_id("bank-file").set_input_files(str(broken))
    page.get_by_test_id("bank-upload").click()
    row = page.get_by_test_id("bank-problems").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td")).to_have_text(
        ["UJI/bank.yaml", str(line + 1), "U-SGL", "key Z is not among the options (A, B, C, D)"]
    )
    expect(page.locator(".flash-error")).to_contain_text("tidak ada yang diimpor")

    page.get_by_test_id("bank-file").set_input_files(str(fixed))
    page.get_by_test_id("bank-upload").click()
    expect(page.get_by_test_id("new-bank")).to_have_text(re.compile(r"Versi bank baru: UJI 1 \("))
    page.get_by_test_id("go-bank-list").click()

    versions = page.get_by_test_id("bank-versions").locator("tbody tr")
    expect(versions).to_have_count(2)
    new = versions.filter(has_text="oleh admin-bank")
    expect(new).to_contain_text("UJI.zip: UJI/bank.yaml")
    new.get_by_role("link").click()
    page.get_by_test_id("preview-U-BARU").click()

    expect(page.get_by_test_id("item-stem")).to_have_text("Berapa hasil dua ditambah dua?")
    expect(page.get_by_test_id("item-stem").locator("strong")).to_have_text("dua")
    expect(page.get_by_test_id("option-B")).to_have_class(re.compile(r"\bkeyed\b"))
    expect(page.get_by_test_id("option-A")).not_to_have_class(re.compile(r"\bkeyed\b"))
    expect(page.get_by_test_id("key-value")).to_have_text("B")
    expect(page.get_by_test_id("key-competency")).to_have_text("T.UJ.01 — Pengetahuan Uji")
    # The participant page's own styles: an option is a bordered row with its mark beside it.
    assert page.get_by_test_id("option-B").evaluate("e => getComputedStyle(e).display") == "flex"

"""What an admin and a new staff member do in the browser, shared by the browser tests."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.exam_pages import login


def make_staff(admin: Page, base: str, username: str, name: str, role: str) -> str:
    """Create a staff account on the admin's page; returns the one-time password shown once."""
    admin.goto(f"{base}/admin/staff/")
    admin.fill("#username", username)
    admin.fill("#full_name", name)
    admin.select_option("#role", role)
    admin.get_by_role("button", name="Buat akun").click()
    shown = admin.get_by_test_id("one-time-password")
    expect(shown).to_have_count(1)
    return shown.inner_text().strip()


def choose_password(page: Page, one_time: str, chosen: str) -> None:
    """On the change-password page the server holds a new account on: replace the one-time
    password."""
    page.fill("#current", one_time)
    page.fill("#new", chosen)
    page.fill("#again", chosen)
    page.get_by_role("button", name="Ganti kata sandi").click()
    expect(page.get_by_role("alert")).to_have_text("Kata sandi Anda sudah diganti.")


def deactivate_and_check_locked_out(
    admin: Page, user: Page, base: str, username: str, password: str
) -> None:
    """The admin switches the account off; the user's next page is the login page, and logging
    in again is refused."""
    admin.goto(f"{base}/admin/staff/")
    admin.get_by_role("link", name=username).click()
    admin.get_by_test_id("deactivate").click()
    expect(admin.get_by_test_id("account-status")).to_have_text("nonaktif")
    user.reload()
    expect(user).to_have_url(re.compile(r"/login"))
    login(user, base, username, password)
    expect(user).to_have_url(re.compile(r"/login"))
    expect(user.get_by_role("alert")).to_have_text("Nama pengguna atau kata sandi salah.")

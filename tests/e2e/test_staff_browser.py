"""An admin and a new proctor in two headless Chromium browsers against a real gunicorn.

The admin creates the proctor's account and reads its one-time password off the page; the proctor
logs in with it, is held on the change-password page until choosing a password, then reaches the
proctor console. The admin deactivates the account: the proctor's next page is the login page,
and logging in again is refused.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from cbt_server.accounts.service import create_user
from cbt_server.db import write_transaction
from tests.e2e.exam_pages import login
from tests.e2e.staff_pages import choose_password, deactivate_and_check_locked_out, make_staff

ADMIN = ("kepala-lab", "Sandi-Kepala-Lab-1")


def test_an_admin_makes_a_proctor_who_changes_the_password_and_is_later_locked_out(
    live_server, open_page
) -> None:  # type: ignore[no-untyped-def]
    base = live_server.url
    app = live_server.app()
    with app.app_context(), write_transaction():
        create_user(*ADMIN, "admin", "Kepala Lab")

    admin = open_page()
    login(admin, base, *ADMIN)
    admin.get_by_test_id("go-staff").click()
    one_time = make_staff(admin, base, "rina.pengawas", "Rina Wulandari", "proctor")
    assert len(one_time) >= 10

    proctor = open_page()
    login(proctor, base, "rina.pengawas", one_time)
    expect(proctor).to_have_url(re.compile(r"/account/password$"))
    expect(proctor.get_by_test_id("must-change")).to_be_visible()
    proctor.goto(f"{base}/proctor/")  # held on the password page until it is changed
    expect(proctor).to_have_url(re.compile(r"/account/password$"))
    choose_password(proctor, one_time, "Rina-Pengawas-2026")
    proctor.get_by_test_id("go-proctor").click()
    expect(proctor).to_have_url(re.compile(r"/proctor/$"))

    deactivate_and_check_locked_out(admin, proctor, base, "rina.pengawas", "Rina-Pengawas-2026")

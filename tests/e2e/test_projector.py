"""The token on the room's projector, in Chromium: huge, counting down to the next token, and
showing the new one by itself when the token rotates; nothing about any participant."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import ExamSession, User, db
from tests.builders import make_session
from tests.e2e.conftest import LiveServer

TIMEOUT = 15_000
PROJECTOR = {"width": 1024, "height": 768}  # a common projector resolution


def _token(app, session_id: int) -> str:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.get(ExamSession, session_id).token


def test_projector_shows_the_token_huge_and_follows_its_rotation(live_server: LiveServer, browser):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = make_session(app, participants=3, code="S-PROJ")
    with app.app_context(), write_transaction():
        session = db.session.get(ExamSession, lab.id)
        session.token_rotate_minutes = 1
        session.token_rotated_at = now() - timedelta(seconds=52)  # rotates in about 8 s
        participants = list(
            db.session.execute(select(User.full_name, User.nip).where(User.role == "participant"))
        )
    context = browser.new_context(viewport=PROJECTOR, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    bodies: list[str] = []
    page.on("response", lambda r: bodies.append(r.text()) if r.url.endswith(".json") else None)
    page.goto(f"{live_server.url}/login")
    page.fill("#login", lab.proctors[0][0])
    page.fill("#password", lab.proctors[0][1])
    page.get_by_role("button", name="Masuk").click()
    page.goto(f"{live_server.url}/proctor/sessions/{lab.id}/projector")

    token = page.get_by_test_id("projector-token")
    expect(token).to_have_text(lab.token)
    # Readable from the back of the room: the six characters fill most of the width.
    box = token.bounding_box()
    assert box is not None
    font = token.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert font >= 150, font
    assert box["width"] >= 0.6 * PROJECTOR["width"] and box["x"] >= 0
    assert box["x"] + box["width"] <= PROJECTOR["width"]
    countdown = page.get_by_test_id("projector-rotates")
    expect(countdown).to_have_text(re.compile(r"^Token berganti dalam 00:0\d$"))

    # The token rotates on schedule: the projector shows the new one by itself.
    expect(token).not_to_have_text(lab.token, timeout=TIMEOUT)
    assert token.inner_text().strip() == _token(app, lab.id)
    expect(countdown).to_have_text(re.compile(r"^Token berganti dalam 00:[45]\d$"))

    # Nothing about any participant on the page or in what it fetched.
    text = page.locator("body").inner_text() + "".join(bodies)
    assert bodies, "the projector polls token.json"
    for name, nip in participants:
        assert name not in text and nip not in text
    context.close()

"""Helpers for the exam page's resilience tests (outage, tabs, rescue file, Retry-After): drive the
participant's pages in Chromium and read what the page keeps in localStorage and what the server
stored."""

from __future__ import annotations

import re
import time
from typing import Any

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from cbt_server.models import Enrolment, LateAnswer, Response, User, db
from tests.builders import LabSession, keyed_positions, make_session
from tests.helpers import csrf_token
from tests.helpers import login as client_login

TIMEOUT = 15_000
VIEWPORT = {"width": 1366, "height": 768}


def seed_session(app: Flask, **kwargs: Any) -> LabSession:
    """``make_session``, tried again when SQLite is busy: its set-up reads, then writes, and a
    deferred SQLite transaction cannot wait for the server's sweeper to finish its write."""
    for attempt in range(5):
        try:
            return make_session(app, **kwargs)
        except sa_exc.OperationalError as error:
            if "locked" not in str(error) or attempt == 4:
                raise
            with app.app_context():
                db.session.rollback()
            time.sleep(0.5)
    raise AssertionError("unreachable")


def login(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#login", username)
    page.fill("#password", password)
    page.get_by_role("button", name="Masuk").click()


def start_attempt(page: Page, base: str, lab: LabSession, n: int = 0) -> int:
    """Log participant ``n`` in, give the token, start, and get past the first instructions."""
    username, password = lab.participants[n]
    login(page, base, username, password)
    page.fill("#token", lab.token)
    page.get_by_role("button", name="Lanjut").click()
    page.get_by_test_id("btn-start").click()
    past_instructions(page)
    return int(page.locator("#exam").get_attribute("data-attempt-id") or 0)


def past_instructions(page: Page) -> None:
    expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=TIMEOUT)
    if page.get_by_test_id("btn-start-section").is_visible():
        page.get_by_test_id("btn-start-section").click()
    expect(page.get_by_test_id("item-stem")).to_be_visible()


def open_item(page: Page, position: int) -> None:
    page.get_by_test_id(f"nav-{position}").click()
    expect(page.get_by_test_id(f"nav-{position}")).to_have_class(re.compile(r"\bcurrent\b"))


def wait_saved(page: Page, timeout: int = TIMEOUT) -> None:
    expect(page.locator("body")).to_have_attribute("data-queue-length", "0", timeout=timeout)


def queue_length(page: Page) -> int:
    return int(page.locator("body").get_attribute("data-queue-length") or 0)


def stored(page: Page, name: str, attempt_id: int) -> Any:
    """What the page keeps in localStorage under ``cbt-<name>-<attempt id>``."""
    return page.evaluate(
        "key => JSON.parse(localStorage.getItem(key) || 'null')", f"cbt-{name}-{attempt_id}"
    )


class Answers:
    """What the participant clicked, per position, as shown-option indexes (like the page)."""

    def __init__(self, app: Flask, attempt_id: int) -> None:
        self.truth = {t["position"]: t for t in keyed_positions(app, attempt_id)}
        self.shown: dict[int, list[int]] = {}
        self.flags: dict[int, bool] = {}

    def choose(self, page: Page, position: int, index: int) -> None:
        """Click option ``index`` of the item at ``position`` (open it first)."""
        open_item(page, position)
        page.get_by_test_id(f"option-{index}").click()
        current = self.shown.get(position, [])
        if self.truth[position]["type"] == "multiple":
            chosen = sorted(set(current) ^ {index})
        else:
            chosen = [index]
        self.shown[position] = chosen
        expect(page.get_by_test_id(f"option-{index}")).to_have_attribute(
            "aria-checked", "true" if index in chosen else "false"
        )

    def flag(self, page: Page, position: int) -> None:
        open_item(page, position)
        page.get_by_test_id("btn-flag").click()
        self.flags[position] = not self.flags.get(position, False)
        expect(page.get_by_test_id("btn-flag")).to_have_attribute(
            "aria-pressed", "true" if self.flags[position] else "false"
        )

    def canonical(self, position: int) -> list[str] | None:
        order = self.truth[position]["order"]
        shown = self.shown.get(position)
        return sorted(order[i] for i in shown) if shown else None

    def expected(self) -> dict[int, tuple[list[str] | None, bool]]:
        positions = set(self.shown) | set(self.flags)
        return {p: (self.canonical(p), self.flags.get(p, False)) for p in positions}


def responses(app: Flask, attempt_id: int) -> dict[int, tuple[Any, bool, int]]:
    """position -> (answer, flagged, client_seq) as stored."""
    with app.app_context():
        return {
            r.position: (r.answer, r.flagged, r.client_seq)
            for r in db.session.scalars(select(Response).where(Response.attempt_id == attempt_id))
        }


def late_answers(app: Flask, attempt_id: int) -> list[LateAnswer]:
    with app.app_context():
        rows = db.session.scalars(
            select(LateAnswer).where(LateAnswer.attempt_id == attempt_id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def proctor_act(
    app: Flask,
    lab: LabSession,
    action: str,
    username: str,
    reason: str = "uji di peramban",
    **fields: str,
) -> None:
    """A proctor's action on one participant, through the proctor's HTTP endpoint."""
    client = app.test_client()
    assert client_login(client, *lab.proctors[0]).status_code == 302
    page = client.get("/proctor/").get_data(as_text=True)  # the logout form has the token
    with app.app_context():
        enrolment = db.session.scalar(
            select(Enrolment.id)
            .join(User, User.id == Enrolment.user_id)
            .where(User.username == username)
        )
    response = client.post(
        f"/proctor/sessions/{lab.id}/act/{action}",
        data={
            "csrf_token": csrf_token(page),
            "reason": reason,
            "enrolment_ids": [str(enrolment)],
            **fields,
        },
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def ask_server_now(page: Page) -> None:
    """The exam page asks the server every 15 s; an "online" event makes it ask at once."""
    page.evaluate("window.dispatchEvent(new Event('online'))")

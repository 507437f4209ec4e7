"""The proctor's monitor as a person sees it, in Chromium at a lab laptop's 1366x768.

A room of 30 fits one screen with the token and every action; the seats are coloured by status
with a legend that counts them; names stay on one line; bulk actions work on a selection and
per-seat actions from the seat's menu, each through a dialog that names who and what, the
destructive ones in red.

Set ``CBT_SCREENSHOT_DIR`` to keep a screenshot of the 30-seat monitor for a person to look at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from cbt_server.db import write_transaction
from cbt_server.models import Attempt, AuditEntry, Enrolment, User, db
from tests.builders import LabSession, Participant, make_session
from tests.e2e.conftest import LiveServer
from tests.helpers import csrf_token, login

TIMEOUT = 15_000
MONITOR_TIMEOUT = 10_000  # the monitor polls every 3 s
SCREEN = {"width": 1366, "height": 768}
LONG_NAME = "Ni Kadek Ayu Wulandari Prameswari Kusumaningrum, S.Pd., M.Pd. — Ñusantara"
RED = "rgb(164, 22, 26)"  # --bad in app.css


def _login(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#login", username)
    page.fill("#password", password)
    page.get_by_role("button", name="Masuk").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def _seat_ids(app: Flask, lab: LabSession) -> list[str]:
    """The monitor's test id of each seat, in seat order (PC-01 is participant 1)."""
    with app.app_context():
        return [
            f"seat-{e.participant_number or e.id}"
            for e in db.session.scalars(
                select(Enrolment).where(Enrolment.session_id == lab.id).order_by(Enrolment.seat)
            )
        ]


def _proctor_act(app: Flask, lab: LabSession, action: str, username: str) -> None:
    """An intervention made by the proctor through the server (to prepare a state)."""
    client = app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    base = f"/proctor/sessions/{lab.id}"
    seats = client.get(f"{base}/monitor.json").get_json()["seats"]
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == username))
        enrolment = db.session.scalar(select(Enrolment.id).where(Enrolment.user_id == user_id))
    assert any(s["enrolment_id"] == enrolment for s in seats)
    response = client.post(
        f"{base}/act/{action}",
        data={
            "csrf_token": csrf_token(client.get(f"{base}/monitor").get_data(as_text=True)),
            "reason": "disiapkan oleh tes",
            "enrolment_ids": str(enrolment),
        },
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.get_json()


def _a_room_of_thirty(app: Flask) -> LabSession:
    """30 seats in every status: absent, logged in, in progress, paused, finished, voided."""
    lab = make_session(app, participants=30, code="S-30")
    with app.app_context(), write_transaction():
        first = db.session.scalar(select(User).where(User.username == lab.participants[0][0]))
        first.full_name = LONG_NAME
    people = [Participant(app, *credentials) for credentials in lab.participants]
    for person in people[:12]:
        person.begin(lab.token)
    # two answers given about a second after their items appeared: a rapid-answer badge
    rapid = [{"position": p, "answer": [0], "seq": p + 1, "shown_ms": 900 + p} for p in (0, 1)]
    assert people[0].post("/answers", {"saves": rapid}).status_code == 200
    assert people[12].login().status_code == 302  # logged in, not started
    _proctor_act(app, lab, "pause", people[3].username)
    _proctor_act(app, lab, "void", people[4].username)
    assert people[5].post("/submit").status_code == 200
    return lab


def _shot(page: Page, name: str) -> None:
    keep = os.environ.get("CBT_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(keep) / name))


def _box(page: Page, testid: str) -> dict[str, float]:
    box = page.get_by_test_id(testid).bounding_box()
    assert box is not None, testid
    return box


def _on_screen(box: dict[str, float]) -> bool:
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= SCREEN["width"]
        and box["y"] + box["height"] <= SCREEN["height"]
    )


def test_thirty_seats_fit_one_lab_screen_coloured_and_counted(live_server: LiveServer, browser):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = _a_room_of_thirty(app)
    seat_ids = _seat_ids(app, lab)
    context = browser.new_context(viewport=SCREEN, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    _login(page, live_server.url, *lab.proctors[0])
    page.goto(f"{live_server.url}/proctor/sessions/{lab.id}/monitor")
    expect(page.get_by_test_id(seat_ids[0])).to_have_attribute("data-status", "in_progress")
    expect(page.get_by_test_id(seat_ids[3])).to_have_attribute("data-status", "paused")
    page.wait_for_timeout(300)  # one more frame: fonts and the last tile laid out

    _shot(page, "monitor-30-seats.png")

    # One screen: every seat, the token and every action without scrolling.
    off_screen = [s for s in seat_ids if not _on_screen(_box(page, s))]
    assert not off_screen, f"{len(off_screen)} of 30 seats below the fold: {off_screen[:3]}…"
    for testid in ("session-token", "act-extend", "act-pause", "act-submit", "act-void"):
        assert _on_screen(_box(page, testid)), testid

    # Statuses by colour, with a legend whose counts add up to the seats shown in each colour.
    tiles = page.locator("[data-testid=monitor-grid] > [data-status]")
    assert tiles.count() == 30
    colours = {
        status: page.get_by_test_id(sid).evaluate(
            "el => getComputedStyle(el).borderLeftColor + getComputedStyle(el).backgroundColor"
        )
        for status, sid in {
            "absent": seat_ids[29],
            "logged_in": seat_ids[12],
            "in_progress": seat_ids[0],
            "paused": seat_ids[3],
            "voided": seat_ids[4],
            "finished": seat_ids[5],
        }.items()
    }
    assert len(set(colours.values())) == len(colours), colours
    for group in ("absent", "logged_in", "in_progress", "paused", "finished", "voided"):
        shown = page.locator(f"[data-testid=monitor-grid] > .status-{group}").count()
        legend = page.get_by_test_id(f"legend-{group}")
        expect(legend).to_be_visible()
        assert int(legend.locator("b").inner_text()) == shown, group
    assert int(page.get_by_test_id("legend-all").locator("b").inner_text()) == 30
    assert page.get_by_test_id("legend-voided").locator("b").inner_text() == "1"
    assert page.get_by_test_id("legend-logged_in").locator("b").inner_text() == "1"

    # A long name stays on one line, cut with an ellipsis, whole in the tooltip.
    name = page.get_by_test_id(seat_ids[0]).get_by_test_id("name")
    metrics = name.evaluate(
        "el => ({white: getComputedStyle(el).whiteSpace, over: getComputedStyle(el).textOverflow,"
        " cut: el.scrollWidth > el.clientWidth, height: el.getBoundingClientRect().height,"
        " line: parseFloat(getComputedStyle(el).lineHeight) || 20})"
    )
    assert metrics["white"] == "nowrap" and metrics["over"] == "ellipsis" and metrics["cut"]
    assert metrics["height"] < 1.6 * metrics["line"], metrics
    assert LONG_NAME in (name.get_attribute("title") or "")

    # Answers given within 3 s of their item appearing: a count on the tile, explained on hover.
    rapid = page.get_by_test_id(seat_ids[0]).get_by_test_id("rapid")
    expect(rapid).to_have_text("⚡2")
    assert "3 detik" in (rapid.get_attribute("title") or "")
    expect(page.get_by_test_id(seat_ids[1]).get_by_test_id("rapid")).to_have_text("")

    # "Batalkan ujian" does not look like "Jeda": red, outlined.
    void = _box_style(page, "act-void")
    pause = _box_style(page, "act-pause")
    assert void["color"] == RED and void["border"] == RED, void
    assert pause["color"] != RED and pause["border"] != RED, pause
    assert _box_style(page, "act-submit")["border"] == RED
    context.close()


def _box_style(page: Page, testid: str) -> dict[str, str]:
    return page.get_by_test_id(testid).evaluate(
        "el => ({color: getComputedStyle(el).color, border: getComputedStyle(el).borderTopColor})"
    )


def _states(app: Flask, usernames: list[str]) -> list[str]:
    with app.app_context():
        return [
            db.session.scalar(
                select(Attempt.state)
                .join(User, User.id == Attempt.user_id)
                .where(User.username == username)
            )
            for username in usernames
        ]


def test_bulk_and_per_seat_actions_name_who_and_what(live_server: LiveServer, browser):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = make_session(app, participants=4, code="S-AKSI")
    people = [Participant(app, *credentials) for credentials in lab.participants]
    for person in people[:3]:
        person.begin(lab.token)
    names = [p.username for p in people]
    s1, s2, s3, _s4 = (page_id for page_id in _seat_ids(app, lab))
    context = browser.new_context(viewport=SCREEN, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    _login(page, live_server.url, *lab.proctors[0])
    page.goto(f"{live_server.url}/proctor/sessions/{lab.id}/monitor")
    for sid in (s1, s2, s3):
        expect(page.get_by_test_id(sid)).to_have_attribute("data-status", "in_progress")

    # Bulk: choose two seats (a click on the tile), pause them: the dialog names both.
    page.get_by_test_id(s1).get_by_test_id("name").click()
    page.get_by_test_id(s2).get_by_test_id("select").check()
    expect(page.get_by_test_id("act-selection")).to_contain_text("2 dipilih")
    page.get_by_test_id("act-pause").click()
    dialog = page.get_by_test_id("act-dialog")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("dialog-title")).to_have_text("Jeda")
    who = page.get_by_test_id("dialog-who")
    expect(who).to_contain_text("Peserta 1")
    expect(who).to_contain_text("Peserta 2")
    expect(who).not_to_contain_text("Peserta 3")
    _shot(page, "monitor-dialog-pause.png")
    # The reason is required: the dialog stays until one is given.
    page.get_by_test_id("dialog-confirm").click()
    expect(dialog).to_be_visible()
    page.get_by_test_id("act-reason").fill("Listrik ruang B padam")
    page.get_by_test_id("dialog-confirm").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("act-result")).to_have_text("Tindakan dicatat untuk 2 peserta.")
    for sid in (s1, s2):
        expect(page.get_by_test_id(sid)).to_have_attribute("data-status", "paused")
    expect(page.get_by_test_id(s3)).to_have_attribute("data-status", "in_progress")

    # The same selection: more time, then resume.
    page.get_by_test_id("act-extend").click()
    page.get_by_test_id("act-minutes").fill("7")
    page.get_by_test_id("act-reason").fill("Waktu yang hilang saat listrik padam")
    page.get_by_test_id("dialog-confirm").click()
    expect(page.get_by_test_id("act-result")).to_have_text("Tindakan dicatat untuk 2 peserta.")
    page.get_by_test_id("act-resume").click()
    page.get_by_test_id("act-reason").fill("Listrik menyala lagi")
    page.get_by_test_id("dialog-confirm").click()
    for sid in (s1, s2):
        expect(page.get_by_test_id(sid)).to_have_attribute("data-status", "in_progress")

    # Per seat: the menu of seat 3 offers what applies to it; void is red and confirmed.
    page.get_by_test_id(s3).get_by_test_id("seat-menu-button").click()
    menu = page.get_by_test_id("seat-menu")
    expect(menu).to_be_visible()
    expect(menu).to_contain_text("Peserta 3")
    expect(page.get_by_test_id("menu-pause")).to_be_visible()
    expect(page.get_by_test_id("menu-resume")).to_be_hidden()
    _shot(page, "monitor-seat-menu.png")
    assert _box_style(page, "menu-void")["border"] == RED
    page.get_by_test_id("menu-void").click()
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("dialog-title")).to_have_text("Batalkan ujian")
    expect(page.get_by_test_id("dialog-who")).to_contain_text("Peserta 3")
    expect(page.get_by_test_id("dialog-who")).not_to_contain_text("Peserta 1")
    expect(page.get_by_test_id("dialog-warning")).to_be_visible()
    _shot(page, "monitor-dialog-void.png")
    confirm = page.get_by_test_id("dialog-confirm")
    assert confirm.evaluate("el => getComputedStyle(el).backgroundColor") == RED
    page.get_by_test_id("dialog-cancel").click()  # second thoughts: nothing happens
    expect(dialog).to_be_hidden()
    assert _states(app, names[2:3]) == ["in_progress"]
    page.get_by_test_id(s3).get_by_test_id("seat-menu-button").click()
    page.get_by_test_id("menu-void").click()
    page.get_by_test_id("act-reason").fill("Membawa catatan ke ruang ujian")
    confirm.click()
    expect(page.get_by_test_id("act-result")).to_have_text("Tindakan dicatat untuk 1 peserta.")
    expect(page.get_by_test_id(s3)).to_have_attribute("data-status", "voided")
    context.close()

    assert _states(app, names) == ["in_progress", "in_progress", "voided", None]
    with app.app_context():
        audited = [
            (entry.action, sorted(entry.details["participants"]), entry.reason)
            for entry in db.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("attempt.%"))
                .order_by(AuditEntry.id)
            )
        ]
        extra = db.session.scalars(
            select(Attempt.extra_seconds).where(Attempt.session_id == lab.id).order_by(Attempt.id)
        ).all()
    numbers = _numbers(app, names)
    assert audited == [
        ("attempt.pause", sorted(numbers[:2]), "Listrik ruang B padam"),
        ("attempt.extend", sorted(numbers[:2]), "Waktu yang hilang saat listrik padam"),
        ("attempt.resume", sorted(numbers[:2]), "Listrik menyala lagi"),
        ("attempt.void", [numbers[2]], "Membawa catatan ke ruang ujian"),
    ]
    assert sorted(extra) == [0, 7 * 60, 7 * 60]


def _numbers(app: Flask, usernames: list[str]) -> list[str]:
    """How the audit log names each participant (participant number, else NIP)."""
    with app.app_context():
        rows = dict(
            db.session.execute(
                select(User.username, Enrolment.participant_number)
                .join(Enrolment, Enrolment.user_id == User.id)
                .where(User.username.in_(usernames))
            ).all()
        )
        nips = dict(
            db.session.execute(
                select(User.username, User.nip).where(User.username.in_(usernames))
            ).all()
        )
    return [rows[u] or nips[u] for u in usernames]

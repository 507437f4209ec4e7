"""The server dies shortly before the deadline and comes back after it: no answer is lost.

A participant answers; the test moves the attempt's deadline (and its open section's) to ~20 s
from now and the participant answers once more. Then gunicorn is killed (SIGKILL, master and
workers): the participant keeps answering into the page's queue, reloads the page - which still
shows the test, from the service worker's copy, with every answer - and answers again. The
deadline passes while the server is down: the page locks and says it is waiting for the server.
The server is started again (same port, same database) ~10 s after the deadline. The server
gives the outage back to the attempt, so the page continues (unlocked, the server's clock) and
delivers its queue as ordinary saves: every answer given before the deadline is stored. (The
check for lost answers also accepts late answers, on the server or still in the page's late
store, so that a failure says whether answers were lost or only the outage not given back.)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import Attempt, AttemptSection, db
from tests.conftest import _PG_URL, DATABASE_KINDS
from tests.e2e.conftest import E2E_SECRET, LiveServer
from tests.e2e.exam_pages import (
    TIMEOUT,
    VIEWPORT,
    Answers,
    late_answers,
    past_instructions,
    queue_length,
    responses,
    seed_session,
    start_attempt,
    stored,
    wait_saved,
)
from tests.live import REPO_ROOT, free_port, fresh_database, server_env

DEADLINE_IN = 20  # seconds from the moment the test moves it
BACK_AFTER_DEADLINE = 10  # seconds


class KillableServer:
    """gunicorn (the repository's gunicorn.conf.py) on a fixed port of 127.0.0.1, in a process
    group of its own, so that the test can kill it like a power cut and start it again on the
    same port and database."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(REPO_ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "wsgi:app",
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/login", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(self.log_path.read_text()) from None
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL to the master and every worker: no shutdown, no last write."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None


@pytest.fixture(params=DATABASE_KINDS)
def killable_server(  # type: ignore[no-untyped-def]
    request, tmp_path, live_templates
) -> Iterator[tuple[LiveServer, KillableServer]]:
    """A server of its own (SQLite, and PostgreSQL when configured) that the test can kill."""
    instance = tmp_path / "instance"
    instance.mkdir()
    template = live_templates.url(request.param)
    with fresh_database(request.param, instance, _PG_URL, template=template) as database_url:
        env = server_env(instance, database_url, E2E_SECRET, CBT_SWEEP_SECONDS="2")
        server = KillableServer(env, tmp_path / "gunicorn.log")
        server.start()
        try:
            yield LiveServer(server.url, database_url, instance), server
        finally:
            server.kill()


def _move_deadline(app, attempt_id: int, seconds: float) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), write_transaction():
        attempt = db.session.get(Attempt, attempt_id)
        attempt.deadline_at = now() + timedelta(seconds=seconds)
        for section in db.session.scalars(
            select(AttemptSection).where(AttemptSection.attempt_id == attempt_id)
        ):
            if section.started_at is not None and section.closed_at is None:
                section.deadline_at = attempt.deadline_at


def _seconds(text: str) -> int:
    hours, minutes, seconds = (int(part) for part in text.strip().split(":"))
    return hours * 3600 + minutes * 60 + seconds


def test_outage_across_the_deadline_loses_nothing(killable_server, browser):  # type: ignore[no-untyped-def]
    live, server = killable_server
    app = live.app()
    lab = seed_session(app, participants=1)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    attempt_id = start_attempt(page, live.url, lab)
    answers = Answers(app, attempt_id)
    # The service worker keeps the page, its files and the attempt for a reload offline.
    expect(page.locator("body")).to_have_attribute("data-offline-ready", "1")

    answers.choose(page, 0, 0)
    wait_saved(page)
    _move_deadline(app, attempt_id, DEADLINE_IN)
    deadline = time.monotonic() + DEADLINE_IN
    answers.choose(page, 1, 1)
    wait_saved(page)
    # The save's answer carried the server's clock: the page counts down from it.
    expect(page.get_by_test_id("countdown")).to_have_text(re.compile(r"^00:00:[0-2]\d$"))

    server.kill()
    answers.choose(page, 2, 1)
    answers.choose(page, 0, 1)
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    assert queue_length(page) == 2

    # A reload while the server is down: the test is still there, with every answer.
    page.reload()
    past_instructions(page)
    expect(page.get_by_test_id("offline-copy")).to_be_visible()
    assert queue_length(page) == 2
    for position in (0, 1, 2):
        page.get_by_test_id(f"nav-{position}").click()
        for index in answers.shown[position]:
            expect(page.get_by_test_id(f"option-{index}")).to_have_attribute("aria-checked", "true")
    assert 0 < _seconds(page.get_by_test_id("countdown").inner_text()) <= DEADLINE_IN
    answers.flag(page, 1)  # answering goes on offline, into the queue
    assert queue_length(page) == 3
    given = answers.expected()

    # The deadline passes while the server is down: locked, waiting for the server, nothing lost.
    assert time.monotonic() < deadline, "too slow: the answers above must precede the deadline"
    expect(page.get_by_test_id("status-text")).to_contain_text(
        "server belum dapat dihubungi", timeout=(DEADLINE_IN + 10) * 1000
    )
    assert queue_length(page) == 3
    time.sleep(max(0.0, deadline + BACK_AFTER_DEADLINE - time.monotonic()))

    server.start()
    # The page follows the server: the outage is given back, so it goes on and sends its queue.
    # (A server that did not give it back would close the attempt: then the finish page, with
    # the queue kept as late answers.)
    expect(page.locator("body")).to_have_attribute("data-queue-length", "0", timeout=30_000)
    finished = "/exam/finish" in page.url
    if finished:
        expect(page.get_by_test_id("finish")).to_be_visible()
    else:
        expect(page.get_by_test_id("status-overlay")).to_be_hidden(timeout=TIMEOUT)
        expect(page.get_by_test_id("offline-copy")).to_be_hidden()
        assert _seconds(page.get_by_test_id("countdown").inner_text()) > 0
    late_on_pc = stored(page, "late", attempt_id) or []
    context.close()

    # Nothing lost: each answer is stored, or kept as a late answer (on the server or the PC).
    stored_now = responses(app, attempt_id)
    late_rows = {(r.position, r.client_seq) for r in late_answers(app, attempt_id)}
    late_pc = {(s["position"], s["seq"]) for s in late_on_pc}
    as_answers = sorted(p for p, want in given.items() if stored_now[p][:2] == want)
    missing = [
        (position, want, stored_now[position])
        for position, want in given.items()
        if position not in as_answers
        and not any(p == position and s > stored_now[position][2] for p, s in late_rows | late_pc)
    ]
    assert not missing, f"answers lost: {missing}"
    # This server gives the outage back (cbt_server/delivery/outage.py): every answer given
    # before the deadline is an ordinary, graded answer, and the attempt goes on.
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.outage_seconds >= BACK_AFTER_DEADLINE, attempt.outage_seconds
        assert attempt.state == "in_progress"
    assert as_answers == sorted(given), (given, stored_now)
    assert not finished

"""Load smoke test: 50 lab PCs at once against a real gunicorn lose no answer and see no error.

A real gunicorn (``tests/live.py``: the repository's gunicorn.conf.py, 3 workers as
``python3 run.py serve`` starts it) serves a fresh, migrated database with the generated
battery (``bench/generated_bank.py``) and a session of 50 participants, bulk-inserted with one
password hash made by the app's own ``User.set_password``. The 50 PCs (``tests/lab_client.py``,
one cookie jar each) sit at the login form, are released together (login, token, confirmation,
the test page with its CSS and JS modules, the attempt, the first image), then answer an item
every 0.3–1 s for about 35 s with a heartbeat every 5 s, and finally send what is still queued.

It asserts no errors (no 500, no connection failure, no timeout; a 429 or 503 is retried after
its Retry-After and is not an error), that every PC reached its first item, and that every
acknowledged answer is in the database afterwards (``check_ledger``). It asserts no timings.
35 s because the writes that used to fail under concurrency come late: the login records'
``last_seen_at`` (every 30 s before it went through the write path, every
``CBT_LOGIN_SEEN_SECONDS`` now, set to 5 s here so that it happens several times per PC) and the
attempts' last-seen stamps. Against the server before the one write path it fails with 500s
("database is locked" in ``is_live``). Runs on SQLite, and on PostgreSQL
as well when ``CBT_TEST_DATABASE_URL`` is set (like the browser tests). Select it alone with
``pytest tests/test_load_smoke.py``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import _PG_URL, DATABASE_KINDS
from tests.lab_client import (
    Lab,
    LabResult,
    Roster,
    ServedLab,
    check_ledger,
    format_counts,
    served_lab,
    summarise,
)

pytestmark = pytest.mark.db

PARTICIPANTS = 50
#: how long the PCs answer; ``CBT_LOAD_SMOKE_SECONDS`` runs it longer by hand
SECONDS = float(os.environ.get("CBT_LOAD_SMOKE_SECONDS") or 35)
ANSWER_EVERY = (0.3, 1.0)
HEARTBEAT_EVERY = 5.0
SECRET = "load-smoke-secret"


@pytest.fixture(params=DATABASE_KINDS)
def lab_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServedLab]:
    with served_lab(
        request.param,
        tmp_path,
        _PG_URL,
        participants=PARTICIPANTS,
        code="S-SMOKE",
        secret=SECRET,
        workers=3,
        CBT_LOGIN_SEEN_SECONDS="5",
    ) as served:
        yield served


async def _run(url: str, roster: Roster) -> LabResult:
    stop_at = time.monotonic() + SECONDS + 40  # no retry loop outlives the test
    async with Lab(url, roster.participants, limit=100, stop_at=stop_at) as lab:
        await lab.sit_at_login()
        await lab.stampede(roster.token)
        await lab.paced(time.monotonic() + SECONDS, ANSWER_EVERY, HEARTBEAT_EVERY)
        await lab.drain(min(stop_at, time.monotonic() + 20))
        return lab.result()


def _server_errors(log: Path, limit: int = 8) -> list[str]:
    """The distinct exception lines of the server's log (what a failure message needs)."""
    seen: list[str] = []
    for line in log.read_text(errors="replace").splitlines():
        text = line.strip()
        if ("Error" in text or "Exception" in text) and text not in seen:
            seen.append(text)
    return seen[:limit]


def test_fifty_pcs_at_once_lose_no_answer(lab_server: ServedLab) -> None:
    # In a thread of its own: after the browser tests, Playwright's loop may own this thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(asyncio.run, _run(lab_server.url, lab_server.roster)).result()
    total = summarise(result.samples)
    saves = summarise(result.samples, ["save"])
    check = check_ledger(lab_server.database_url, result.ledger.acks)
    report = (
        f"{len(result.samples)} requests, errors {format_counts(total.errors)}, retry-later "
        f"{format_counts(total.retries)}, refusals {format_counts(total.refusals)}; "
        f"{len(result.first_item_seconds)}/{PARTICIPANTS} PCs reached their first item; "
        f"saves {saves.count} ({format_counts(saves.errors)} errors); "
        f"{check.acknowledged} acknowledged answers in {check.attempts} attempts, "
        f"{len(check.missing)} missing, {len(check.mismatched)} different; "
        f"{result.queued_at_end} still queued; connection errors "
        f"{format_counts(result.connection_errors)}; failures: {result.failures[:3]}"
    )
    print(report)
    errors = "\n".join(_server_errors(lab_server.log))
    assert not total.errors, f"{report}\nserver log:\n{errors}"
    assert not result.failures, report
    assert len(result.first_item_seconds) == PARTICIPANTS, report
    assert check.acknowledged > 0, report
    assert not check.missing, f"{report}\nfirst missing: {check.missing[:3]}"
    assert not check.mismatched, f"{report}\nfirst different: {check.mismatched[:3]}"

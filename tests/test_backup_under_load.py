"""A backup taken during a live load of saves restores to an instance holding every answer
acknowledged before the backup started.

A real gunicorn (``tests/live.py``, the repository's gunicorn.conf.py, 2 workers) serves a
fresh database with the generated battery and a session of 20 participants
(``tests/lab_client.py``). The 20 PCs answer an item every 0.1-0.3 s. After a few seconds the
ledger's acknowledged saves are copied (each was committed before its 200 came back), and
``flask backup now`` runs in a process of its own while the PCs keep saving. The backup is then
restored into a new instance (``flask backup restore``, which checks integrity, schema revision
and row counts), and :func:`tests.lab_client.check_ledger` proves against the restored database
that every answer acknowledged before the backup started is there with its seq. Runs on SQLite,
and on PostgreSQL as well when ``CBT_TEST_DATABASE_URL`` is set (like tests/test_load_smoke.py).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import _PG_URL, DATABASE_KINDS
from tests.lab_client import (
    Ack,
    Lab,
    Roster,
    ServedLab,
    check_ledger,
    format_counts,
    served_lab,
    summarise,
)
from tests.live import REPO_ROOT, fresh_database

pytestmark = pytest.mark.db

PARTICIPANTS = 20
ANSWER_EVERY = (0.1, 0.3)
#: saving before the backup starts, and the whole time the PCs save
WARM_UP_SECONDS = 5.0
SAVING_SECONDS = 20.0
SECRET = "backup-load-secret"


@pytest.fixture(params=DATABASE_KINDS)
def live_lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, ServedLab]]:
    with served_lab(
        request.param,
        tmp_path,
        _PG_URL,
        participants=PARTICIPANTS,
        code="S-CADANG",
        secret=SECRET,
        workers=2,
    ) as served:
        yield request.param, served


@dataclass
class Run:
    before: list[Ack]
    during_backup: int
    backup_seconds: float
    all_acks: int
    errors: str
    failures: list[str]


async def _save_and_back_up(lab_url: str, roster: Roster, back_up) -> Run:  # type: ignore[no-untyped-def]
    stop_at = time.monotonic() + SAVING_SECONDS + 60
    async with Lab(lab_url, roster.participants, limit=60, stop_at=stop_at) as lab:
        await lab.start_all(roster.token)
        saving = asyncio.create_task(
            lab.paced(time.monotonic() + SAVING_SECONDS, ANSWER_EVERY, None)
        )
        await asyncio.sleep(WARM_UP_SECONDS)
        # Every save in the ledger now was committed before its answer came back: before the
        # backup process even starts.
        before = list(lab.ledger.acks)
        started = time.monotonic()
        await asyncio.to_thread(back_up)  # the PCs keep saving meanwhile
        backup_seconds = time.monotonic() - started
        during = len(lab.ledger.acks) - len(before)
        await saving
        await lab.drain(time.monotonic() + 15)
        result = lab.result()
    return Run(
        before,
        during,
        backup_seconds,
        len(result.ledger.acks),
        format_counts(summarise(result.samples).errors),
        result.failures,
    )


def _flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "cbt_server", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_backup_under_load_restores_every_acknowledged_answer(
    live_lab: tuple[str, ServedLab], tmp_path: Path
) -> None:
    kind, server = live_lab
    folder = tmp_path / "cadangan"

    def back_up() -> None:
        done = _flask(server.env, "backup", "now", "--to", str(folder))
        assert done.returncode == 0, done.stderr + done.stdout

    # In a thread of its own: after the browser tests, Playwright's loop may own this thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        run = pool.submit(
            asyncio.run, _save_and_back_up(server.url, server.roster, back_up)
        ).result()
    report = (
        f"{len(run.before)} saves acknowledged before the backup, {run.during_backup} during "
        f"it ({run.backup_seconds:.1f} s), {run.all_acks} in all; errors {run.errors}; "
        f"failures {run.failures[:3]}"
    )
    print(report)
    assert run.errors == "0" and not run.failures, report
    assert len(run.before) >= PARTICIPANTS, report
    assert run.during_backup > 0, f"the PCs did not save while the backup ran: {report}"
    assert run.backup_seconds < SAVING_SECONDS - WARM_UP_SECONDS, report

    (backup,) = [p for p in folder.iterdir() if not p.name.endswith(".json")]
    manifest = json.loads(backup.with_name(backup.name + ".json").read_text())
    assert manifest["verified"] is True

    with fresh_database(kind, tmp_path / "baru", _PG_URL) as empty_url:
        # SQLite: a new instance folder; PostgreSQL: a new, empty database
        target = str(tmp_path / "baru") if kind == "sqlite" else empty_url
        restored = _flask(server.env, "backup", "restore", str(backup), "--into", target)
        assert restored.returncode == 0, restored.stderr + restored.stdout
        assert "OK   row counts: as in the manifest" in restored.stdout, restored.stdout
        check = check_ledger(empty_url, run.before)
    assert check.acknowledged == len(run.before) and check.attempts == PARTICIPANTS, report
    assert not check.missing, f"{report}\nmissing from the restore: {check.missing[:3]}"
    assert not check.mismatched, f"{report}\ndifferent in the restore: {check.mismatched[:3]}"

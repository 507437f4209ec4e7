"""SQLite's writers take turns through the writer queue, and saves that arrive together share one
commit; a failure of the commit fails every save of it, and a save whose conditions do not hold
changes nothing of the others."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from cbt_server.commit_group import CommitGroup, Job
from cbt_server.db import WriterQueue, WriterQueueTimeout
from cbt_server.models import db


def test_writers_of_every_worker_take_turns(tmp_path: Path) -> None:
    first = WriterQueue(str(tmp_path / "cbt.sqlite3"), timeout_ms=300)
    second = WriterQueue(str(tmp_path / "cbt.sqlite3"), timeout_ms=300)  # another worker
    order: list[str] = []
    with first.turn():
        waiting = threading.Thread(
            target=lambda: [order.append("waited") for _ in [second.turn().__enter__()]]
        )
        waiting.start()
        time.sleep(0.1)
        order.append("released")
    waiting.join(2)
    assert order == ["released", "waited"]


def test_a_turn_not_given_in_time_is_a_retryable_failure(tmp_path: Path) -> None:
    first = WriterQueue(str(tmp_path / "cbt.sqlite3"), timeout_ms=100)
    second = WriterQueue(str(tmp_path / "cbt.sqlite3"), timeout_ms=100)
    with first.turn():
        started = time.monotonic()
        with pytest.raises(WriterQueueTimeout), second.turn():
            pass
        assert time.monotonic() - started < 1
    from sqlalchemy.exc import OperationalError

    assert issubclass(WriterQueueTimeout, OperationalError)  # answered 503 like 'locked'


@pytest.fixture
def table(app: Flask, database_url: str):  # type: ignore[no-untyped-def]
    if not database_url.startswith("sqlite"):
        pytest.skip("the commit group serves SQLite's serialised writers")
    with app.app_context():
        db.session.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)"))
        db.session.commit()
    return app


def _values(app: Flask) -> dict[int, int]:
    with app.app_context():
        return dict(db.session.execute(text("SELECT k, v FROM t")).all())


def test_jobs_that_arrive_together_share_one_commit(table: Flask) -> None:
    group = CommitGroup()
    results: dict[int, bool] = {}
    release = threading.Event()

    def write(n: int):  # type: ignore[no-untyped-def]
        def run(connection) -> bool:  # type: ignore[no-untyped-def]
            if n == 0:
                release.wait(2)  # the first leader holds its turn while the others queue
            if n == 3:
                return False  # its conditions did not hold: it writes nothing
            connection.execute(text("INSERT INTO t VALUES (:k, :v)"), {"k": n, "v": n * 10})
            return True

        return run

    def submit(n: int) -> None:
        with table.app_context():
            results[n] = group.run(Job(write(n)))

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(5)]
    threads[0].start()
    time.sleep(0.1)
    for thread in threads[1:]:
        thread.start()
    time.sleep(0.2)
    release.set()
    for thread in threads:
        thread.join(5)
    assert results == {0: True, 1: True, 2: True, 3: False, 4: True}
    assert _values(table) == {0: 0, 1: 10, 2: 20, 4: 40}


def test_a_failed_commit_fails_every_job_of_it(table: Flask) -> None:
    group = CommitGroup()
    with table.app_context():
        job = Job(lambda connection: bool(connection.execute(text("INSERT INTO t VALUES (1, 1)"))))
        assert group.run(job)
        duplicate = Job(
            lambda connection: bool(connection.execute(text("INSERT INTO t VALUES (1, 2)")))
        )
        with pytest.raises(Exception, match="UNIQUE|unique|duplicate"):
            group.run(duplicate)
    assert _values(table) == {1: 1}


def test_a_job_of_several_writes_is_undone_alone(table: Flask) -> None:
    group = CommitGroup()
    with table.app_context():

        def half(connection) -> bool:  # type: ignore[no-untyped-def]
            connection.execute(text("INSERT INTO t VALUES (7, 70)"))
            return False  # the second save of the request was refused

        assert not group.run(Job(half, several=True))
    assert _values(table) == {}

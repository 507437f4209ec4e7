"""Group commit on SQLite: the saves (and starts, and log-ins) that arrive together share one
commit.

SQLite writes one transaction at a time and each commit waits for the disk (``synchronous=FULL``:
an acknowledged answer must survive a power cut). When several request threads of a worker have a
save ready at the same moment, the first becomes the leader: it takes the write turn once, runs
every waiting save in one transaction (each in a savepoint of its own when it has several
answers, so one save's refusal cannot undo another's), commits once, and hands each thread its
outcome. A save is acknowledged only after that commit. Threads that find a leader at work wait
for it and are usually done when it finishes; if their save arrived too late for its batch, one
of them leads the next.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from cbt_server.db import write_transaction
from cbt_server.models import db


@dataclass
class Job:
    """One request's writes: ``write(connection)`` returns False when its conditions did not
    hold (it must then have changed nothing, or the savepoint undoes what it did)."""

    write: Callable[[Any], bool]
    several: bool = False  # more than one statement that could fail: use a savepoint
    done: bool = False
    ok: bool = False
    error: BaseException | None = None


@dataclass
class CommitGroup:
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _pending: list[Job] = field(default_factory=list)
    _leading: bool = False

    def run(self, job: Job) -> bool:
        """Run ``job`` in the next group commit; True when its writes are committed."""
        with self._cond:
            self._pending.append(job)
            while not job.done and self._leading:
                self._cond.wait()
            if not job.done:
                self._leading = True
                batch, self._pending = self._pending, []
        if not job.done:
            try:
                _commit(batch)
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()
        if job.error is not None:
            raise job.error
        return job.ok


def _commit(batch: list[Job]) -> None:
    try:
        with write_transaction():
            connection = db.session.connection()
            for job in batch:
                if job.several:
                    savepoint = connection.begin_nested()
                    job.ok = job.write(connection)
                    (savepoint.commit if job.ok else savepoint.rollback)()
                else:
                    job.ok = job.write(connection)
    except BaseException as failed:  # nothing of the batch is stored: each request hears why
        for job in batch:
            job.ok, job.error = False, failed
    finally:
        for job in batch:
            job.done = True


def shared_write(work: Callable[[], bool]) -> bool:
    """Run ``work`` (which writes through ``db.session``) as one write use case: on SQLite in
    the next group commit, beside whatever else this worker's threads are writing, so a room
    logging in and starting together queues for far fewer write turns (docs/benchmarks.md, "The
    way in"); elsewhere in a transaction of its own. ``work`` runs in whichever thread leads the
    group: it must take everything it needs as arguments (no request, no ``current_user``), raise
    nothing it expects, and return False having written nothing when it cannot go on. True when
    its writes are committed."""
    if db.engine.dialect.name == "sqlite":
        return group().run(Job(lambda _connection: work()))
    with write_transaction():
        return work()


def group() -> CommitGroup:
    """The commit group of this application (one per process and database)."""
    return current_app.extensions.setdefault("cbt_commit_group", CommitGroup())

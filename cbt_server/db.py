"""Database engine set-up that the ORM does not do by itself, and the one write path.

SQLite (the embedded default) gets WAL, ``synchronous=FULL`` (WAL with NORMAL may lose committed
answers on power loss), a busy timeout and foreign keys. Every write runs in
:func:`write_transaction`, which opens SQLite transactions with ``BEGIN IMMEDIATE``: a deferred
transaction that reads first and writes later fails with SQLITE_BUSY at once, without waiting for
the busy timeout, when another worker writes. With ``CBT_STRICT_WRITES`` (on in the tests) any
INSERT, UPDATE or DELETE issued outside it raises :class:`WriteOutsideTransaction`, so a write
that slips past the write path fails a test instead of an exam day. The guard covers what runs
concurrently while a lab is served: requests and the background sweeper (:func:`served_work`).
Offline steps (migrations, the CLI, test set-up) write as they please.
"""

from __future__ import annotations

import contextvars
import fcntl
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress

from flask import has_request_context
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from cbt_server.models.base import db

#: how long a request waits for another's write lock before it answers 503 (retry later)
LOCK_TIMEOUT_MS = 10_000
_in_write = contextvars.ContextVar("cbt_in_write_transaction", default=False)
_served = contextvars.ContextVar("cbt_served_work", default=False)
_configured: weakref.WeakSet[Engine] = weakref.WeakSet()
_queues: weakref.WeakKeyDictionary[Engine, WriterQueue] = weakref.WeakKeyDictionary()
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT")


class WriteOutsideTransaction(RuntimeError):
    """A database write that did not go through :func:`write_transaction`."""


def _sqlite_pragmas(lock_timeout_ms: int):  # type: ignore[no-untyped-def]
    def on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is always DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(lock_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    return on_connect


def _postgres_settings(lock_timeout_ms: int):  # type: ignore[no-untyped-def]
    def on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # A row lock held too long (a stuck transaction) becomes a retryable 503, not a hang.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
        dbapi_connection.autocommit = autocommit

    return on_connect


def _private_database(database: str):  # type: ignore[no-untyped-def]
    """Create the SQLite file 0600 (its folder 0700) before SQLite would create it 0644: SQLite
    gives its -wal and -shm files the database file's mode, so they are private too."""

    def before_connect(_dialect, _record, _cargs, _cparams):  # type: ignore[no-untyped-def]
        if os.path.exists(database):
            return
        from pathlib import Path

        from cbt_server.config import private_folder

        private_folder(Path(database).resolve().parent)
        with suppress(FileExistsError):  # another worker was first
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    return before_connect


def _on_begin(connection):  # type: ignore[no-untyped-def]
    connection.exec_driver_sql("BEGIN IMMEDIATE" if _in_write.get() else "BEGIN")


class WriterQueue:
    """The writers of every worker of one SQLite file, served one at a time, promptly.

    SQLite lets one transaction write at a time; a writer that finds the lock taken sleeps in the
    busy handler for 1, 2, 5 … up to 100 ms between tries, so under load a save that could have
    run in 1 ms waits tens of milliseconds and the room's p99 follows. Here the threads of a
    worker queue on a lock that wakes the next one at once, and the one thread per worker at the
    head of its queue takes a file lock (``flock`` on ``<database>.writelock``) shared by every
    worker, polled every fraction of a millisecond. SQLite's own lock and busy timeout stay
    underneath for anything that writes without this queue (the command line).
    """

    def __init__(self, database: str, timeout_ms: int) -> None:
        self.timeout = timeout_ms / 1000
        self.path = f"{database}.writelock"
        self._threads = threading.Lock()
        self._pid: int | None = None  # opened on first use: the factory creates no file
        self._fd = -1

    def _open(self) -> None:
        # One open file per process: a descriptor inherited through fork would share the lock.
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        self._pid = os.getpid()

    @contextmanager
    def turn(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            raise WriterQueueTimeout("no write turn within the lock timeout")
        try:
            if self._pid != os.getpid():
                self._open()
            pause = 0.00005
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise WriterQueueTimeout("no write turn within the lock timeout") from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.0002)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


class WriterQueueTimeout(sa_exc.OperationalError):
    """Another writer held the database past the lock timeout: answered 503, like SQLite's
    'database is locked'."""

    def __init__(self, message: str) -> None:
        super().__init__(message, None, Exception(message))


def configure_engine(engine: Engine, lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> None:
    """Per-connection settings: SQLite's pragmas and BEGIN control, and the writer queue of a
    database file; PostgreSQL's lock timeout."""
    if engine in _configured:
        return
    _configured.add(engine)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas(lock_timeout_ms))
        event.listen(engine, "begin", _on_begin)
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _queues[engine] = WriterQueue(database, lock_timeout_ms)
            event.listen(engine, "do_connect", _private_database(database))
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_settings(lock_timeout_ms))


def _refuse_stray_write(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
    if _in_write.get() or not (_served.get() or has_request_context()):
        return
    verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    if verb in _WRITE_VERBS:
        raise WriteOutsideTransaction(
            f"write outside write_transaction(): {' '.join(statement.split())[:200]}"
        )


def install_write_guard(engine: Engine) -> None:
    """Fail every INSERT/UPDATE/DELETE issued outside :func:`write_transaction`."""
    if not event.contains(engine, "before_cursor_execute", _refuse_stray_write):
        event.listen(engine, "before_cursor_execute", _refuse_stray_write)


def in_write_transaction() -> bool:
    return _in_write.get()


@contextmanager
def write_transaction() -> Iterator[None]:
    """Run a write use case as one transaction: commit on success, roll back on error.

    Any read transaction the request already had open is ended first, so the write transaction
    starts fresh (and, on SQLite, takes the write lock up front). Nested use joins the outer one.
    """
    if _in_write.get():
        yield
        return
    db.session.commit()
    queue = _queues.get(db.engine)
    token = _in_write.set(True)
    try:
        with queue.turn() if queue is not None else nullcontext():
            try:
                yield
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
    finally:
        _in_write.reset(token)


@contextmanager
def served_work() -> Iterator[None]:
    """Mark background work that runs beside requests (the sweeper): the guard covers it too."""
    token = _served.set(True)
    try:
        yield
    finally:
        _served.reset(token)


@contextmanager
def maintenance_writes() -> Iterator[None]:
    """Writes of an offline maintenance step (schema set-up, test fixtures, bulk loads) that
    manage their own commits. Never use it in a request or in the sweeper."""
    token = _in_write.set(True)
    try:
        yield
    finally:
        _in_write.reset(token)

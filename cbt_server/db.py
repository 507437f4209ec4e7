"""Database engine set-up that the ORM does not do by itself.

SQLite (the embedded default) gets WAL, ``synchronous=FULL`` (WAL with NORMAL may lose committed
answers on power loss), a busy timeout and foreign keys. Write use cases run in
:func:`write_transaction`, which opens SQLite transactions with ``BEGIN IMMEDIATE``: a deferred
transaction that reads first and writes later fails with SQLITE_BUSY without waiting for the busy
timeout when another worker writes.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine

from cbt_server.models.base import db

BUSY_TIMEOUT_MS = 10_000
_immediate = contextvars.ContextVar("cbt_sqlite_immediate", default=False)


def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
    # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is always DEFERRED).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _on_begin(connection):  # type: ignore[no-untyped-def]
    connection.exec_driver_sql("BEGIN IMMEDIATE" if _immediate.get() else "BEGIN")


def install_sqlite_pragmas(engine: Engine) -> None:
    if engine.dialect.name != "sqlite" or event.contains(engine, "connect", _on_connect):
        return
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)


@contextmanager
def write_transaction() -> Iterator[None]:
    """Run a write use case as one transaction: commit on success, roll back on error.

    Any read transaction the request already had open is ended first, so the write transaction
    starts fresh (and, on SQLite, takes the write lock up front).
    """
    db.session.commit()
    token = _immediate.set(True)
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        _immediate.reset(token)

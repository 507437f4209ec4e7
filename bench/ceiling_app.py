"""The ceiling for a save: the least work a durable SQLite save can be on this machine.

A WSGI app without Flask: ``POST`` any path with the body a save sends
(``{"saves": [{"position", "answer", "flagged", "seq"}]}``) and it upserts each save into a
``responses``-like table (``INSERT … ON CONFLICT (attempt_id, position) DO UPDATE … WHERE the
incoming seq is newer``, one statement per save, one transaction per request: ``BEGIN
IMMEDIATE`` … ``COMMIT``) on a SQLite file in WAL mode with ``synchronous=FULL`` and a busy
timeout (the server's own settings, ``cbt_server/db.py``), and answers a small JSON like the
server's acknowledgement. The attempt is a number derived from the request's cookies, so the
same client with one cookie jar per PC writes distinct rows per PC. ``GET`` answers ``ok``
(gunicorn's readiness probe).

Served by ``bench/ceiling_gunicorn.conf.py`` (the repository's gunicorn settings without its
worker hook) with the database file named by ``CBT_CEILING_DB``::

    CBT_CEILING_DB=/tmp/ceiling.sqlite3 .venv-test/bin/python -m gunicorn \\
        --config bench/ceiling_gunicorn.conf.py --chdir bench ceiling_app:app
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import zlib
from datetime import UTC, datetime

BUSY_TIMEOUT_MS = 10_000
UPSERT = (
    "INSERT INTO responses (attempt_id, position, answer, flagged, client_seq, saved_at) "
    "VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (attempt_id, position) DO UPDATE SET answer = excluded.answer, "
    "flagged = excluded.flagged, client_seq = excluded.client_seq, saved_at = excluded.saved_at "
    "WHERE excluded.client_seq > responses.client_seq"
)
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS responses (attempt_id INTEGER NOT NULL, "
    "position INTEGER NOT NULL, answer TEXT, flagged BOOLEAN NOT NULL DEFAULT 0, "
    "client_seq INTEGER NOT NULL DEFAULT 0, saved_at TEXT, PRIMARY KEY (attempt_id, position))"
)

_local = threading.local()


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def create_database(path: str) -> None:
    """The table (run once before the server starts)."""
    conn = _connect(path)
    conn.execute(SCHEMA)
    conn.close()


def _connection() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = _connect(os.environ["CBT_CEILING_DB"])
    return conn


def _reply(start_response, status: str, data: dict) -> list[bytes]:  # type: ignore[no-untyped-def]
    body = json.dumps(data).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def app(environ, start_response):  # type: ignore[no-untyped-def]
    if environ["REQUEST_METHOD"] != "POST":
        return _reply(start_response, "200 OK", {"ok": True})
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        saves = json.loads(environ["wsgi.input"].read(length))["saves"]
        rows = [
            (int(s["position"]), json.dumps(s.get("answer")), bool(s.get("flagged")), int(s["seq"]))
            for s in saves
        ]
    except (ValueError, KeyError, TypeError):
        return _reply(start_response, "400 Bad Request", {"error": "bad_request"})
    attempt = zlib.crc32(environ.get("HTTP_COOKIE", "").encode())
    at = datetime.now(UTC).isoformat()
    conn = _connection()
    acks = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for position, answer, flagged, seq in rows:
            changed = conn.execute(UPSERT, (attempt, position, answer, flagged, seq, at)).rowcount
            acks.append(
                {"position": position, "seq": seq, "status": "saved" if changed else "duplicate"}
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return _reply(
        start_response,
        "200 OK",
        {"acks": acks, "state": "in_progress", "server_time": at, "remaining_seconds": 5400.0},
    )

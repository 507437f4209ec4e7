"""A database that cannot take a request now is a 503 with Retry-After that the page retries;
never a 500, never a 2xx for an answer that was not stored. Bad numbers are a 400."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask

from cbt_server import create_app
from cbt_server.models import Response, db
from tests.builders import Participant, make_session
from tests.conftest import BANKS_PATH


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    """The test app, but one that waits only 300 ms for a lock held by someone else."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_PATH": tmp_path / "instance",
            "SECRET_KEY": "test-secret",
            "CBT_CLOCK": clock,
            "CBT_BANKS_PATH": str(BANKS_PATH),
            "CBT_DB_LOCK_TIMEOUT_MS": 300,
            "CBT_STRICT_WRITES": True,
            "TESTING": True,
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=1)


@contextmanager
def locked(database_url: str, table: str) -> Iterator[None]:
    """Another worker (or a stuck job) holds the write lock the request needs."""
    if database_url.startswith("sqlite"):
        other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    url = sa.engine.make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as other:
        other.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")  # reads pass, writes wait
        yield
        other.rollback()


def _stored(app: Flask, attempt_id: int, position: int) -> tuple:  # type: ignore[type-arg]
    with app.app_context():
        row = db.session.get(Response, (attempt_id, position))
        return row.answer, row.client_seq


def test_a_save_that_cannot_get_the_lock_is_a_503_and_stores_nothing(
    app: Flask, lab, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    item = next(i for i in attempt["items"] if i["section"] == 0 and i["type"] != "short")
    assert person.save(item["position"], [0], 1).status_code == 200
    before = _stored(app, attempt["id"], item["position"])
    with locked(database_url, "attempts"):
        busy = person.save(item["position"], [1], 2)
    assert busy.status_code == 503
    assert busy.headers["Retry-After"].isdigit()
    assert busy.get_json()["error"] == "unavailable"
    assert _stored(app, attempt["id"], item["position"]) == before
    again = person.save(item["position"], [1], 2)  # the page sends it again later
    assert again.status_code == 200
    assert again.get_json()["acks"][0]["status"] == "saved"
    assert _stored(app, attempt["id"], item["position"])[1] == 2


def test_a_login_that_cannot_be_recorded_shows_a_page_that_retries(
    app: Flask, lab, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    with locked(database_url, "login_sessions"):
        response = person.login()
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    page = response.get_data(as_text=True)
    assert "Server sedang sibuk" in page and 'http-equiv="refresh"' in page
    assert person.login().status_code == 302


@pytest.mark.parametrize("seq", [2**31, 2**64, 10**30])
def test_numbers_out_of_range_are_a_400(app: Flask, lab, seq: int) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    response = person.save(attempt["items"][0]["position"], [0], seq)
    assert response.status_code == 400 and response.get_json()["error"] == "bad_request"
    far = person.save(2**63, [0], 1)
    assert far.status_code == 400
    assert person.post("/heartbeat", {"position": 2**64}).status_code == 400
    assert person.post("/position", {"position": -1}).status_code == 400

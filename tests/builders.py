"""Builders for sessions, rosters and participants, and a participant driving the exam API."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt_server.accounts.service import create_user
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import (
    Attempt,
    AttemptItem,
    BatteryVersion,
    Enrolment,
    ExamSession,
    Item,
    ItemKey,
    SessionProctor,
    db,
)
from tests.helpers import csrf_token, login

FIXTURE_BANKS = Path(__file__).resolve().parent / "fixtures" / "qb"


@dataclass
class LabSession:
    id: int
    code: str
    token: str
    participants: list[tuple[str, str]] = field(default_factory=list)
    proctors: list[tuple[str, str]] = field(default_factory=list)


def make_session(
    app: Flask,
    battery_code: str = "BAT-UJI",
    *,
    participants: int = 2,
    proctors: int = 1,
    code: str = "S-01",
    token: str = "TOKEN7",
    opens_in_minutes: int = -5,
    hours: int = 4,
) -> LabSession:
    """A session that is open now (by the app's clock) with a roster of new participants.

    Written as the server writes (``write_transaction``: on SQLite ``BEGIN IMMEDIATE``), so it
    waits for a live server's workers instead of failing when they write meanwhile."""
    with app.app_context(), write_transaction():
        battery = db.session.scalars(
            select(BatteryVersion)
            .where(BatteryVersion.code == battery_code)
            .order_by(BatteryVersion.id.desc())
        ).first()
        assert battery is not None, f"import {battery_code} first"
        start = now() + timedelta(minutes=opens_in_minutes)
        session = ExamSession(
            code=code,
            name=f"Sesi {code}",
            battery_version_id=battery.id,
            room="Lab 1",
            starts_at=start,
            ends_at=start + timedelta(hours=hours),
            token=token,
            created_at=now(),
        )
        db.session.add(session)
        db.session.flush()
        lab = LabSession(session.id, code, token)
        for n in range(1, participants + 1):
            username, password = f"{code.lower()}-p{n:02d}", f"sandi-{n:02d}"
            user = create_user(
                username,
                password,
                "participant",
                f"Peserta {n}",
                nip=f"1990{session.id:04d}{n:010d}",
                unit="Unit Uji",
            )
            db.session.flush()
            db.session.add(Enrolment(session_id=session.id, user_id=user.id, seat=f"PC-{n:02d}"))
            lab.participants.append((username, password))
        for n in range(1, proctors + 1):
            username, password = f"{code.lower()}-proctor{n}", "pengawas-sandi"
            user = create_user(username, password, "proctor", f"Pengawas {n}")
            db.session.flush()
            db.session.add(SessionProctor(session_id=session.id, user_id=user.id))
            lab.proctors.append((username, password))
    return lab


class Participant:
    """A lab PC: one browser (cookie jar) driving the pages and the exam API."""

    def __init__(self, app: Flask, username: str, password: str) -> None:
        self.app = app
        self.username = username
        self.password = password
        self.client: FlaskClient = app.test_client()
        self.csrf: str | None = None

    def login(self):  # type: ignore[no-untyped-def]
        return login(self.client, self.username, self.password)

    def enter_token(self, token: str):  # type: ignore[no-untyped-def]
        page = self.client.get("/exam/")
        return self.client.post(
            "/exam/", data={"token": token, "csrf_token": csrf_token(page.get_data(as_text=True))}
        )

    def start(self):  # type: ignore[no-untyped-def]
        page = self.client.get("/exam/confirm")
        return self.client.post(
            "/exam/confirm", data={"csrf_token": csrf_token(page.get_data(as_text=True))}
        )

    def begin(self, token: str) -> dict[str, Any]:
        assert self.login().status_code == 302
        assert self.enter_token(token).status_code == 302
        assert self.start().status_code == 302
        return self.attempt()

    def attempt(self) -> dict[str, Any]:
        response = self.client.get("/api/v1/attempt")
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        self.csrf = body["csrf_token"]
        return body["attempt"]

    def post(self, path: str, payload: Any | None = None):  # type: ignore[no-untyped-def]
        if self.csrf is None:
            self.attempt()
        return self.client.post(
            f"/api/v1/attempt{path}",
            json=payload if payload is not None else {},
            headers={"X-CSRFToken": self.csrf or ""},
        )

    def save(self, position: int, answer: Any, seq: int, flagged: bool = False):  # type: ignore[no-untyped-def]
        return self.post(
            "/answers",
            {"saves": [{"position": position, "answer": answer, "seq": seq, "flagged": flagged}]},
        )


def attempt_of(app: Flask, username: str) -> Attempt:
    from cbt_server.models import User

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        attempt = db.session.scalar(select(Attempt).where(Attempt.user_id == user.id))
        db.session.expunge_all()
        return attempt


def keyed_positions(app: Flask, attempt_id: int) -> list[dict[str, Any]]:
    """Server-side truth for tests: per position, the item, its key and its shown option order."""
    with app.app_context():
        rows = db.session.execute(
            select(AttemptItem, Item, ItemKey)
            .join(Item, Item.id == AttemptItem.item_id)
            .join(ItemKey, ItemKey.item_id == Item.id)
            .where(AttemptItem.attempt_id == attempt_id)
            .order_by(AttemptItem.position)
        ).all()
        return [
            {
                "position": f.position,
                "code": item.item_code,
                "type": item.item_type,
                "order": list(f.option_order),
                "key": list(key.key),
                "weights": dict(key.weights or {}),
                "accept": list(key.accept),
                "reverse": key.reverse,
                "competency": key.competency_code,
                "points": item.points,
                "likert_points": item.likert_points,
            }
            for f, item, key in rows
        ]


# ---- the fixture battery BAT-UJI taken by a session of JF-UJ participants, for assessor tests --

#: Right answers for the fixture battery (see tests/fixtures/qb), by item id.
RIGHT = {"U-SGL": "B", "U-MUL": ["A", "C"], "U-TF": "A", "U-W": "B", "U-SHORT": "garuda"}


def assessor_lab(app: Flask) -> LabSession:
    """Three JF-UJ participants (the first with an Indonesian name full of accents) and an
    assessor ``asesor-1`` / ``sandi-asesor``; the fixture banks must be imported."""
    from cbt_server.models import User

    lab = make_session(app, participants=3)
    with app.app_context(), write_transaction():
        for n, user in enumerate(
            db.session.scalars(select(User).where(User.role == "participant").order_by(User.id))
        ):
            user.position_code = "JF-UJ"
            if n == 0:
                user.full_name = "Ni Kadek Ayu Wulandari, S.Pd. — Ñusantara"
        create_user("asesor-1", "sandi-asesor", "assessor", "Asesor Satu")
    return lab


def finish(app: Flask, lab: LabSession, n: int, answers: dict[str, Any]) -> int:
    """Participant n answers BAT-UJI by item id (option labels or text) and submits."""
    person = Participant(app, *lab.participants[n])
    attempt = person.begin(lab.token)
    truth = keyed_positions(app, attempt["id"])
    seq = 0
    for t in sorted(truth, key=lambda t: t["position"]):
        if t["position"] == 3:
            assert person.post("/sections/0/finish").status_code == 200
        given = answers.get(t["code"])
        if given is None:
            continue
        seq += 1
        if t["type"] == "short":
            answer: Any = given
        else:
            labels = given if isinstance(given, list) else [given]
            answer = [t["order"].index(label) for label in labels]
        response = person.save(t["position"], answer, seq)
        assert response.status_code == 200, response.get_json()
    assert person.post("/submit").status_code == 200
    return attempt["id"]


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client: FlaskClient, kind: str, name: str, data: bytes):  # type: ignore[no-untyped-def]
    """Post an outside-data file (self, supervisor or performance) on the assessor's form."""
    token = csrf_token(client.get("/assessor/imports").get_data(as_text=True))
    return client.post(
        "/assessor/imports",
        data={"csrf_token": token, "kind": kind, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )

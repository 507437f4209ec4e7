"""Generated data for the monitor benchmark: a session of participants in every state, bulk
inserted through the models (``db.session.execute(insert(Model), rows)``) in an app context."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import func, insert, select, update
from werkzeug.security import generate_password_hash

from cbt_server.models import (
    Attempt,
    AttemptEvent,
    AttemptItem,
    AttemptSection,
    BatteryVersion,
    Enrolment,
    ExamSession,
    Item,
    LoginSession,
    Response,
    SessionProctor,
    User,
    db,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # H: the moment of the steady-state refresh
PROCTOR = ("pengawas-bench", "pengawas-sandi")
#: share of seats per status (what the monitor shows); the rest are in progress
STATE_SHARES = {
    "absent": 0.03,
    "logged_in": 0.02,
    "paused": 0.02,
    "submitted": 0.10,
    "expired": 0.02,
    "voided": 0.01,
}
INTEGRITY_KINDS = ("focus_lost", "focus_regained", "reload", "fullscreen_exit", "copy_attempt")
HEARTBEAT = timedelta(seconds=15)


@dataclass(frozen=True)
class Plan:
    """The session to generate and how to measure it (the benchmark's command line)."""

    seats: int
    items: int
    answered: int
    changed: int
    runs: int
    other_sessions: int


def _insert_returning_ids(model: Any, rows: list[dict]) -> list[int]:
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(db.session.scalars(statement, rows))


def _bulk(model: Any, rows: list[dict]) -> None:
    if rows:
        db.session.execute(insert(model), rows)


def _states(seats: int, rng: random.Random) -> list[str]:
    states = [s for s, share in STATE_SHARES.items() for _ in range(round(seats * share))]
    states += ["in_progress"] * (seats - len(states))
    rng.shuffle(states)
    return states


@dataclass
class Seeder:
    """Bulk-inserts sessions of participants with attempts (in an app context)."""

    battery_id: int
    item_ids: list[int]
    plan: Plan
    rng: random.Random
    password_hash: str
    users_made: int = 0

    def session(self, code: str, at: datetime, live: bool) -> int:
        """A session of ``plan.seats`` seats as it looks at ``at``; finished unless ``live``."""
        session = ExamSession(
            code=code,
            name=f"Sesi {code}",
            battery_version_id=self.battery_id,
            room="Lab 1",
            starts_at=at - timedelta(hours=1),
            ends_at=at + timedelta(hours=2),
            token="BENCH7",
            token_rotated_at=at - timedelta(minutes=1),
            created_at=at - timedelta(days=1),
        )
        db.session.add(session)
        db.session.flush()
        states = _states(self.plan.seats, self.rng) if live else ["submitted"] * self.plan.seats
        users = [self._user(code, n, at) for n in range(len(states))]
        self.users_made += len(users)
        user_ids = _insert_returning_ids(User, users)
        enrolment_ids = _insert_returning_ids(
            Enrolment,
            [
                {"session_id": session.id, "user_id": u, "seat": f"PC-{n + 1:03d}"}
                | {"participant_number": f"{code}-{n + 1:04d}"}
                for n, u in enumerate(user_ids)
            ],
        )
        seats = list(zip(states, user_ids, enrolment_ids, strict=True))
        self._logins([(s, u) for s, u, _e in seats], at)
        with_attempt = [(s, u, e) for s, u, e in seats if s not in ("absent", "logged_in")]
        attempts = [self._attempt(session.id, s, u, e, at) for s, u, e in with_attempt]
        attempt_ids = _insert_returning_ids(Attempt, attempts)
        for attempt_id, attempt in zip(attempt_ids, attempts, strict=True):
            self._attempt_rows(attempt_id, attempt, at)
        db.session.commit()
        return session.id

    def _user(self, code: str, n: int, at: datetime) -> dict:
        return {
            "username": f"{code.lower()}-p{n:04d}",
            "password_hash": self.password_hash,
            "role": "participant",
            "full_name": f"Peserta {code} Nomor {n:04d}",
            "nip": f"1990{self.users_made + n:014d}",
            "unit": "Biro Umum",
            "created_at": at - timedelta(days=2),
        }

    def _logins(self, seats: list[tuple[str, int]], at: datetime) -> None:
        rows = [
            {
                "id": uuid.uuid4().hex,
                "user_id": user_id,
                "created_at": at - timedelta(minutes=55),
                "last_seen_at": at - timedelta(seconds=self.rng.randint(0, 60)),
                "revoked_at": at - timedelta(minutes=5) if state == "submitted" else None,
                "ip": "10.0.0.1",
            }
            for state, user_id in seats
            if state != "absent"
        ]
        _bulk(LoginSession, rows)

    def _attempt(self, session_id: int, state: str, user_id: int, enrolment_id: int, at) -> dict:
        started = at - timedelta(minutes={"expired": 95, "submitted": 80}.get(state, 50))
        deadline = started + timedelta(minutes=90)
        finished = {
            "submitted": at - timedelta(minutes=10),
            "expired": deadline,
            "voided": at - timedelta(minutes=20),
        }.get(state)
        if finished is not None:
            last_seen = finished - timedelta(seconds=self.rng.randint(1, 10))
        elif self.rng.random() < 0.9:  # connected: the heartbeat came within the last 15 s
            last_seen = at - timedelta(seconds=self.rng.uniform(0, HEARTBEAT.total_seconds()))
        else:  # disconnected a while ago
            last_seen = at - timedelta(seconds=self.rng.uniform(40, 600))
        return {
            "enrolment_id": enrolment_id,
            "user_id": user_id,
            "session_id": session_id,
            "battery_version_id": self.battery_id,
            "state": state,
            "seed": self.rng.randrange(2**31),
            "started_at": started,
            "deadline_at": deadline,
            "paused_at": at - timedelta(minutes=2) if state == "paused" else None,
            "finished_at": finished,
            "finish_reason": {"submitted": "participant", "expired": "deadline"}.get(
                state, "proctor" if finished else None
            ),
            "current_position": self.rng.randrange(self.plan.items),
            "device_hash": uuid.uuid4().hex * 2,
            "last_seen_at": last_seen,
            "last_heartbeat_event_at": last_seen,
            "last_ip": f"10.0.{self.rng.randint(0, 3)}.{self.rng.randint(2, 250)}",
            "total_score": 30.0 if finished else None,
            "total_max": 50.0 if finished else None,
            # what the before_update stamp would hold: the last change (here, the last seen)
            "updated_at": finished or last_seen,
        }

    def _attempt_rows(self, attempt_id: int, attempt: dict, at: datetime) -> None:
        """Sections, frozen items, responses (~``plan.answered`` answered) and events."""
        started, until = attempt["started_at"], attempt["last_seen_at"]
        items = self.plan.items
        _bulk(
            AttemptSection,
            [
                {"attempt_id": attempt_id, "section_index": i, "started_at": started}
                | {"deadline_at": started + timedelta(minutes=45 * (i + 1))}
                for i in range(2)
            ],
        )
        _bulk(
            AttemptItem,
            [
                {"attempt_id": attempt_id, "position": p, "section_index": p * 2 // items}
                | {"item_id": self.item_ids[p % len(self.item_ids)], "option_order": ["A", "B"]}
                for p in range(items)
            ],
        )
        answered = max(0, min(items, round(self.rng.gauss(self.plan.answered, 4))))
        span = max((until - started).total_seconds() - 15, 1)
        responses = []
        for p in range(items):
            row = {"attempt_id": attempt_id, "position": p, "client_seq": 0, "flagged": False}
            if p < answered:
                saved = started + timedelta(seconds=span * (p + 1) / (answered + 1))
                row |= {"answer": ["A"], "client_seq": p + 1, "saved_at": saved}
                row["flagged"] = self.rng.random() < 0.05
            responses.append(row)
        _bulk(Response, responses)
        minutes = int((until - started).total_seconds() // 60)
        events = [
            {"attempt_id": attempt_id, "kind": "heartbeat", "at": started + timedelta(minutes=m)}
            for m in range(1, minutes + 1)
        ]
        events += [
            {"attempt_id": attempt_id, "kind": self.rng.choice(INTEGRITY_KINDS)}
            | {"at": started + timedelta(seconds=self.rng.uniform(0, span)), "detail": {}}
            for _ in range(self.rng.randint(0, 6))
        ]
        _bulk(AttemptEvent, events)


def seed(app: Flask, plan: Plan) -> int:
    """The measured session (at ``NOW``) and ``plan.other_sessions`` finished ones before it."""
    with app.app_context():
        battery = db.session.scalar(select(BatteryVersion))
        item_ids = list(db.session.scalars(select(Item.id).order_by(Item.id)))
        seeder = Seeder(battery.id, item_ids, plan, random.Random(1), generate_password_hash("x"))
        for n in range(plan.other_sessions):
            seeder.session(f"H{n:03d}", NOW - timedelta(days=n + 1), live=False)
        session_id = seeder.session("S-BENCH", NOW, live=True)
        proctor = {"username": PROCTOR[0], "role": "proctor", "full_name": "Pengawas Bench"}
        proctor |= {"password_hash": generate_password_hash(PROCTOR[1]), "created_at": NOW}
        (proctor_id,) = _insert_returning_ids(User, [proctor])
        _bulk(SessionProctor, [{"session_id": session_id, "user_id": proctor_id}])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # Planner statistics, as autovacuum would have them after a bulk load like this.
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
        for model in (Attempt, Response, AttemptEvent):
            count = db.session.scalar(select(func.count()).select_from(model))
            print(f"  {model.__tablename__}: {count} rows")
    return session_id


def change_seats(app: Flask, session_id: int, n: int, at: datetime) -> None:
    """At ``at``, ``n`` running seats change: a saved answer, an integrity event or a pause."""
    with app.app_context():
        attempts = db.session.scalars(
            select(Attempt)
            .where(Attempt.session_id == session_id, Attempt.state == "in_progress")
            .order_by(Attempt.id)
            .limit(n)
        ).all()
        for i, attempt in enumerate(attempts):
            if i % 3 == 0:
                db.session.execute(
                    update(Response)
                    .where(Response.attempt_id == attempt.id, Response.position == 0)
                    .values(answer=["B"], client_seq=999, saved_at=at)
                )
            elif i % 3 == 1:
                db.session.add(AttemptEvent(attempt_id=attempt.id, kind="focus_lost", at=at))
            else:
                attempt.state, attempt.paused_at = "paused", at  # the stamp moves updated_at
        db.session.commit()

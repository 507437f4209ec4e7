"""The lab boundary per session: its settings and the lab's registered seat PCs (both audited),
and the per-process view of them that every participant request is checked against
(rules in :mod:`cbt_server.delivery.boundary`; docs/lab-boundary.md).

The view is read with a few statements and kept in memory per application (tests build many
apps in one process). A change is seen at once by the process that made it, by the other workers
of the host through a version file in the instance folder (``lab-boundary.version``, replaced on
every change; a ``stat`` per request, no statement), and by other hosts within
:data:`CACHE_SECONDS`. With no session limited the view is empty and a request costs no
statement (a save stays a few statements).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, or_, select

from cbt_server import audit
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery import boundary
from cbt_server.delivery.boundary import Boundary, Facts, Refusal, Seats, SettingError
from cbt_server.models import Enrolment, ExamSession, LabSeat, User, db

log = logging.getLogger(__name__)

#: how long a worker trusts its view when the version file has not changed (the delay for
#: workers on other hosts, which do not share the instance folder)
CACHE_SECONDS = 30.0
VERSION_FILE = "lab-boundary.version"
#: one log line per (refusal, session, address) per this many seconds: a PC retrying every
#: second must not flood the log (the flood throttle limits the requests themselves)
LOG_EVERY = 60.0


def device_hash(secret: str | None) -> str | None:
    if not secret:
        return None
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# ---- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    networks: str | None
    bind_seats: bool
    seb_required: bool
    seb_keys: str | None


def settings_of(session: ExamSession) -> Settings:
    return Settings(
        session.allowed_networks,
        bool(session.bind_seats),
        bool(session.seb_required),
        session.seb_keys,
    )


def update_settings(
    actor: User,
    session: ExamSession,
    *,
    networks: str,
    bind_seats: bool,
    seb_required: bool,
    seb_keys: str,
) -> list[str]:
    """Validate and store the session's boundary; returns the names of the settings changed.
    Raises :class:`SettingError` naming the first bad line (nothing is stored then)."""
    parsed = boundary.parse_networks(networks)
    keys = boundary.parse_seb_keys(seb_keys)
    if seb_required and not keys:
        raise SettingError("seb_keys", 1, "", "no_keys")
    new = Settings(
        boundary.networks_text(parsed), bind_seats, seb_required, "\n".join(keys) or None
    )
    with write_transaction():
        row = db.session.get(ExamSession, session.id)
        old = settings_of(row)  # type: ignore[arg-type]
        changed = [
            name
            for name in Settings.__dataclass_fields__
            if getattr(old, name) != getattr(new, name)
        ]
        if not changed:
            return []
        row.allowed_networks = new.networks  # type: ignore[union-attr]
        row.bind_seats = new.bind_seats  # type: ignore[union-attr]
        row.seb_required = new.seb_required  # type: ignore[union-attr]
        row.seb_keys = new.seb_keys  # type: ignore[union-attr]
        audit.record(
            "session.boundary",
            actor=actor,
            target=row.code,  # type: ignore[union-attr]
            details={
                "changed": changed,
                "before": _audited(old),
                "after": _audited(new),
            },
        )
    forget()
    return changed


def _audited(settings: Settings) -> dict:
    """The settings as the audit log keeps them: keys by their first 8 digits (enough to tell
    them apart; a key in full belongs in the SEB configuration, not in every log reader's view)."""
    return {
        "networks": (settings.networks or "").splitlines(),
        "bind_seats": settings.bind_seats,
        "seb_required": settings.seb_required,
        "seb_keys": [key[:8] + "…" for key in (settings.seb_keys or "").splitlines()],
    }


# ---- seats --------------------------------------------------------------------------------------


def roster_seats(session: ExamSession) -> list[str]:
    """The seats the session's roster uses, sorted (the choices of the registration page)."""
    seats = db.session.scalars(
        select(Enrolment.seat)
        .where(Enrolment.session_id == session.id, Enrolment.seat.is_not(None))
        .distinct()
    ).all()
    return sorted(s for s in seats if s)


@dataclass(frozen=True)
class SeatLine:
    seat: str
    registered_at: datetime | None
    registered_by: str | None


def seat_lines(session: ExamSession) -> list[SeatLine]:
    """Each roster seat with the PC registered for it in the session's room (if any)."""
    registered = {
        seat: (at, by)
        for seat, at, by in db.session.execute(
            select(LabSeat.seat, LabSeat.registered_at, User.username)
            .outerjoin(User, User.id == LabSeat.registered_by)
            .where(LabSeat.room == session.room)
        )
    }
    return [SeatLine(seat, *registered.get(seat, (None, None))) for seat in roster_seats(session)]


def seat_of_pc(room: str, secret: str | None) -> str | None:
    """The seat of ``room`` this PC (its cookie's secret) is registered as."""
    hashed = device_hash(secret)
    if hashed is None:
        return None
    return db.session.scalar(
        select(LabSeat.seat).where(LabSeat.device_hash == hashed, LabSeat.room == room)
    )


def register_seat(actor: User, session: ExamSession, seat: str, old_secret: str | None) -> str:
    """Register the PC the proctor is using as ``seat`` of the session's room. Returns the new
    secret for the PC's cookie. A seat registered before is given to this PC (the old PC no
    longer passes); a PC registered before as another seat leaves that seat."""
    seat = seat.strip()
    if seat not in roster_seats(session):
        raise ValueError(seat)
    secret = secrets.token_urlsafe(32)
    with write_transaction():
        left = None
        old_hash = device_hash(old_secret)
        if old_hash is not None:
            previous = db.session.scalar(select(LabSeat).where(LabSeat.device_hash == old_hash))
            if previous is not None and (previous.room, previous.seat) != (session.room, seat):
                left = f"{previous.room} / {previous.seat}"
            db.session.execute(delete(LabSeat).where(LabSeat.device_hash == old_hash))
        row = db.session.scalar(
            select(LabSeat).where(LabSeat.room == session.room, LabSeat.seat == seat)
        )
        replaced = row is not None and row.device_hash != old_hash
        if row is None:
            row = LabSeat(room=session.room, seat=seat)
            db.session.add(row)
        row.device_hash = device_hash(secret)  # type: ignore[assignment]
        row.registered_at = now()
        row.registered_by = actor.id
        audit.record(
            "lab.seat_register",
            actor=actor,
            target=f"{session.room} / {seat}",
            details={"session": session.code, "replaced_pc": replaced, "pc_left_seat": left},
        )
    forget()
    return secret


# ---- the per-process view -------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """The limited sessions, their enrolments and the registered seats, as one worker sees them."""

    sessions: dict[int, Boundary] = field(default_factory=dict)
    #: enrolment id -> (session id, seat), for enrolments of limited sessions only
    enrolments: dict[int, tuple[int, str | None]] = field(default_factory=dict)
    #: user id -> their enrolments in limited sessions
    users: dict[int, frozenset[int]] = field(default_factory=dict)
    seats: Seats = boundary.NO_SEATS
    loaded_at: float = 0.0
    #: the version file as it was before the load (see :func:`_version`)
    version: tuple[int, int] = (0, 0)


class _Holder:
    def __init__(self, version_path: Path) -> None:
        self.view: View | None = None
        self.version_path = version_path
        self.logged: dict[tuple, float] = {}
        self.lock = threading.Lock()


def _holder() -> _Holder:
    holder = current_app.extensions.get("cbt_lab_boundary")
    if holder is None:
        path = Path(current_app.instance_path) / VERSION_FILE
        holder = current_app.extensions.setdefault("cbt_lab_boundary", _Holder(path))
    return holder


def _version(holder: _Holder) -> tuple[int, int]:
    """The version file's identity: it is replaced (a new inode) on every change."""
    try:
        found = os.stat(holder.version_path)
    except OSError:
        return (0, 0)
    return (found.st_ino, found.st_mtime_ns)


def forget() -> None:
    """After a change (committed): this process reads the settings again on its next request,
    and so do the host's other workers (the version file is replaced)."""
    holder = _holder()
    holder.view = None
    try:
        holder.version_path.parent.mkdir(parents=True, exist_ok=True)
        spare = holder.version_path.with_name(f"{VERSION_FILE}.{os.getpid()}.tmp")
        # the server's own file, like every other one in the instance folder (0600)
        fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(f"{time.time_ns()}\n")
        os.replace(spare, holder.version_path)
    except OSError:
        log.exception(
            "could not bump %s; other workers follow within %ss", VERSION_FILE, CACHE_SECONDS
        )


def view() -> View:
    """The current view: reloaded after a change (the version file) or when older than
    :data:`CACHE_SECONDS`."""
    holder = _holder()
    current = holder.view
    version = _version(holder)
    if (
        current is None
        or current.version != version
        or time.monotonic() - current.loaded_at > CACHE_SECONDS
    ):
        current = holder.view = _load(version)
    return current


def _load(version: tuple[int, int]) -> View:
    S = ExamSession
    rows = db.session.execute(
        select(S.id, S.room, S.allowed_networks, S.bind_seats, S.seb_required, S.seb_keys).where(
            or_(S.allowed_networks.is_not(None), S.bind_seats.is_(True), S.seb_required.is_(True))
        )
    ).all()
    sessions = {}
    for session_id, room, networks, bind_seats, seb_required, seb_keys in rows:
        found = _boundary(
            session_id, room, networks, bool(bind_seats), bool(seb_required), seb_keys
        )
        if found.active:
            sessions[session_id] = found
    if not sessions:
        return View(loaded_at=time.monotonic(), version=version)
    enrolments: dict[int, tuple[int, str | None]] = {}
    users: dict[int, set[int]] = {}
    for enrolment_id, session_id, user_id, seat in db.session.execute(
        select(Enrolment.id, Enrolment.session_id, Enrolment.user_id, Enrolment.seat).where(
            Enrolment.session_id.in_(sessions)
        )
    ):
        enrolments[enrolment_id] = (session_id, seat)
        users.setdefault(user_id, set()).add(enrolment_id)
    rooms = {b.room for b in sessions.values() if b.bind_seats}
    seats = boundary.NO_SEATS
    if rooms:
        by_seat, by_device = {}, {}
        for room, seat, hashed in db.session.execute(
            select(LabSeat.room, LabSeat.seat, LabSeat.device_hash).where(LabSeat.room.in_(rooms))
        ):
            by_seat[(room, seat)] = hashed
            by_device[hashed] = (room, seat)
        seats = Seats(by_seat, by_device)
    return View(
        sessions,
        enrolments,
        {user: frozenset(ids) for user, ids in users.items()},
        seats,
        time.monotonic(),
        version,
    )


def _boundary(
    session_id: int,
    room: str,
    networks: str | None,
    bind_seats: bool,
    seb_required: bool,
    seb_keys: str | None,
) -> Boundary:
    """A stored setting that no longer parses (edited in the database by hand) shuts the
    session rather than opening it: nobody's address is in an empty list, no hash matches."""
    try:
        parsed = boundary.parse_networks(networks) if (networks or "").strip() else None
    except SettingError:
        log.error(
            "session %s: stored address ranges do not parse; refusing every address", session_id
        )
        parsed = ()
    try:
        keys = boundary.parse_seb_keys(seb_keys)
    except SettingError:
        log.error("session %s: stored SEB keys do not parse; refusing every browser", session_id)
        keys = ()
    return Boundary(session_id, room, parsed, bind_seats, seb_required, keys)


def concerns(user_id: int) -> bool:
    """Has this person an enrolment in a limited session? (No statement.)"""
    return user_id in view().users


def check(enrolment_id: int | None, facts: Facts) -> Refusal | None:
    """The refusal for a request about ``enrolment_id``, or None (also for an enrolment whose
    session is not limited). No statement unless the view is due for a reload."""
    current = view()
    if enrolment_id is None or not current.sessions:
        return None
    found = current.enrolments.get(enrolment_id)
    if found is None:
        return None
    session_id, seat = found
    refusal = boundary.check(current.sessions[session_id], facts, seat, current.seats)
    if refusal is not None:
        _log(refusal, session_id, enrolment_id, facts)
    return refusal


def _log(refusal: Refusal, session_id: int, enrolment_id: int, facts: Facts) -> None:
    """One log line per distinct refusal a minute; no audit row (a refused PC retrying would
    write one per request)."""
    holder = _holder()
    key = (refusal.code, session_id, enrolment_id, facts.address)
    at = time.monotonic()
    with holder.lock:
        if at - holder.logged.get(key, -LOG_EVERY) < LOG_EVERY:
            return
        if len(holder.logged) > 10_000:
            holder.logged.clear()
        holder.logged[key] = at
    log.warning(
        "lab boundary: %s (session %s, enrolment %s, address %s, seat %s, this PC %s)",
        refusal.code,
        session_id,
        enrolment_id,
        facts.address,
        refusal.seat,
        refusal.this_seat,
    )

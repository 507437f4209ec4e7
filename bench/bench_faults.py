"""Faults under load, with a ledger: killed workers, a killed server, an unwritable database and an
outage across the deadline; does any acknowledged answer go missing, and do PCs resume?

    .venv-test/bin/python bench/bench_faults.py [--databases sqlite,postgresql] [--participants 60]
        [--workers 3] [--worker-kills 3] [--down-seconds 10] [--unwritable-seconds 10]
        [--short-minutes 2] [--settle 20] [--logs DIR]

Must run as root (it mounts a tmpfs). For each database: a fresh migrated database (SQLite: a file
in an instance folder on a 256 MB tmpfs mounted for the run and unmounted afterwards, so it can be
made unwritable; PostgreSQL: a database of its own on ``CBT_BENCH_PG_URL``, default
``postgresql://postgres@127.0.0.1:5432/test``), the generated battery ``BAT-BENCH`` (90 minutes)
and ``BAT-SHORT`` (``--short-minutes``), two sessions of ``--participants`` PCs each, and gunicorn
as the README serves it (the repository's gunicorn.conf.py, ``--workers``) on a fixed port of
127.0.0.1 (``bench/server_process.py``, so it can be started again on the same port).

The PCs (``tests/lab_client.py``) log in and answer an item every 0.5–1.5 s with a heartbeat every
15 s, through the page's queue: an answer stays queued until it is acknowledged; after an error
the PC retries with the page's back-off (1, 2, 4 … 30 s). During the run:

1. ``kill -9`` one gunicorn worker ``--worker-kills`` times, 8 s apart (the master starts
   another);
2. ``SIGKILL`` the master and every worker; after ``--down-seconds`` start gunicorn again on the
   same port and database;
3. make the database unwritable for ``--unwritable-seconds``: PostgreSQL ``ALTER DATABASE … SET
   default_transaction_read_only = on`` and ``pg_terminate_backend`` of the server's connections
   (the pool reconnects), then the reverse (and the connections terminated again); SQLite
   ``mount -o remount,ro`` of the tmpfs, and when the kernel refuses that because the workers
   hold the database open for writing (it always does while they run), the same tmpfs filled to
   the last byte after a ``wal_checkpoint(TRUNCATE)`` (writes then fail with "database or disk is
   full"), then emptied;
4. an outage across the deadline, with the second session on ``BAT-SHORT``: its PCs start, the
   server is killed 25 s before the earliest deadline, the PCs keep answering into their queues
   until their own countdown reaches 0 (as the page does), the server starts again 15 s after the
   latest deadline and the queues are sent. Answers refused with ``deadline_passed`` /
   ``attempt_closed`` go to ``POST /api/v1/attempt/late-answers`` as the page does (a 404 there:
   the server has no such endpoint yet, and they are lost).

After each fault every PC reloads its attempt (``GET /api/v1/attempt``): it must be the same
attempt id as before the fault, and ``remaining_seconds`` must have gone down by the time that
passed on the PC's monotonic clock since its last response before the fault began, within 2 s plus
both responses' latencies (a server that gave an outage's time back would show it as Δ > 0). At
the end every acknowledged answer is checked against the database (``check_ledger``). One table
per database: errors the PCs saw (by status) and "retry later" answers per fault, the time from
the end of each fault to the first successful save and until every answer given before the
fault's end was acknowledged, the resume check, and for (4) how many answers given before the
deadline were stored (in ``responses``, or accepted by the late-answers endpoint) and how many
were lost.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from bench_load import keep_logs, machine, postgres_answers  # noqa: E402
from server_process import ServerProcess  # noqa: E402

from tests.lab_client import (  # noqa: E402
    Given,
    Lab,
    ResumeCheck,
    Roster,
    check_ledger,
    format_counts,
    stored_responses,
    summarise,
)

PG_URL = os.environ.get("CBT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "bench-faults-secret"
PASSWORD = "sandi-gangguan"
SHORT = "BAT-SHORT"
ANSWER_EVERY = (0.5, 1.5)
HEARTBEAT_EVERY = 15.0
RESUME_TOLERANCE = 2.0


# ---- faults --------------------------------------------------------------------------------------


@contextmanager
def tmpfs(folder: Path, size: str = "256m"):  # type: ignore[no-untyped-def]
    """A tmpfs mounted on ``folder`` for the block, unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(folder)], check=False)
        subprocess.run(["umount", "-l", str(folder)], check=False)


class Unwritable:
    """Makes the server's database unwritable and writable again (see the module's text)."""

    def __init__(self, kind: str, database_url: str, instance: Path) -> None:
        self.kind = kind
        self.database_url = database_url
        self.instance = instance
        self.method = ""
        self._filler: Path | None = None

    def on(self) -> None:
        if self.kind == "postgresql":
            self._postgres(True)
            self.method = "ALTER DATABASE … default_transaction_read_only = on + terminate"
            return
        done = subprocess.run(
            ["mount", "-o", "remount,ro", str(self.instance)], capture_output=True, text=True
        )
        if done.returncode == 0:
            self.method = "tmpfs remount,ro"
            return
        refused = (done.stderr.strip().splitlines() or ["refused"])[0]
        database = self.instance / "cbt.sqlite3"
        with suppress(sqlite3.Error):
            conn = sqlite3.connect(database, timeout=5)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
        self._filler = self.instance / "filler"
        stat = os.statvfs(self.instance)
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with suppress(OSError):
                os.posix_fallocate(fd, 0, stat.f_bavail * stat.f_frsize)
            with suppress(OSError):
                os.lseek(fd, 0, os.SEEK_END)
                while True:  # whatever fallocate left, to the last page
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
        self.method = f"tmpfs filled to the last byte (remount,ro: {refused.split(': ')[-1]})"

    def off(self) -> None:
        if self.kind == "postgresql":
            self._postgres(False)
        elif self._filler is not None:
            self._filler.unlink(missing_ok=True)
            self._filler = None
        else:
            subprocess.run(["mount", "-o", "remount,rw", str(self.instance)], check=True)

    def _postgres(self, read_only: bool) -> None:
        import sqlalchemy as sa

        from tests.lab_client import engine_url

        name = sa.engine.make_url(engine_url(self.database_url)).database
        admin = sa.create_engine(engine_url(PG_URL), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                setting = (
                    "SET default_transaction_read_only = on"
                    if read_only
                    else "RESET default_transaction_read_only"
                )
                conn.exec_driver_sql(f'ALTER DATABASE "{name}" {setting}')
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
        finally:
            admin.dispose()


# ---- the record of a run -------------------------------------------------------------------------


@dataclass
class Fault:
    name: str
    start: float
    end: float
    note: str = ""
    resume: list[ResumeCheck] = field(default_factory=list)
    window_end: float = math.inf


@dataclass
class Run:
    labs: list[Lab] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    outage_start: float = math.nan


def _given(labs: list[Lab]) -> list[Given]:
    return [g for lab in labs for pc in lab.pcs for g in pc.given]


def _samples(labs: list[Lab]) -> list:
    return [s for lab in labs for s in lab.recorder.samples]


def _snapshot(lab: Lab) -> dict[str, tuple]:
    """Each PC's attempt id and clock now (the baseline of a resume check)."""
    return {pc.username: (pc.attempt_id, pc.clock) for pc in lab.started}


async def _resume_all(lab: Lab, baseline: dict[str, tuple]) -> list[ResumeCheck]:
    """Every PC reloads its attempt; compared with its attempt and clock at ``baseline``."""
    checks = await asyncio.gather(
        *(pc.resume_check(RESUME_TOLERANCE, baseline.get(pc.username)) for pc in lab.started),
        return_exceptions=True,
    )
    return [c for c in checks if isinstance(c, ResumeCheck)]


async def _background(lab: Lab, seconds: float) -> asyncio.Task:
    until = time.monotonic() + seconds
    return asyncio.create_task(lab.paced(until, ANSWER_EVERY, HEARTBEAT_EVERY))


async def _stop(task: asyncio.Task) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


# ---- faults 1–3 ----------------------------------------------------------------------------------


async def faults_one_to_three(
    server: ServerProcess, roster: Roster, unwritable: Unwritable, args: argparse.Namespace
) -> Run:
    run = Run()
    stop_at = time.monotonic() + 900
    async with Lab(server.url, roster.participants, limit=500, stop_at=stop_at) as lab:
        run.labs.append(lab)
        await lab.start_all(roster.token)
        print(f"  {len(lab.started)}/{len(lab.pcs)} PCs in their attempts", flush=True)
        task = await _background(lab, 900)
        await asyncio.sleep(args.settle / 2)

        baseline = _snapshot(lab)
        for n in range(args.worker_kills):
            at = time.monotonic()
            pid = await asyncio.to_thread(server.kill_worker)
            run.faults.append(Fault(f"(1) kill -9 worker #{n + 1}", at, at, f"pid {pid}"))
            await asyncio.sleep(8)
        await asyncio.sleep(args.settle - 8)
        run.faults[-1].resume = await _resume_all(lab, baseline)
        print("  (1) worker kills done", flush=True)

        baseline = _snapshot(lab)
        at = time.monotonic()
        await asyncio.to_thread(server.kill_all)
        await asyncio.sleep(args.down_seconds)
        end = time.monotonic()
        boot = await asyncio.to_thread(server.start)
        run.faults.append(
            Fault(
                f"(2) SIGKILL whole server, {args.down_seconds:g} s down",
                at,
                end,
                f"gunicorn answered {boot:.1f} s after the restart",
            )
        )
        await asyncio.sleep(args.settle)
        run.faults[-1].resume = await _resume_all(lab, baseline)
        print("  (2) server kill done", flush=True)

        baseline = _snapshot(lab)
        at = time.monotonic()
        await asyncio.to_thread(unwritable.on)
        await asyncio.sleep(args.unwritable_seconds)
        await asyncio.to_thread(unwritable.off)
        end = time.monotonic()
        run.faults.append(
            Fault(
                f"(3) database unwritable {args.unwritable_seconds:g} s", at, end, unwritable.method
            )
        )
        await asyncio.sleep(args.settle)
        run.faults[-1].resume = await _resume_all(lab, baseline)
        print(f"  (3) unwritable done ({unwritable.method})", flush=True)

        for before, after in zip(run.faults, run.faults[1:], strict=False):
            before.window_end = after.start
        run.faults[-1].window_end = time.monotonic()
        await _stop(task)
        drained = await lab.drain(time.monotonic() + 60)
        if not drained:
            print(f"  {sum(len(pc.queue) for pc in lab.pcs)} answers still queued at the end")
    return run


# ---- fault 4: an outage across the deadline ------------------------------------------------------


async def outage_across_deadline(
    server: ServerProcess, roster: Roster, args: argparse.Namespace
) -> Run:
    run = Run()
    stop_at = time.monotonic() + 600
    async with Lab(server.url, roster.participants, limit=500, stop_at=stop_at) as lab:
        run.labs.append(lab)
        await lab.start_all(roster.token)
        deadlines = [pc.local_deadline for pc in lab.started if pc.local_deadline is not None]
        if not deadlines:
            raise RuntimeError("no PC of the short session got an attempt")
        first, last = min(deadlines), max(deadlines)
        print(
            f"  {len(lab.started)} PCs in {args.short_minutes}-minute attempts; deadlines in "
            f"{first - time.monotonic():.0f}–{last - time.monotonic():.0f} s",
            flush=True,
        )
        task = await _background(lab, last + 15 + args.settle * 2 - time.monotonic())
        await asyncio.sleep(max(0.0, first - 25 - time.monotonic()))
        baseline = _snapshot(lab)
        at = time.monotonic()
        await asyncio.to_thread(server.kill_all)
        print(f"  server killed {first - at:.0f} s before the earliest deadline", flush=True)
        await asyncio.sleep(max(0.0, last + 15 - time.monotonic()))
        end = time.monotonic()
        boot = await asyncio.to_thread(server.start)
        fault = Fault(
            f"(4) outage across the deadline ({first - at:.0f} s before – "
            f"{end - last:.0f} s after)",
            at,
            end,
            f"gunicorn answered {boot:.1f} s after the restart",
        )
        run.faults.append(fault)
        run.outage_start = at
        # At once: later the (possibly extended) attempts are over and both sides say 0.
        fault.resume = await _resume_all(lab, baseline)
        await asyncio.sleep(args.settle * 2)
        await _stop(task)
        await lab.drain(time.monotonic() + 30)
        fault.window_end = time.monotonic()
    return run


def deadline_accounting(run: Run, database_url: str) -> dict[str, int]:
    """Answers given before each PC's deadline: stored (the last per item is in ``responses`` with
    its seq or a newer one, or the late-answers endpoint took it) or lost."""
    outage_start = run.outage_start
    given = _given(run.labs)
    stored = stored_responses(database_url, {g.attempt_id for g in given})
    last: dict[tuple[int, int], Given] = {}
    for g in given:
        last[(g.attempt_id, g.position)] = g  # in seq order: the later answer wins
    counts = {
        "given": len(given),
        "given_in_outage": sum(1 for g in given if g.given_at >= outage_start),
        "final": len(last),
        "stored_in_responses": 0,
        "stored_late": 0,
        "lost": 0,
        "lost_in_outage": 0,
        "late_endpoint_404": 0,
    }
    for key, g in last.items():
        row = stored.get(key)
        if row is not None and row[0] >= g.seq:
            counts["stored_in_responses"] += 1
        elif g.fate == "late_stored":
            counts["stored_late"] += 1
        else:
            counts["lost"] += 1
            counts["lost_in_outage"] += g.given_at >= outage_start
            counts["late_endpoint_404"] += g.fate == "late_missing"
    return counts


# ---- the table -----------------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.1f} s"


def fault_row(fault: Fault, labs: list[Lab]) -> str:
    # by when the PC saw the answer: a request in flight when a fault began failed because of it
    samples = [
        s for s in _samples(labs) if fault.start <= s.started + s.ms / 1000 < fault.window_end
    ]
    summary = summarise(samples)
    saves_ok = sorted(
        s.started + s.ms / 1000
        for s in _samples(labs)
        if s.kind == "save" and s.outcome == "ok" and s.started + s.ms / 1000 >= fault.end
    )
    first_ok = saves_ok[0] - fault.end if saves_ok else math.nan
    before = [g for g in _given(labs) if g.given_at < fault.end and g.fate != "stale"]
    unacked = [g for g in before if g.acked_at is None]
    caught_up = max((g.acked_at for g in before if g.acked_at is not None), default=fault.end)
    all_acked = (
        _seconds(max(0.0, caught_up - fault.end))
        if not unacked
        else f"{len(unacked)} never acknowledged"
    )
    resume = ""
    if fault.resume:
        n = len(fault.resume)
        same = sum(1 for c in fault.resume if c.attempt_before == c.attempt_after)
        kinds = Counter(c.time_left for c in fault.resume)
        deltas = [c.delta_seconds for c in fault.resume if c.delta_seconds is not None]
        spread = f" (Δ {min(deltas):+.1f}…{max(deltas):+.1f} s)" if deltas else ""
        resume = f"same attempt {same}/{n}; time left as expected {kinds['as expected']}/{n}"
        if kinds["more"]:
            resume += f", more (given back) {kinds['more']}"
        if kinds["less"]:
            resume += f", **less {kinds['less']}**"
        resume += spread
    return (
        f"| {fault.name} | {format_counts(summary.errors)} | {format_counts(summary.retries)} | "
        f"{_seconds(first_ok)} | {all_acked} | {resume} | {fault.note} |"
    )


def print_tables(results: list[tuple[str, list[str], list[str]]]) -> None:
    for kind, rows, lines in results:
        name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(kind, kind)
        print(f"\n{name}\n")
        print(
            "| fault | errors the PCs saw | retry later | first save ok after the fault ended | "
            "every answer given before its end acknowledged after | resumed after the fault | "
            "notes |"
        )
        print("|---|---|---|---|---|---|---|")
        print("\n".join(rows))
        print()
        print("\n".join(lines))


# ---- one database --------------------------------------------------------------------------------


def seed(url: str, instance: Path, args: argparse.Namespace) -> tuple[Roster, Roster]:
    from cbt_server import create_app
    from cbt_server.models import db
    from tests.lab_client import password_hash_of, seed_lab

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "SECRET_KEY": SECRET}
    )
    with app.app_context():
        hashed = password_hash_of(PASSWORD)
    common = {"participants": args.participants, "password": PASSWORD, "password_hash": hashed}
    main = seed_lab(app, battery="BAT-BENCH", code="S-FAULTS", token="FAULT7", **common)
    short = seed_lab(app, battery=SHORT, code="S-DEADLINE", token="DEAD77", **common)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return main, short


def run_database(kind: str, args: argparse.Namespace) -> tuple[list[str], list[str]]:
    from generated_bank import write_bank_folder

    from tests import live

    print(f"\n== {kind}", flush=True)
    with tempfile.TemporaryDirectory(prefix="cbt-faults-") as tmp:
        work = Path(tmp)
        instance = work / "instance"
        mount = tmpfs(instance) if kind == "sqlite" else _folder(instance)
        with mount, live.fresh_database(kind, instance, PG_URL) as url:
            env = live.server_env(instance, url, SECRET)
            live.flask_command(env, "db", "upgrade")
            write_bank_folder(work / "qb", extra_batteries={SHORT: args.short_minutes})
            live.flask_command(env, "banks", "import", str(work / "qb"))
            main, short = seed(url, instance, args)
            log = work / "gunicorn.log"
            server = ServerProcess(env, log, workers=args.workers)
            server.start()
            print(f"  gunicorn at {server.url}, {args.workers} workers", flush=True)
            try:
                first = asyncio.run(
                    faults_one_to_three(server, main, Unwritable(kind, url, instance), args)
                )
                fourth = asyncio.run(outage_across_deadline(server, short, args))
            finally:
                server.stop()
            labs = first.labs + fourth.labs
            acks = [a for lab in labs for a in lab.ledger.acks]
            check = check_ledger(url, acks)
            late = fourth.labs[0].ledger
            counts = deadline_accounting(fourth, url)
            rows = [fault_row(f, first.labs) for f in first.faults]
            rows += [fault_row(f, fourth.labs) for f in fourth.faults]
            lines = [
                f"- acknowledged answers missing afterwards: **{len(check.missing)}** of "
                f"{check.acknowledged} acknowledged ({len(check.mismatched)} stored with another "
                f"answer), {check.attempts} attempts",
                f"- (4) answers given before the deadline: {counts['given']} "
                f"({counts['given_in_outage']} while the server was down), "
                f"{counts['final']} final answers (the last per item): "
                f"{counts['stored_in_responses']} stored in responses, "
                f"{counts['stored_late']} stored by the late-answers endpoint, "
                f"**{counts['lost']} lost** ({counts['lost_in_outage']} given during the outage; "
                f"late-answers endpoint 404 for {late.late_missing_endpoint} sent answers)",
                f"- resume check: the same attempt id as before the fault, and Δ = "
                "remaining_seconds after − (remaining_seconds before − time passed on the PC's "
                f"monotonic clock) within ±{RESUME_TOLERANCE:g} s plus both responses' "
                'latencies ("as expected"); Δ above that: time given back, below: time lost',
            ]
            details = Counter()
            for lab in labs:
                details.update(lab.recorder.connection_errors)
            if details:
                lines.append(f"- connection errors by exception: {format_counts(details)}")
            _server_errors(log)
            keep_logs(args.logs, kind, [log])
    return rows, lines


@contextmanager
def _folder(path: Path):  # type: ignore[no-untyped-def]
    path.mkdir(parents=True, exist_ok=True)
    yield path


def _server_errors(log: Path) -> None:
    errors: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        if "Error:" in line or "Exception on" in line or "WORKER TIMEOUT" in line:
            key = line.split("] ", 1)[-1][:160]
            errors[key] = errors.get(key, 0) + 1
    if errors:
        print("  server log, exception lines (count × line):")
        for line, count in sorted(errors.items(), key=lambda kv: -kv[1])[:10]:
            print(f"    {count} × {line}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--databases", default=None, help="default: sqlite,postgresql (when PostgreSQL answers)"
    )
    parser.add_argument("--participants", type=int, default=60)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--worker-kills", type=int, default=3)
    parser.add_argument("--down-seconds", type=float, default=10)
    parser.add_argument("--unwritable-seconds", type=float, default=10)
    parser.add_argument("--short-minutes", type=int, default=2, help="(4) the battery's limit")
    parser.add_argument("--settle", type=float, default=20, help="seconds after each fault")
    parser.add_argument("--logs", default=None, help="copy the gunicorn logs into this folder")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("run as root: the SQLite fault mounts a tmpfs")
    if args.settle < 10:
        parser.error("--settle must be at least 10 s (the worker kills are 8 s apart)")
    kinds = (args.databases or ("sqlite,postgresql" if postgres_answers() else "sqlite")).split(",")
    header = [
        "command: " + shlex.join([Path(sys.executable).name, *sys.argv]),
        *machine(),
        f"gunicorn: {args.workers} workers, the repository's gunicorn.conf.py; "
        f"{args.participants} PCs per session",
    ]
    print("\n".join(header), flush=True)
    results = [(kind, *run_database(kind, args)) for kind in kinds]
    print()
    print("\n".join(header))
    print_tables(results)


if __name__ == "__main__":
    main()

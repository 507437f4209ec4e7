"""Load on a real gunicorn: a lab released at once, saves at saturation against a ceiling, a
paced lab of 1,000 PCs and a proctor's monitor during it; one markdown table.

    .venv-test/bin/python bench/bench_load.py [--databases sqlite,postgresql] [--workers 3]
        [--stampede 500] [--connections 16] [--saturation-seconds 15] [--paced 1000]
        [--paced-seconds 60] [--monitor-every 5] [--client-processes 2] [--logs DIR]

For each database: a fresh migrated database (a SQLite file; on PostgreSQL a database of its own
on ``CBT_BENCH_PG_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``, dropped at the
end), the generated battery ``BAT-BENCH`` (``bench/generated_bank.py``: 50 items, 90 minutes)
and three sessions open now, bulk-inserted (``tests/lab_client.seed_lab``), served by gunicorn as
the README serves it (``tests/live.gunicorn``: the repository's gunicorn.conf.py, ``--workers``).
The PCs are ``tests/lab_client.py`` (aiohttp, one cookie jar per PC) in ``--client-processes``
processes of their own, released together.

(a) **stampede**: ``--stampede`` PCs sit at the login form (its CSS loaded); released together,
    each logs in, types the token, confirms, loads the test page with every CSS and JS module it
    needs, the attempt and the first item's image: the time to the last PC's first item, p50/p99
    per PC, errors by status. These accounts have the app's own password hash.
(b) **saves at saturation**: ``--connections`` PCs (distinct participants), one connection each,
    save as fast as answers come back for ``--saturation-seconds``: saves/s, p50, p99, errors.
    Then the same client with the same bodies against the **ceiling** (``bench/ceiling_app.py``:
    one SQLite upsert per request, WAL, synchronous=FULL, the same gunicorn settings): its saves/s
    and p99, and the ratio product/ceiling. The ceiling is SQLite for both databases.
(c) **paced lab**: ``--paced`` PCs in two sessions, each answering an item every 5–15 s (about
    every 10 s) and sending its heartbeat every 15 s, for ``--paced-seconds``: requests/s,
    p50/p99 per kind, errors.
(d) during (c), a **proctor** refreshes the monitor of one session (``--monitor-seats`` seats):
    a full ``monitor.json`` at the start, then ``?since=`` every ``--monitor-every`` seconds:
    the server's time per refresh
    from the ``Server-Timing: app;dur=`` header when the server sends it, otherwise the client's
    latency (the table says which).
(e) **a flooding PC**: ``--flood-pcs`` PCs save every 1–2 s for ``--flood-seconds``, first
    alone, then while one participant's PC floods the server from its own address (127.0.0.2:
    loopback, but not the throttle's loopback exemption) with ``--flood-connections``
    connections cycling through failed log-ins, integrity events, loading the whole test and
    saves: the other PCs' save p50/p99 without and with the flood, and what the flooder got.

The (b) and (c) accounts get a one-iteration PBKDF2 password hash so that bringing 1,000 PCs into
their attempts (not what (b) and (c) measure) takes seconds; (a) measures log-ins with the app's
own hash. Every phase has a time limit. After the phases every acknowledged save is checked
against the database (``check_ledger``). Errors are 5xx other than a 503 with Retry-After,
connection failures and timeouts; 429/503 are counted apart as "retry later".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import platform
import shlex
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from tests.lab_client import (  # noqa: E402
    Lab,
    LabResult,
    Roster,
    Sample,
    check_ledger,
    format_counts,
    percentile,
    summarise,
    watch_monitor,
)

PG_URL = os.environ.get("CBT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "bench-load-secret"
PASSWORD = "sandi-beban"


# ---- client processes ------------------------------------------------------------------------


@dataclass
class Job:
    """What one client process does: set up, wait for the go, run the phase, report."""

    kind: str  # stampede | saturate | paced | ceiling
    base_url: str
    accounts: list[tuple[str, str]]
    token: str = ""
    seconds: float = 0.0
    limit: int = 1000
    every: tuple[float, float] = (5.0, 15.0)
    heartbeat_every: float | None = 15.0
    time_limit: float = 180.0
    seed: int = 1
    items: list[dict] = field(default_factory=list)


async def _job(job: Job, ready: Any, go: Any, start: Any) -> LabResult:
    stop_at = time.monotonic() + job.time_limit
    async with Lab(
        job.base_url, job.accounts, limit=job.limit, seed=job.seed, stop_at=stop_at
    ) as lab:
        setup = time.monotonic()
        if job.kind == "stampede":
            await lab.sit_at_login()
        elif job.kind in ("saturate", "paced"):
            await lab.start_all(job.token)
        elif job.kind == "ceiling":
            _fake_attempts(lab, job.items)
        setup = time.monotonic() - setup
        await asyncio.to_thread(ready.wait)
        await asyncio.to_thread(go.wait)
        began = start.value
        await asyncio.sleep(max(0.0, began - time.monotonic()))
        if job.kind == "stampede":
            await lab.stampede(job.token)
        elif job.kind in ("saturate", "ceiling"):
            await lab.hammer(began + job.seconds)
        else:
            await lab.paced(began + job.seconds, job.every, job.heartbeat_every)
        await lab.drain(min(stop_at, time.monotonic() + 20))
        result = lab.result()
        result.notes = {"setup_seconds": setup, "pcs_started": len(lab.started)}
        if lab.started:
            result.notes["items"] = list(lab.started[0].items.values())
        return result


def _fake_attempts(lab: Lab, items: list[dict]) -> None:
    """Ceiling PCs: no log-in; the product's items (so the bodies are the same) and a cookie of
    their own (the ceiling keys its rows on the cookie)."""
    from yarl import URL

    for n, pc in enumerate(lab.pcs):
        pc.attempt_id = n + 1
        pc.items = {int(i["position"]): i for i in items}
        pc.open_positions = sorted(pc.items)
        pc.api_csrf = "ceiling"
        pc.http.cookie_jar.update_cookies({"session": f"ceiling-{n}"}, URL(lab.base_url))


def _child(job: Job, ready: Any, go: Any, start: Any, results: Any) -> None:
    try:
        results.put(asyncio.run(_job(job, ready, go, start)))
    except BaseException as failed:  # the parent must hear of it, not wait for ever
        ready.abort()
        go.abort()
        results.put(LabResult(failures=[f"client process: {type(failed).__name__}: {failed}"]))


def run_jobs(jobs: list[Job], during: Any = None, setup_limit: float = 300.0) -> tuple:
    """Run the jobs in client processes of their own, released together; ``during(start)``
    (a coroutine function) runs in this process meanwhile. Returns (merged result, start
    time, what ``during`` returned)."""
    ctx = mp.get_context("spawn")
    ready, go = ctx.Barrier(len(jobs) + 1), ctx.Barrier(len(jobs) + 1)
    start, results = ctx.Value("d", 0.0), ctx.Queue()
    processes = [ctx.Process(target=_child, args=(j, ready, go, start, results)) for j in jobs]
    for process in processes:
        process.start()
    merged, extra, began = LabResult(), None, math.nan
    try:
        ready.wait(timeout=setup_limit)
        began = start.value = time.monotonic() + 0.5
        go.wait(timeout=30)
        if during is not None:
            extra = asyncio.run(during(began))
    except threading.BrokenBarrierError:
        merged.failures.append("a client process failed before the start")
    for _ in processes:
        merged.merge(results.get(timeout=max(j.time_limit for j in jobs) + 120))
    for process in processes:
        process.join(timeout=30)
    return merged, began, extra


def split(accounts: list, parts: int) -> list[list]:
    parts = max(1, min(parts, len(accounts)))
    return [accounts[n::parts] for n in range(parts)]


# ---- the phases --------------------------------------------------------------------------------


@dataclass
class Row:
    measure: str
    load: str
    result: str
    p50: str = ""
    p99: str = ""
    errors: str = "0"
    retries: str = "0"


def _ms(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.0f} ms"


def _s(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.1f} s"


def stampede(base: str, roster: Roster, args: argparse.Namespace) -> tuple[list[Row], LabResult]:
    jobs = [
        Job("stampede", base, part, roster.token, limit=args.limit, time_limit=args.phase_limit)
        for part in split(roster.participants, args.client_processes)
    ]
    result, _began, _ = run_jobs(jobs)
    times = result.first_item_seconds
    total = summarise(result.samples)
    reached = f"{len(times)}/{len(roster.participants)} PCs"
    last = max(times) if times else math.nan
    row = Row(
        "(a) stampede: login form → first item",
        f"{len(roster.participants)} PCs released together",
        f"last first item after {_s(last)} ({reached})",
        _s(percentile(times, 0.5)),
        _s(percentile(times, 0.99)),
        format_counts(total.errors),
        format_counts(total.retries),
    )
    if result.failures:
        print(f"  stampede failures ({len(result.failures)}): {result.failures[:3]}")
    requests = len(result.samples)
    static = sum(1 for s in result.samples if s.kind == "static")
    print(f"  stampede: {requests} requests ({static} static files), {reached} at their item")
    # Where the time goes, per kind of request: the client's latency and the server's own time.
    kinds: dict[str, list[Sample]] = {}
    for sample in result.samples:
        kinds.setdefault(sample.kind, []).append(sample)
    for kind, samples in sorted(kinds.items(), key=lambda kv: -sum(s.ms for s in kv[1])):
        waited = [s.ms for s in samples]
        served = [s.server_ms for s in samples if s.server_ms is not None]
        line = f"    {kind:<14} {len(samples):>6}  client p50 {percentile(waited, 0.5):7.0f} ms"
        line += f"  p99 {percentile(waited, 0.99):7.0f} ms"
        if served:
            line += f"  server p50 {percentile(served, 0.5):6.1f} ms"
            line += f"  p99 {percentile(served, 0.99):6.1f} ms  sum {sum(served) / 1000:6.1f} s"
        print(line)
    return [row], result


def _rate(samples: list[Sample], kinds: set[str], began: float, seconds: float) -> float:
    return (
        sum(
            1
            for s in samples
            if s.kind in kinds and s.outcome == "ok" and began <= s.started < began + seconds
        )
        / seconds
    )


def saturation(
    base: str, roster: Roster, work: Path, args: argparse.Namespace
) -> tuple[list[Row], LabResult]:
    """(b): the product and the ceiling take turns, ``--saturation-rounds`` times, so that a
    drift of the machine (this VM's speed varies by tens of per cent within minutes) falls on
    both alike; the ratio is the median of the rounds' ratios."""
    rates, ceiling_rates, product_saves, ceiling_saves = [], [], [], []
    result = None
    for round_ in range(args.saturation_rounds):
        mine = roster.participants[round_ * args.connections : (round_ + 1) * args.connections]
        parts = split(mine, args.client_processes)
        jobs = [
            Job(
                "saturate",
                base,
                part,
                roster.token,
                seconds=args.saturation_seconds,
                limit=len(part),
                time_limit=args.phase_limit,
                seed=n + 100 * round_,
            )
            for n, part in enumerate(parts)
        ]
        found, began, _ = run_jobs(jobs)
        if result is None:
            result = found
        else:
            result.merge(found)  # every round's acknowledged saves go to the ledger check
        end = began + args.saturation_seconds
        saves = [s for s in found.samples if s.kind == "save"]
        product_saves += [s for s in saves if began <= s.started < end]
        rates.append(_rate(saves, {"save"}, began, args.saturation_seconds))
        items = found.notes.get("items") or []
        ceiling_rate, ceiling_window = run_ceiling(work, items, args)
        ceiling_rates.append(ceiling_rate)
        ceiling_saves += ceiling_window
    assert result is not None
    window = summarise(product_saves)
    ceiling = summarise(ceiling_saves)
    ratios = [p / c for p, c in zip(rates, ceiling_rates, strict=True) if c]
    ratio = statistics.median(ratios) if ratios else math.nan
    product = statistics.median(rates)
    each = ", ".join(f"{r:.2f}" for r in ratios)
    rounds = f" × {args.saturation_rounds} rounds" if args.saturation_rounds > 1 else ""
    rows = [
        Row(
            "(b) saves at saturation",
            f"{args.connections} connections × {args.saturation_seconds:g} s{rounds}",
            f"{product:.0f} saves/s (ratio to ceiling {ratio:.2f}"
            + (f"; rounds {each}" if len(ratios) > 1 else "")
            + f"); server time p50 {_ms(window.server_p50_ms)}, p99 {_ms(window.server_p99_ms)}",
            _ms(window.p50_ms),
            _ms(window.p99_ms),
            format_counts(window.errors),
            format_counts(window.retries),
        ),
        Row(
            "(b) ceiling: one SQLite upsert per request",
            f"{args.connections} connections × {args.saturation_seconds:g} s{rounds}, "
            "same gunicorn",
            f"{statistics.median(ceiling_rates):.0f} saves/s",
            _ms(ceiling.p50_ms),
            _ms(ceiling.p99_ms),
            format_counts(ceiling.errors),
            format_counts(ceiling.retries),
        ),
    ]
    return rows, result


def run_ceiling(
    work: Path, items: list[dict], args: argparse.Namespace
) -> tuple[float, list[Sample]]:
    from ceiling_app import create_database
    from server_process import ServerProcess

    folder = work / "ceiling"
    folder.mkdir(exist_ok=True)
    database = folder / "ceiling.sqlite3"
    create_database(str(database))
    env = {**os.environ, "CBT_CEILING_DB": str(database)}
    server = ServerProcess(
        env,
        work / "ceiling.log",
        app="bench.ceiling_app:app",
        config=ROOT / "bench" / "ceiling_gunicorn.conf.py",
        workers=args.workers,
        probe="/",
    )
    server.start()
    try:
        accounts = [(f"ceiling-{n}", "") for n in range(args.connections)]
        jobs = [
            Job(
                "ceiling",
                server.url,
                part,
                seconds=args.saturation_seconds,
                limit=len(part),
                time_limit=args.phase_limit,
                seed=n,
                items=items,
            )
            for n, part in enumerate(split(accounts, args.client_processes))
        ]
        result, began, _ = run_jobs(jobs)
    finally:
        server.stop()
    saves = [s for s in result.samples if s.kind == "save"]
    rate = _rate(saves, {"save"}, began, args.saturation_seconds)
    end = began + args.saturation_seconds
    return rate, [s for s in saves if began <= s.started < end]


def paced_lab(
    base: str, roster: Roster, rest: Roster, args: argparse.Namespace
) -> tuple[list[Row], LabResult, str]:
    """(c) and (d): every PC of both sessions paced; the proctor watches ``roster``'s."""
    everyone = roster.participants + rest.participants
    jobs = [
        Job(
            "paced",
            base,
            part,
            roster.token,
            seconds=args.paced_seconds,
            limit=args.limit,
            every=(5.0, 15.0),
            heartbeat_every=15.0,
            time_limit=args.phase_limit + args.paced_seconds,
            seed=n,
        )
        for n, part in enumerate(split(everyone, args.client_processes))
    ]

    async def proctor(began: float) -> list[Sample]:
        async with Lab(base, [roster.proctor]) as lab:
            return await watch_monitor(
                lab.pcs[0], roster.session_id, began + args.paced_seconds, args.monitor_every
            )

    result, began, monitor = run_jobs(jobs, during=proctor)
    print(
        f"  paced lab: {result.notes.get('pcs_started')} PCs brought into their attempts in "
        f"{result.notes.get('setup_seconds', math.nan):.0f} s before the start"
    )
    seconds = args.paced_seconds
    window = [s for s in result.samples if began <= s.started < began + seconds]
    total = summarise(window)
    rows = [
        Row(
            "(c) paced lab: all requests",
            f"{len(everyone)} PCs × {seconds:g} s",
            f"{len(window) / seconds:.0f} requests/s",
            _ms(total.p50_ms),
            _ms(total.p99_ms),
            format_counts(total.errors),
            format_counts(total.retries),
        )
    ]
    for kind, label in (("save", "saves (every 5–15 s)"), ("heartbeat", "heartbeats (15 s)")):
        part = summarise(window, [kind])
        rows.append(
            Row(
                f"(c) paced lab: {label}",
                f"{part.count} requests",
                f"{part.count / seconds:.0f}/s",
                _ms(part.p50_ms),
                _ms(part.p99_ms),
                format_counts(part.errors),
                format_counts(part.retries),
            )
        )
    server_timed = any(s.server_ms is not None for s in monitor or [])
    source = "Server-Timing app;dur" if server_timed else "client-measured (no Server-Timing)"
    for kind, label in (("monitor_full", "full"), ("monitor_since", "?since=")):
        part = summarise(monitor or [], [kind])
        p50 = part.server_p50_ms if server_timed else part.p50_ms
        p99 = part.server_p99_ms if server_timed else part.p99_ms
        rows.append(
            Row(
                f"(d) proctor monitor.json {label}",
                f"{len(roster.participants)} seats, every {args.monitor_every:g} s during (c)",
                f"{part.count} refreshes, {source}",
                _ms(p50),
                _ms(p99),
                format_counts(part.errors),
                format_counts(part.retries),
            )
        )
    return rows, result, source


FLOODER_ADDRESS = "127.0.0.2"


async def _flood(base: str, account: tuple[str, str], token: str, until: float, connections: int):  # type: ignore[no-untyped-def]
    """One participant's PC sending as fast as it can, from its own address, until ``until``."""
    import aiohttp

    statuses: Counter = Counter()
    async with Lab(base, [account], local_addr=FLOODER_ADDRESS, limit=connections) as lab:
        pc = lab.pcs[0]
        await pc.start(token, browser=False)
        position = min(pc.open_positions) if pc.open_positions else 0
        api = f"{base}/api/v1/attempt"
        headers = {"X-CSRFToken": pc.api_csrf or "", "Content-Type": "application/json"}
        requests = [
            ("POST", f"{base}/login", {"data": {"login": account[0], "password": "salah"}}),
            ("POST", f"{api}/events", {"data": '{"events": [{"kind": "focus_lost"}]}'}),
            ("GET", api, {}),
            ("POST", f"{api}/answers", {"json_seq": True}),
        ]
        seq = 10_000

        async def worker(n: int) -> None:
            nonlocal seq
            i = n
            while time.monotonic() < until:
                method, url, extra = requests[i % len(requests)]
                i += 1
                kwargs: dict[str, Any] = {"allow_redirects": False}
                if "/login" not in url:
                    kwargs["headers"] = headers
                if extra.get("json_seq"):
                    seq += 1
                    body = {"saves": [{"position": position, "answer": [0], "seq": seq}]}
                    kwargs["data"] = json.dumps(body)
                elif "data" in extra:
                    kwargs["data"] = extra["data"]
                try:
                    async with pc.http.request(method, url, **kwargs) as response:
                        await response.read()
                        statuses[response.status] += 1
                except (aiohttp.ClientError, TimeoutError):
                    statuses["conn"] += 1

        await asyncio.gather(*(worker(n) for n in range(connections)))
    return statuses


def flood(base: str, roster: Roster, args: argparse.Namespace) -> tuple[list[Row], LabResult]:
    """(e): the others' saves without, then with, a flooding PC."""
    flooder = roster.participants[0]
    half = (len(roster.participants) - 1) // 2
    groups = {"without": roster.participants[1 : 1 + half], "with": roster.participants[1 + half :]}
    rows: list[Row] = []
    merged = LabResult()
    for label, others in groups.items():
        jobs = [
            Job(
                "paced",
                base,
                part,
                roster.token,
                seconds=args.flood_seconds,
                limit=args.limit,
                every=(1.0, 2.0),
                heartbeat_every=15.0,
                time_limit=args.phase_limit + args.flood_seconds,
                seed=n + (100 if label == "with" else 0),
            )
            for n, part in enumerate(split(others, args.client_processes))
        ]

        async def during(began: float, label: str = label) -> Counter | None:
            if label == "without":
                return None
            await asyncio.sleep(max(0.0, began - time.monotonic()))
            return await _flood(
                base, flooder, roster.token, began + args.flood_seconds, args.flood_connections
            )

        result, began, statuses = run_jobs(jobs, during=during)
        merged.merge(result)
        window = [s for s in result.samples if began <= s.started < began + args.flood_seconds]
        saves = summarise(window, ["save"])
        flooded = ""
        if statuses is not None:
            sent = sum(statuses.values())
            flooded = (
                f"; the flooder sent {sent / args.flood_seconds:.0f} requests/s: "
                f"{format_counts(statuses)}"
            )
        rows.append(
            Row(
                f"(e) others' saves {label} a flooding PC",
                f"{len(others)} PCs saving every 1–2 s × {args.flood_seconds:g} s",
                f"{saves.count / args.flood_seconds:.0f} saves/s{flooded}",
                _ms(saves.p50_ms),
                _ms(saves.p99_ms),
                format_counts(saves.errors),
                format_counts(saves.retries),
            )
        )
    return rows, merged


# ---- one database ------------------------------------------------------------------------------


def seed(url: str, instance: Path, battery: str, args: argparse.Namespace) -> dict[str, Roster]:
    import sqlalchemy as sa
    from werkzeug.security import generate_password_hash

    from cbt_server import create_app
    from cbt_server.models import db
    from tests.lab_client import password_hash_of, seed_lab

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "SECRET_KEY": SECRET}
    )
    started = time.monotonic()
    with app.app_context():
        real = password_hash_of(PASSWORD)
    cheap = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
    rosters = {
        "stampede": seed_lab(
            app,
            battery=battery,
            participants=args.stampede,
            code="S-STAMPEDE",
            password=PASSWORD,
            password_hash=real,
        ),
        "saturate": seed_lab(
            app,
            battery=battery,
            # PCs of their own for each round: an attempt stays bound to the PC that started it
            participants=args.connections * args.saturation_rounds,
            code="S-SATURATE",
            password=PASSWORD,
            password_hash=cheap,
        ),
        "paced": seed_lab(
            app,
            battery=battery,
            participants=min(args.monitor_seats, args.paced),
            code="S-PACED",
            password=PASSWORD,
            password_hash=cheap,
        ),
        "paced_rest": seed_lab(
            app,
            battery=battery,
            participants=max(0, args.paced - args.monitor_seats),
            code="S-PACED-B",
            password=PASSWORD,
            password_hash=cheap,
        ),
        "flood": seed_lab(
            app,
            battery=battery,
            participants=2 * args.flood_pcs + 1,
            code="S-FLOOD",
            password=PASSWORD,
            password_hash=cheap,
        ),
    }
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    seeded = sum(len(roster.participants) for roster in rosters.values())
    print(f"  seeded {seeded} participants in 5 sessions in {time.monotonic() - started:.1f} s")
    return rosters


def run_database(kind: str, args: argparse.Namespace) -> list[Row]:
    from generated_bank import write_bank_folder

    from tests import live

    print(f"\n== {kind}", flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="cbt-load-") as tmp:
        work = Path(tmp)
        instance = work / "instance"
        instance.mkdir()
        with live.fresh_database(kind, instance, PG_URL) as url:
            env = live.server_env(instance, url, SECRET)
            live.flask_command(env, "db", "upgrade")
            battery = write_bank_folder(work / "qb")
            live.flask_command(env, "banks", "import", str(work / "qb"))
            rosters = seed(url, instance, battery, args)
            acks = []
            connection_errors = Counter()
            log = work / "gunicorn.log"
            with live.gunicorn(env, log, workers=args.workers) as base:
                print(f"  gunicorn at {base}, {args.workers} workers", flush=True)
                found, result = stampede(base, rosters["stampede"], args)
                rows += found
                acks += result.ledger.acks
                connection_errors.update(result.connection_errors)
                print("  (a) done", flush=True)
                found, result = saturation(base, rosters["saturate"], work, args)
                rows += found
                acks += result.ledger.acks
                connection_errors.update(result.connection_errors)
                print("  (b) done", flush=True)
                found, result, _source = paced_lab(
                    base, rosters["paced"], rosters["paced_rest"], args
                )
                rows += found
                acks += result.ledger.acks
                connection_errors.update(result.connection_errors)
                print("  (c), (d) done", flush=True)
                if args.flood_pcs:
                    found, result = flood(base, rosters["flood"], args)
                    rows += found
                    acks += result.ledger.acks
                    connection_errors.update(result.connection_errors)
                    print("  (e) done", flush=True)
            check = check_ledger(url, acks)
            rows.append(
                Row(
                    "acknowledged answers missing afterwards",
                    f"{check.acknowledged} acknowledged in {check.attempts} attempts",
                    f"{len(check.missing)} missing, {len(check.mismatched)} different",
                )
            )
            if connection_errors:
                print(f"  connection errors the PCs saw: {format_counts(connection_errors)}")
            _print_server_errors(log)
            keep_logs(args.logs, kind, [log, work / "ceiling.log"])
    return rows


def keep_logs(folder: str | None, kind: str, logs: list[Path]) -> None:
    """Copy the server logs out of the temporary folder (``--logs``)."""
    if not folder:
        return
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for log in logs:
        if log.exists():
            shutil.copy(log, target / f"{kind}-{log.name}")
    print(f"  logs copied to {target}")


def _print_server_errors(log: Path) -> None:
    lines = log.read_text(errors="replace").splitlines()
    errors: dict[str, int] = {}
    for line in lines:
        if "Error:" in line or "Exception on" in line:
            key = line.split("] ", 1)[-1][:160]
            errors[key] = errors.get(key, 0) + 1
    if errors:
        print("  server log, exception lines (count × line):")
        for line, count in sorted(errors.items(), key=lambda kv: -kv[1])[:8]:
            print(f"    {count} × {line}")


# ---- the machine and the table ------------------------------------------------------------------


def postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


def machine() -> list[str]:
    model = "?"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    lines = [
        f"machine: {os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    if postgres_answers():
        try:
            import sqlalchemy as sa

            from tests.lab_client import engine_url

            engine = sa.create_engine(engine_url(PG_URL))
            with engine.connect() as conn:
                lines.append(conn.exec_driver_sql("SHOW server_version").scalar() or "")
            engine.dispose()
            lines[-1] = f"PostgreSQL {lines[-1]}"
        except Exception as failed:  # noqa: BLE001 (printed, not fatal)
            lines.append(f"PostgreSQL: {failed}")
    return lines


def print_table(results: list[tuple[str, list[Row]]]) -> None:
    print("\n| database | measure | load | result | p50 | p99 | errors | retry later |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, rows in results:
        name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(kind, kind)
        for r in rows:
            print(
                f"| {name} | {r.measure} | {r.load} | {r.result} | {r.p50} | {r.p99} | "
                f"{r.errors} | {r.retries} |"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--databases", default=None, help="default: sqlite,postgresql (when PostgreSQL answers)"
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--stampede", type=int, default=500, help="(a) PCs released together")
    parser.add_argument("--connections", type=int, default=16, help="(b) concurrent savers")
    parser.add_argument("--saturation-seconds", type=float, default=15)
    parser.add_argument(
        "--saturation-rounds",
        type=int,
        default=3,
        help="(b) turns of the product and the ceiling; the ratio is the rounds' median",
    )
    parser.add_argument("--paced", type=int, default=1000, help="(c) PCs")
    parser.add_argument(
        "--monitor-seats", type=int, default=500, help="(d) seats of the watched session"
    )
    parser.add_argument("--flood-pcs", type=int, default=200, help="(e) PCs beside the flooder")
    parser.add_argument("--flood-seconds", type=float, default=20)
    parser.add_argument("--flood-connections", type=int, default=8)
    parser.add_argument("--paced-seconds", type=float, default=60)
    parser.add_argument("--monitor-every", type=float, default=5, help="(d) seconds")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--limit", type=int, default=1000, help="connections per client process")
    parser.add_argument("--phase-limit", type=float, default=240, help="seconds per phase")
    parser.add_argument("--logs", default=None, help="copy the gunicorn logs into this folder")
    args = parser.parse_args(argv)
    kinds = (args.databases or ("sqlite,postgresql" if postgres_answers() else "sqlite")).split(",")
    header = [
        "command: " + shlex.join([Path(sys.executable).name, *sys.argv]),
        *machine(),
        f"gunicorn: {args.workers} workers, the repository's gunicorn.conf.py",
    ]
    print("\n".join(header), flush=True)
    results = [(kind, run_database(kind, args)) for kind in kinds]
    print()
    print("\n".join(header))
    print_table(results)


if __name__ == "__main__":
    main()

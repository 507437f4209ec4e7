"""Backups (docs/backup.md): a verified copy with its manifest, a checked restore that never
overwrites, retention, the admin's settings and pages, the audit rows, and the schedule (which
worker backs up, and when)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt_server import create_app
from cbt_server.accounts.service import create_user
from cbt_server.backup import scheduler
from cbt_server.backup.schedule import CLOSE, INTERVAL, RETRY_AFTER, backup_due
from cbt_server.backup.service import head_revision
from cbt_server.clock import ManualClock
from cbt_server.models import AuditEntry, db
from tests.builders import RIGHT, Participant, finish
from tests.helpers import audit_count, csrf_token, login

ADMIN = ("admin-1", "sandi-admin")


def _sqlite_only(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite backup path (PostgreSQL goes through pg_dump)")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _rows(database: Path, table: str) -> list[tuple]:
    with sqlite3.connect(database) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()  # noqa: S608


def _database(app: Flask) -> Path:
    return Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))


@pytest.fixture
def admin(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    with app.app_context():
        create_user(*ADMIN, "admin", "Admin Satu")
        db.session.commit()
    client = app.test_client()
    assert login(client, *ADMIN).status_code == 302
    return client


@pytest.fixture
def answered(app: Flask, lab):  # type: ignore[no-untyped-def]
    """One participant submitted, another still answering."""
    finish(app, lab, 0, {**RIGHT, "U-L1": "4"})
    person = Participant(app, *lab.participants[1])
    person.begin(lab.token)
    assert person.save(0, [1], 1).status_code == 200
    return lab


def _backup_now(runner, *args: str) -> Path:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["backup", "now", *args])
    assert result.exit_code == 0, result.output
    return Path(result.output.splitlines()[0])


def _last_audit(app: Flask, action: str) -> AuditEntry:
    with app.app_context():
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc())
        )
        assert entry is not None, f"no {action} audit row"
        db.session.expunge_all()
        return entry


# ---- taking a backup ------------------------------------------------------------------------


def test_a_backup_is_a_verified_private_file_with_its_manifest(
    app: Flask, answered, runner, database_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _sqlite_only(database_url)
    folder = tmp_path / "cadangan" / "lab"
    path = _backup_now(runner, "--to", str(folder))
    # the clock's 08:00 UTC is 15:00 in the lab's zone (WIB): the name shows the lab's time
    assert path.name == "cbt-20261123-150000.sqlite3"
    assert path.parent == folder and _mode(folder) == 0o700 and _mode(path) == 0o600
    manifest_path = path.with_name(path.name + ".json")
    assert _mode(manifest_path) == 0o600
    manifest = json.loads(manifest_path.read_text())
    assert manifest["verified"] is True and manifest["integrity"] == "ok"
    assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["size_bytes"] == path.stat().st_size
    assert manifest["source"] == str(_database(app))
    assert manifest["created_local"].startswith("2026-11-23T15:00:00")
    with app.app_context():
        assert manifest["schema_revision"] == head_revision()
    with sqlite3.connect(path) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # one self-contained file, not a WAL database needing its -wal
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert manifest["counts"]["users"] == len(_rows(_database(app), "users"))
    assert manifest["counts"]["responses"] == len(_rows(_database(app), "responses")) > 0
    entry = _last_audit(app, "backup.create")
    assert entry.actor_label == "cli" and entry.target == path.name
    assert entry.details["sha256"] == manifest["sha256"]


def test_a_backup_neither_waits_for_a_writer_nor_copies_what_it_has_not_committed(
    app: Flask, answered, database_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _sqlite_only(database_url)
    from cbt_server.backup.service import take_backup

    writer = sqlite3.connect(_database(app), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # SQLite's write lock, as a save holds it
        writer.execute("UPDATE users SET full_name = 'belum disimpan'")
        with app.app_context():
            manifest = take_backup(tmp_path / "bk")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    copy = tmp_path / "bk" / manifest["file"]
    assert "belum disimpan" not in {
        row[0] for row in sqlite3.connect(copy).execute("SELECT full_name FROM users")
    }


# ---- restore --------------------------------------------------------------------------------


def test_restore_into_a_new_instance_passes_its_checks_and_holds_the_same_rows(
    app: Flask, answered, runner, database_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _sqlite_only(database_url)
    path = _backup_now(runner, "--to", str(tmp_path / "bk"))
    source = {t: _rows(_database(app), t) for t in ("users", "attempts", "responses")}
    target = tmp_path / "instance-baru"
    result = runner.invoke(args=["backup", "restore", str(path), "--into", str(target)])
    assert result.exit_code == 0, result.output
    for check in ("sha256", "integrity: ok", "schema revision", "row counts: as in the manifest"):
        assert re.search(rf"^OK +{check}", result.output, re.M), result.output
    restored = target / "cbt.sqlite3"
    assert _mode(target) == 0o700 and _mode(restored) == 0o600
    for table, rows in source.items():
        assert _rows(restored, table) == rows, table
    # The restored server takes the same exam cards (it got this server's secret key) and
    # records where its data came from.
    again = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{restored}", "INSTANCE_PATH": target}
    )
    client = again.test_client()
    assert login(client, *answered.participants[2]).status_code == 302
    with again.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "backup.restore"))
        assert entry is not None and entry.target == path.name
        db.session.remove()
        db.engine.dispose()


def test_restore_never_overwrites_a_database(
    app: Flask, answered, runner, database_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _sqlite_only(database_url)
    path = _backup_now(runner, "--to", str(tmp_path / "bk"))
    live = _database(app)
    before = hashlib.sha256(live.read_bytes()).hexdigest()
    result = runner.invoke(args=["backup", "restore", str(path), "--into", str(live.parent)])
    assert result.exit_code != 0
    assert f"{live} already holds a database: choose a new place" in result.output
    assert hashlib.sha256(live.read_bytes()).hexdigest() == before
    url = runner.invoke(args=["backup", "restore", str(path), "--into", f"sqlite:///{live}"])
    assert url.exit_code != 0 and "already holds a database" in url.output


def test_restore_refuses_a_damaged_file(
    app: Flask, answered, runner, database_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _sqlite_only(database_url)
    path = _backup_now(runner, "--to", str(tmp_path / "bk"))
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    target = tmp_path / "baru"
    result = runner.invoke(args=["backup", "restore", str(path), "--into", str(target)])
    assert result.exit_code != 0
    assert "is not the file its manifest describes (damaged or changed)" in result.output
    assert not (target / "cbt.sqlite3").exists()
    # without a manifest to compare with, SQLite itself says it is no database
    stray = tmp_path / "salinan.sqlite3"
    stray.write_bytes(b"bukan basis data " * 512)
    result = runner.invoke(args=["backup", "restore", str(stray), "--into", str(target)])
    assert result.exit_code != 0
    assert "salinan.sqlite3 is not a SQLite database backup" in result.output
    assert not (target / "cbt.sqlite3").exists()


def test_prune_keeps_the_newest(app: Flask, runner, clock: ManualClock) -> None:
    made = []
    for _ in range(4):
        made.append(_backup_now(runner).name)
        clock.advance(minutes=10)
    folder = Path(app.instance_path) / "backups"
    result = runner.invoke(args=["backup", "prune", "--keep", "2"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*made[2:], *(f"{n}.json" for n in made[2:])]
    )
    assert _last_audit(app, "backup.prune").details["removed"] == made[1::-1]
    listed = runner.invoke(args=["backup", "list"]).output
    assert f"{folder}: 2 backup(s)" in listed and made[3] in listed


# ---- the admin's pages ----------------------------------------------------------------------


def _post_settings(client: FlaskClient, **fields: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get("/admin/backup").get_data(as_text=True))
    data = {"folder": "", "interval": "10", "keep": "30", "at_close": "y", "csrf_token": token}
    return client.post("/admin/backup/settings", data={**data, **fields})


def _unwritable(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        folder = tmp_path / "hanya-baca"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    return Path("/sys")  # root writes anywhere but on a read-only file system


def test_settings_refuse_bad_input_in_indonesian_and_store_nothing(
    app: Flask, admin: FlaskClient, tmp_path: Path
) -> None:
    settings_file = Path(app.instance_path) / "backup.json"
    fresh = tmp_path / "belum-ada"
    (tmp_path / "berkas").write_text("bukan folder")
    cases = [
        ({"folder": ""}, "Folder cadangan: isi path folder di server"),
        ({"folder": "cadangan/lab"}, "bukan path absolut"),
        ({"folder": str(_unwritable(tmp_path))}, "server tidak dapat membuat atau menulis"),
        ({"folder": str(tmp_path / "berkas")}, "adalah berkas, bukan folder"),
        ({"folder": str(fresh), "interval": "0"}, "harus bilangan bulat 1–720 menit"),
        ({"folder": str(fresh), "interval": "sepuluh"}, "harus bilangan bulat 1–720 menit"),
        ({"folder": str(fresh), "keep": "0"}, "harus bilangan bulat 1–1000"),
    ]
    for fields, message in cases:
        response = _post_settings(admin, **fields)
        page = response.get_data(as_text=True)
        assert response.status_code == 422, fields
        assert message in page, (fields, message)
        assert "Pengaturan cadangan tidak disimpan" in page
        assert not settings_file.exists()
    assert not fresh.exists()  # a refused form creates no folder either
    assert audit_count(app, "backup.settings") == 0


def test_settings_are_stored_privately_and_audited(
    app: Flask, admin: FlaskClient, tmp_path: Path
) -> None:
    folder = tmp_path / "disk-lain" / "cbt"
    response = _post_settings(admin, folder=str(folder), interval="15", keep="5")
    assert response.status_code == 302
    stored = Path(app.instance_path) / "backup.json"
    assert _mode(stored) == 0o600 and _mode(folder) == 0o700
    assert json.loads(stored.read_text()) == {
        "folder": str(folder),
        "interval_minutes": 15,
        "keep": 5,
        "at_close": True,
    }
    entry = _last_audit(app, "backup.settings")
    assert entry.actor_label == ADMIN[0] and entry.details["after"]["interval_minutes"] == 15
    page = admin.get("/admin/backup").get_data(as_text=True)
    assert "setiap 15 menit selama sesi berlangsung" in page


def test_backup_now_list_and_download_from_the_admin_page(
    app: Flask, admin: FlaskClient, tmp_path: Path
) -> None:
    _post_settings(admin, folder=str(tmp_path / "bk"), keep="2")
    token = csrf_token(admin.get("/admin/backup").get_data(as_text=True))
    for _ in range(3):
        response = admin.post("/admin/backup/now", data={"csrf_token": token})
        assert response.status_code == 302
    page = admin.get("/admin/backup").get_data(as_text=True)
    assert "dibuat dan diperiksa" in page
    names = re.findall(r"<code>(cbt-[0-9-]+\.(?:sqlite3|dump))</code>", page)
    assert len(names) == 2  # the retention of 2
    assert audit_count(app, "backup.create") == 3
    assert _last_audit(app, "backup.create").actor_label == ADMIN[0]
    download = admin.get(f"/admin/backup/files/{names[0]}", buffered=True)
    assert download.status_code == 200
    assert download.data == (tmp_path / "bk" / names[0]).read_bytes()
    assert "attachment" in download.headers["Content-Disposition"]
    entry = _last_audit(app, "download.backup")
    assert entry.actor_label == ADMIN[0] and entry.target == names[0]
    assert admin.get("/admin/backup/files/..%2Fbackup.json").status_code == 404
    assert admin.get("/admin/backup/files/cbt-20990101-000000.sqlite3").status_code == 404


def test_a_failed_backup_is_shown_plainly_and_audited(
    app: Flask, admin: FlaskClient, tmp_path: Path
) -> None:
    folder = tmp_path / "usb"
    _post_settings(admin, folder=str(folder))
    folder.rmdir()
    folder.write_text("bukan folder")  # the USB disk was swapped for a file of that name
    assert scheduler.tick(app) == "failed"
    page = admin.get("/admin/backup").get_data(as_text=True)
    assert 'data-testid="backup-failing"' in page and "Pencadangan terakhir GAGAL" in page
    assert "Folder cadangan tidak dapat ditulis oleh server" in page
    status = admin.get("/admin/status.json").get_json()
    assert status["backup_failing"] is True and status["backup_ok"] is False
    entry = _last_audit(app, "backup.failed")
    assert entry.actor_label == "server" and entry.details["code"] == "folder_unusable"


def test_status_page_and_json(app: Flask, admin: FlaskClient, answered) -> None:  # type: ignore[no-untyped-def]
    page = admin.get("/admin/status")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Status server" in text and "Belum ada cadangan basis data." in text
    status = admin.get("/admin/status.json").get_json()
    kind = "sqlite" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else "postgresql"
    with app.app_context():
        head = head_revision()
    assert status["database_kind"] == kind and status["database_bytes"] > 0
    assert status["schema_revision"] == status["code_revision"] == head
    assert status["schema_current"] is True
    assert status["sessions_running"] == 1 and status["attempts_in_progress"] == 1
    assert status["server_time"].startswith("2026-11-23T15:00:00+07:00")
    assert status["time_zone"] == "Asia/Jakarta"
    assert status["workers_configured"] is None  # not under gunicorn
    assert {d["what"] for d in status["disks"]} >= {"backups"}
    assert all(d["free_bytes"] > 0 for d in status["disks"])
    assert status["last_backup_at"] is None and status["app_version"]
    home = admin.get("/home").get_data(as_text=True)
    assert "/admin/backup" in home and "/admin/status" in home


def _maintenance_rules(app: Flask):  # type: ignore[no-untyped-def]
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("maintenance.")]


@pytest.mark.parametrize("caller", ["anonymous", "participant", "proctor", "assessor"])
def test_only_admins_reach_backup_and_status(app: Flask, lab, caller: str) -> None:  # type: ignore[no-untyped-def]
    accounts = {
        "participant": lab.participants[0],
        "proctor": lab.proctors[0],
        "assessor": ("asesor-1", "sandi-asesor"),
    }
    client = app.test_client()
    if caller != "anonymous":
        assert login(client, *accounts[caller]).status_code == 302
    token = csrf_token(client.get("/login" if caller == "anonymous" else "/home").get_data(True))
    rules = _maintenance_rules(app)
    assert {r.rule for r in rules} >= {
        "/admin/backup",
        "/admin/backup/settings",
        "/admin/backup/now",
        "/admin/backup/files/<name>",
        "/admin/status",
        "/admin/status.json",
    }
    for rule in rules:
        path = rule.rule.replace("<name>", "cbt-20261123-150000.sqlite3")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, data={"csrf_token": token})
            if caller == "anonymous":
                assert response.status_code == 302 and "/login" in response.location, path
            else:
                assert response.status_code == 403, (caller, method, path)
    assert audit_count(app, "backup.create") == 0
    assert not (Path(app.instance_path) / "backups").exists()


# ---- the schedule ---------------------------------------------------------------------------


def test_when_a_backup_is_due(clock: ManualClock) -> None:
    start = clock.now()
    session = [(start, start + timedelta(hours=2))]

    def due(last_ok=None, failed=None, at_close=True, windows=session):  # type: ignore[no-untyped-def]
        return backup_due(
            clock.now(),
            windows,
            last_ok_at=last_ok,
            last_failed_at=failed,
            interval_minutes=10,
            at_close=at_close,
        )

    assert due(windows=[]) is None  # no session, nothing to protect
    clock.advance(minutes=1)
    assert due() == INTERVAL  # during a session without a backup yet
    last = clock.now()
    clock.advance(minutes=9, seconds=59)
    assert due(last) is None
    clock.advance(seconds=1)
    assert due(last) == INTERVAL
    # a failure waits RETRY_AFTER before the next try, then the schedule goes on
    failed = clock.now()
    clock.advance(seconds=RETRY_AFTER.total_seconds() - 1)
    assert due(last, failed) is None
    clock.advance(seconds=1)
    assert due(last, failed) == INTERVAL
    # the session ends: one backup at its close, then nothing
    clock.set(start + timedelta(hours=2))
    last = start + timedelta(hours=1, minutes=58)
    assert due(last) == CLOSE
    assert due(last, at_close=False) is None  # not running any more
    closed = clock.now()
    clock.advance(minutes=30)
    assert due(closed) is None
    # a session that has not started is not "during a session"
    assert (
        due(windows=[(clock.now() + timedelta(minutes=1), clock.now() + timedelta(hours=1))])
        is None
    )


def _schedule(app: Flask, folder: Path, interval: int = 10, at_close: bool = True) -> None:
    settings = {
        "folder": str(folder),
        "interval_minutes": interval,
        "keep": 30,
        "at_close": at_close,
    }
    (Path(app.instance_path) / "backup.json").write_text(json.dumps(settings))


def _backups(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("cbt-*") if not p.name.endswith(".json"))


def test_the_scheduler_backs_up_during_a_session_and_once_at_its_close(
    app: Flask, lab, clock: ManualClock, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "bk"
    assert scheduler.tick(app) == "off"  # not set up: nothing scheduled
    _schedule(app, folder)
    assert scheduler.tick(app) == INTERVAL
    clock.advance(minutes=5)
    assert scheduler.tick(app) == "idle"
    clock.advance(minutes=5)
    assert scheduler.tick(app) == INTERVAL
    clock.advance(hours=4)  # the session (4 h from 5 minutes ago) has ended
    assert scheduler.tick(app) == CLOSE
    clock.advance(minutes=30)
    assert scheduler.tick(app) == "idle"
    assert len(_backups(folder)) == 3
    with app.app_context():
        reasons = [
            e.details["reason"]
            for e in db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == "backup.create")
            )
        ]
    assert reasons == [INTERVAL, INTERVAL, CLOSE]


def test_one_worker_backs_up_while_the_others_skip(app: Flask, lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "bk"
    _schedule(app, folder)
    # another worker is in the middle of its turn: this one skips
    with app.app_context(), scheduler.backup_turn():
        assert scheduler.tick(app) == "busy"
    assert _backups(folder) == []
    # two workers wake at once: exactly one backs up; the other finds it busy or done
    gate = threading.Barrier(2)
    outcomes: list[str] = []

    def worker() -> None:
        gate.wait()
        outcomes.append(scheduler.tick(app))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) in (sorted([INTERVAL, "busy"]), sorted([INTERVAL, "idle"]))
    assert len(_backups(folder)) == 1
    assert scheduler.tick(app) == "idle"  # the next worker sees the backup just made


def test_the_thread_starts_only_when_switched_on(app: Flask) -> None:
    app.config["CBT_BACKUP_SCHEDULER"] = "0"
    assert scheduler.start_scheduler(app) is None
    app.config["CBT_BACKUP_SCHEDULER"] = "1"
    thread = scheduler.start_scheduler(app, interval=3600)
    assert thread is not None and thread.is_alive()
    thread.stop.set()  # type: ignore[attr-defined]
    thread.join(5)

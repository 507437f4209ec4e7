"""The admin's backup schedule and the last results, as JSON files in the instance folder.

No database table: the settings must be readable when the database is not (a restore), and a
backup must not depend on the schema it copies. Both files are 0600 and replaced atomically
(:func:`cbt_server.config.write_private_file`).

- ``instance/backup.json``: :class:`Settings` (folder, interval during sessions, how many to
  keep, a backup at each session's close). Absent: nothing is scheduled.
- ``instance/backup-state.json``: :class:`State`, the last good backup and the last failure
  (written by whoever ran the backup, under the scheduler's lock).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app

from cbt_server import audit
from cbt_server.config import private_folder, write_private_file
from cbt_server.db import write_transaction
from cbt_server.models import User

SETTINGS_FILE = "backup.json"
STATE_FILE = "backup-state.json"
#: where backups go while the admin has chosen no folder (CLI ``backup now``, the button)
DEFAULT_FOLDER = "backups"
INTERVAL_RANGE = (1, 720)
KEEP_RANGE = (1, 1000)


@dataclass(frozen=True)
class Settings:
    #: absolute path; None: the admin has not set up backups, nothing is scheduled
    folder: str | None = None
    interval_minutes: int = 10
    keep: int = 30
    at_close: bool = True

    @property
    def scheduled(self) -> bool:
        return self.folder is not None


class SettingsError(ValueError):
    """One refused field: ``field`` folder | interval | keep; ``kind`` required | relative |
    not_a_folder | not_writable | out_of_range."""

    def __init__(self, field: str, kind: str, value: str, detail: str = "") -> None:
        super().__init__(f"{field}: {kind} ({value!r}{', ' + detail if detail else ''})")
        self.field = field
        self.kind = kind
        self.value = value
        self.detail = detail


class SettingsInvalid(ValueError):
    """Every refused field of a settings form (nothing was stored)."""

    def __init__(self, errors: list[SettingsError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def instance_path() -> Path:
    return Path(current_app.instance_path)


def default_folder() -> Path:
    return instance_path() / DEFAULT_FOLDER


def folder_of(settings: Settings) -> Path:
    """Where backups go: the chosen folder, or ``instance/backups``."""
    return Path(settings.folder) if settings.folder else default_folder()


def folder_problem(path: Path, create: bool = False) -> tuple[str, str] | None:
    """Why the server cannot keep backups in ``path`` (kind, detail), or None. A missing folder
    is created (0700) when ``create``; otherwise its nearest existing parent must take new
    files. Writing is proven by creating (and removing) a file: permissions do not tell for
    root or on a read-only mount."""
    if path.exists() and not path.is_dir():
        return "not_a_folder", ""
    where = path
    try:
        if not path.exists():
            if create:
                private_folder(path)
            else:
                where = next(p for p in path.parents if p.exists())
                if not where.is_dir():
                    return "not_writable", f"{where} is not a folder"
        fd, probe = tempfile.mkstemp(prefix=".cbt-probe-", dir=where)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        return "not_writable", error.strerror or str(error)
    return None


def _whole_number(
    field: str, text: str, bounds: tuple[int, int]
) -> tuple[int, SettingsError | None]:
    try:
        number = int(text.strip())
    except ValueError:
        return 0, SettingsError(field, "out_of_range", text)
    if not bounds[0] <= number <= bounds[1]:
        return 0, SettingsError(field, "out_of_range", text)
    return number, None


def parse_settings(folder: str, interval: str, keep: str, at_close: bool) -> Settings:
    """The settings of a form, or :class:`SettingsInvalid` naming every bad field."""
    errors: list[SettingsError] = []
    folder = (folder or "").strip()
    if not folder:
        errors.append(SettingsError("folder", "required", folder))
    elif not os.path.isabs(folder):
        errors.append(SettingsError("folder", "relative", folder))
    else:
        folder = os.path.normpath(folder)
        problem = folder_problem(Path(folder))
        if problem is not None:
            errors.append(SettingsError("folder", problem[0], folder, problem[1]))
    minutes, error = _whole_number("interval", interval or "", INTERVAL_RANGE)
    errors += [error] if error else []
    count, error = _whole_number("keep", keep or "", KEEP_RANGE)
    errors += [error] if error else []
    if errors:
        raise SettingsInvalid(errors)
    return Settings(folder, minutes, count, bool(at_close))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        # A damaged file must not stop the server: the page shows defaults and saving repairs it.
        current_app.logger.exception("%s is unreadable", path)
        return {}
    return data if isinstance(data, dict) else {}


def load_settings() -> Settings:
    data = _read_json(instance_path() / SETTINGS_FILE)
    known = {k: data[k] for k in Settings.__dataclass_fields__ if k in data}
    try:
        return replace(Settings(), **known)
    except TypeError:
        return Settings()


def update_settings(actor: User, new: Settings) -> bool:
    """Store the admin's settings (audited); False when nothing changed."""
    old = load_settings()
    if old == new:
        return False
    if new.folder:
        private_folder(Path(new.folder))
    write_private_file(instance_path() / SETTINGS_FILE, json.dumps(asdict(new), indent=2) + "\n")
    with write_transaction():
        audit.record(
            "backup.settings",
            actor=actor,
            target=new.folder,
            details={"before": asdict(old), "after": asdict(new)},
        )
    return True


@dataclass
class State:
    """The last good backup (file, time, reason, size) and the last failure (time, reason,
    code, detail), as written to ``backup-state.json`` (times ISO 8601, UTC)."""

    last_ok: dict[str, Any] | None = None
    last_failure: dict[str, Any] | None = None

    @property
    def last_ok_at(self) -> datetime | None:
        return _when(self.last_ok)

    @property
    def last_failed_at(self) -> datetime | None:
        return _when(self.last_failure)

    @property
    def failing(self) -> bool:
        """The last try failed (no good backup since)."""
        failed, ok = self.last_failed_at, self.last_ok_at
        return failed is not None and (ok is None or failed > ok)


def _when(entry: dict[str, Any] | None) -> datetime | None:
    if not entry or not entry.get("at"):
        return None
    try:
        return datetime.fromisoformat(entry["at"])
    except (TypeError, ValueError):
        return None


def load_state() -> State:
    data = _read_json(instance_path() / STATE_FILE)
    return State(data.get("last_ok"), data.get("last_failure"))


def save_state(state: State) -> None:
    data = {"last_ok": state.last_ok, "last_failure": state.last_failure}
    write_private_file(instance_path() / STATE_FILE, json.dumps(data, indent=2) + "\n")

"""Importing banks uploaded in the browser (service).

An upload is a zip of one bank folder (``bank.yaml`` and its ``media/``), a zip of a whole
``question_banks`` folder, or one bank YAML file. It is unpacked with every check a file from
outside needs (sizes, file count, paths, file kinds) into a temporary folder removed afterwards,
then checked and imported by the same functions as ``flask banks import``: a report of every
problem, or a new version; nothing is written when there is any problem. Every upload leaves an
audit row, refused or not. docs/question-banks.md, "Importing banks from the browser".
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from cbt_server import audit
from cbt_server.banks import format as fmt
from cbt_server.banks.checks import IMAGE_EXTENSIONS
from cbt_server.banks.importer import ImportReport, import_repository
from cbt_server.models import Competency, JobFamily, User, db

ZIP_SUFFIXES = (".zip",)
YAML_SUFFIXES = (".yaml", ".yml")
#: what a zip may hold: the YAML files the format reads and the images items may show
ALLOWED_IN_ZIP = (".yaml", *IMAGE_EXTENSIONS)
#: left out of a zip without a word: what archivers add on their own
IGNORED_PARTS = ("__MACOSX",)
IGNORED_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")
#: a bank file far larger than any real one is refused before parsing (YAML is parsed slowly)
YAML_MAX_BYTES = 5 * 1024 * 1024
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class UploadLimits:
    """Caps on one upload (configuration ``CBT_BANK_UPLOAD_*``, docs/question-banks.md)."""

    max_bytes: int
    max_unzipped_bytes: int
    max_files: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> UploadLimits:
        return cls(
            max_bytes=int(config["CBT_BANK_UPLOAD_MAX_BYTES"]),
            max_unzipped_bytes=int(config["CBT_BANK_UPLOAD_MAX_UNZIPPED_BYTES"]),
            max_files=int(config["CBT_BANK_UPLOAD_MAX_FILES"]),
        )


class UploadRefused(Exception):
    """The upload itself is refused before its files are checked; ``kind`` says why, ``name``
    names the file inside the zip and ``number`` a count or size, where they apply (the caps of
    :class:`UploadLimits` are the caller's to name)."""

    def __init__(self, kind: str, name: str = "", number: int = 0) -> None:
        super().__init__(kind)
        self.kind, self.name, self.number = kind, name, number


@dataclass
class UploadOutcome:
    filename: str
    #: the upload was refused before its files were checked
    refused: UploadRefused | None = None
    #: every problem of the files, as the CLI reports them (file names as inside the upload)
    problems: list[fmt.Problem] = field(default_factory=list)
    report: ImportReport | None = None

    @property
    def ok(self) -> bool:
        return self.report is not None


def import_upload(actor: User, filename: str, data: bytes, limits: UploadLimits) -> UploadOutcome:
    """Check and import one upload; an audit row either way."""
    name = _plain_name(filename)
    outcome = UploadOutcome(name)
    facts = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    try:
        with unpacked(name, data, limits) as root:
            repo = _load(root)
            outcome.problems = [_shown(problem, root) for problem in repo.problems]
            if not outcome.problems:
                outcome.report = import_repository(
                    repo,
                    actor=actor,
                    target=name[:200],
                    source=lambda path: f"{name}: {_relative(path, root)}",
                )
    except UploadRefused as refused:
        outcome.refused = refused
    except sa_exc.IntegrityError:
        # Another import stored the same version a moment earlier (PostgreSQL; SQLite writes
        # take turns): nothing of this one was written.
        outcome.refused = UploadRefused("concurrent")
    report = outcome.report
    if report is None:
        refused = outcome.refused
        audit.record_alone(
            "banks.import_refused",
            actor=actor,
            target=name[:200],
            why=refused.kind if refused else "problems",
            file=refused.name if refused and refused.name else None,
            problems=len(outcome.problems),
            **facts,
        )
        return outcome
    if not report.changed:
        # The CLI writes no row for an import that found nothing new; a person's upload is
        # recorded all the same.
        audit.record_alone(
            "banks.import",
            actor=actor,
            target=name[:200],
            new_banks=[],
            new_batteries=[],
            unchanged_banks=report.unchanged_banks,
            unchanged_batteries=report.unchanged_batteries,
            **facts,
        )
    return outcome


def _plain_name(filename: str) -> str:
    """The uploaded file's own name, without any folder a browser may send."""
    return re.split(r"[\\/]", filename or "")[-1].strip() or "upload"


# ---- unpacking ----------------------------------------------------------------------------------


@contextmanager
def unpacked(name: str, data: bytes, limits: UploadLimits) -> Iterator[Path]:
    """The upload laid out in a temporary folder (removed afterwards); UploadRefused when it
    is not a zip or YAML file, is too large, or holds anything unsafe."""
    if not data:
        raise UploadRefused("empty")
    if len(data) > limits.max_bytes:
        raise UploadRefused("too_large")
    suffix = PurePosixPath(name.lower()).suffix
    if suffix not in ZIP_SUFFIXES + YAML_SUFFIXES:
        raise UploadRefused("wrong_type")
    folder = Path(tempfile.mkdtemp(prefix="cbt-bank-upload-")).resolve()
    try:
        if suffix in YAML_SUFFIXES:
            if len(data) > YAML_MAX_BYTES:
                raise UploadRefused("yaml_too_large", name, YAML_MAX_BYTES)
            # Named as uploaded (the report names it so); the folder holds nothing else.
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
            (folder / (safe if safe.strip(".") else "bank.yaml")).write_bytes(data)
        else:
            _extract(data, folder, limits)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _extract(data: bytes, folder: Path, limits: UploadLimits) -> None:
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UploadRefused("bad_zip") from None
    with archive:
        wanted = _checked_entries(archive.infolist(), limits)
        total = 0
        for info, parts in wanted:
            target = folder.joinpath(*parts)
            # Belt and braces: _checked_entries refused every path leading out already.
            if folder not in target.resolve().parents:
                raise UploadRefused("unsafe_path", info.filename)
            cap = YAML_MAX_BYTES if parts[-1].lower().endswith(".yaml") else None
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                total += _copy(archive, info, target, limits.max_unzipped_bytes - total, cap)
            except UploadRefused:
                raise
            except Exception:  # a damaged entry (bad CRC, zlib.error, unknown compression), or
                # a file and a folder of one name
                raise UploadRefused("unreadable", info.filename) from None


def _copy(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, room: int, cap: int | None
) -> int:
    """Extract one entry; its size. The sizes a zip declares may lie: what comes out counts."""
    written = 0
    with archive.open(info) as source, target.open("wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > room:
                raise UploadRefused("unzipped_too_large")
            if cap is not None and written > cap:
                raise UploadRefused("yaml_too_large", info.filename, cap)
            out.write(chunk)
    return written


def _checked_entries(
    entries: list[zipfile.ZipInfo], limits: UploadLimits
) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    """The files to extract with their path parts, after every check that needs no extraction."""
    wanted: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    seen: set[str] = set()
    declared = 0
    for info in entries:
        name = info.filename.replace("\\", "/")
        parts = tuple(part for part in name.split("/") if part not in ("", "."))
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
            raise UploadRefused("unsafe_path", info.filename)
        if not parts or any(p in IGNORED_PARTS for p in parts) or parts[-1] in IGNORED_NAMES:
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UploadRefused("symlink", info.filename)
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise UploadRefused("encrypted", info.filename)
        if not parts[-1].lower().endswith(ALLOWED_IN_ZIP):
            raise UploadRefused("file_kind", info.filename)
        key = "/".join(parts).lower()  # one name twice would overwrite on most file systems
        if key in seen:
            raise UploadRefused("duplicate", info.filename)
        seen.add(key)
        wanted.append((info, parts))
        if len(wanted) > limits.max_files:
            raise UploadRefused("too_many_files")
        declared += info.file_size
        if declared > limits.max_unzipped_bytes:
            raise UploadRefused("unzipped_too_large")
    if not wanted:
        raise UploadRefused("no_bank")
    return wanted


# ---- checking -----------------------------------------------------------------------------------


def _load(folder: Path) -> fmt.Repository:
    """A whole question_banks folder as the CLI loads it, or one bank against the stored
    dictionary."""
    try:
        tree = _tree_root(folder)
        if tree is not None:
            return fmt.load_repository(tree)
        banks = sorted(folder.rglob("bank.yaml"))
        if not banks:
            banks = [p for p in folder.iterdir() if p.suffix.lower() in YAML_SUFFIXES]
        if not banks:
            raise UploadRefused("no_bank")
        if len(banks) > 1:
            raise UploadRefused("several_banks", number=len(banks))
        return fmt.load_bank(banks[0], stored_dictionary())
    except RecursionError:
        # PyYAML builds nested lists and mappings recursively.
        raise UploadRefused("too_deep") from None


def _tree_root(folder: Path) -> Path | None:
    """The folder holding ``competencies/``: the upload's top, or its one top folder."""
    candidates = [folder]
    inside = list(folder.iterdir())
    if len(inside) == 1 and inside[0].is_dir():
        candidates.append(inside[0])
    return next((c for c in candidates if (c / "competencies").is_dir()), None)


def stored_dictionary() -> fmt.Repository:
    """The competency dictionary as imported, for checking a bank that brings none."""
    repo = fmt.Repository()
    for family in db.session.scalars(select(JobFamily)):
        repo.job_families[family.code] = fmt.JobFamily(family.code, family.name)
    for row in db.session.scalars(select(Competency)):
        repo.competencies[row.code] = fmt.Competency(
            code=row.code,
            name=row.name,
            group=row.competency_group,
            definition=row.definition,
            job_family=row.job_family,
            validity=row.validity,
            levels={int(level): text for level, text in (row.levels or {}).items()},
        )
    return repo


def _relative(path: Path | str, root: Path) -> str:
    """A path as named inside the upload."""
    full = Path(os.path.abspath(path))
    try:
        return full.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _shown(problem: fmt.Problem, root: Path) -> fmt.Problem:
    """The CLI's problem, with file names as inside the upload instead of the temporary folder."""
    return replace(
        problem,
        file=_relative(problem.file, root),
        message=problem.message.replace(f"{root}{os.sep}", "").replace(str(root), "."),
    )

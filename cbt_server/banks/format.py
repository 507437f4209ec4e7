"""The question-bank file format (pure): dataclasses, loading and validation.

``load_repository(path)`` reads a ``question_banks/`` tree (or one file or folder inside it,
with the dictionary it needs) and returns everything it found plus every problem, each naming
the file, the line where known, the item and what to fix; ``load_bank(path, dictionary)`` reads
one bank file against a dictionary given. Nothing here touches a database.
The format is documented in ``docs/question-banks.md``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cbt_server.banks import checks
from cbt_server.banks.yaml_source import SourceError, line_of, load_yaml, repeated_keys

GROUPS = ("managerial", "sociocultural", "technical", "integrity")
BANK_KINDS = ("technical", "managerial", "integrity")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    item: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where}: " + (f"[{self.item}] " if self.item else "") + self.message


@dataclass(frozen=True)
class JobFamily:
    code: str
    name: str


@dataclass(frozen=True)
class Competency:
    code: str
    name: str
    group: str
    definition: str
    job_family: str | None
    validity: bool
    levels: dict[int, str]


@dataclass(frozen=True)
class Position:
    code: str
    name: str
    type: str
    job_family: str | None
    required: dict[str, int]


@dataclass(frozen=True)
class ItemSpec:
    id: str
    type: str
    competency: str
    difficulty: str | None
    stem: str
    options: tuple[tuple[str, str], ...]
    image: str | None
    points: float
    key: tuple[str, ...]
    weights: dict[str, float] | None
    accept: tuple[str, ...]
    reverse: bool
    likert_points: int | None
    line: int | None


@dataclass(frozen=True)
class BankSpec:
    code: str
    title: str
    kind: str
    version: str
    language: str
    items: tuple[ItemSpec, ...]
    path: Path
    media: dict[str, Path]
    content_hash: str


@dataclass(frozen=True)
class SelectRule:
    bank: str
    competency: str
    count: int
    difficulty: str | None
    line: int | None = field(default=None, compare=False)
    section: str = field(default="", compare=False)


@dataclass(frozen=True)
class SectionSpec:
    code: str
    title: str
    instructions: str
    time_limit_minutes: int | None
    shuffle_items: bool
    shuffle_options: bool
    rules: tuple[SelectRule, ...]


@dataclass(frozen=True)
class BatterySpec:
    code: str
    title: str
    kind: str
    version: str
    show_score: bool
    time_limit_minutes: int
    sections: tuple[SectionSpec, ...]
    levels: dict[str, tuple[float, float, float, float]]
    validity_flag_percent: float | None
    path: Path
    raw_hash: str

    def content_hash(self, bank_hashes: dict[str, str]) -> str:
        """Covers the file and the exact bank versions it draws from."""
        used = sorted({rule.bank for section in self.sections for rule in section.rules})
        text = self.raw_hash + "".join(f"|{code}:{bank_hashes[code]}" for code in used)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Repository:
    competencies: dict[str, Competency] = field(default_factory=dict)
    job_families: dict[str, JobFamily] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    banks: dict[str, BankSpec] = field(default_factory=dict)
    batteries: dict[str, BatterySpec] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: codes (and folder names) of bank files that have problems: batteries drawing from them
    #: are not checked against them, so one broken item is not reported again as a shortage
    banks_with_errors: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.problems


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


class _Reader:
    """Collects problems for one file."""

    def __init__(self, repo: Repository, path: Path) -> None:
        self.repo = repo
        self.path = path
        self.file = _shown(path)

    def problem(self, message: str, line: int | None = None, item: str | None = None) -> None:
        self.repo.problems.append(Problem(self.file, line, item, message))

    def load(self) -> tuple[Any, bytes] | None:
        try:
            loaded = load_yaml(self.path)
        except SourceError as error:
            self.problem(str(error), error.line)
            return None
        except OSError as error:
            self.problem(f"cannot read the file: {error.strerror}")
            return None
        for key, line, item in repeated_keys(loaded[0]):
            self.problem(
                f"{key!r} is written twice in one mapping; YAML keeps only the last value, "
                "so the first would be lost: remove or rename one",
                line,
                item,
            )
        return loaded


def find_root(path: Path) -> Path | None:
    """The ``question_banks`` folder containing ``path`` (the one with ``competencies/``)."""
    path = path.resolve()
    for candidate in [path, *path.parents]:
        if (candidate / "competencies").is_dir():
            return candidate
    return None


def load_repository(path: Path | str) -> Repository:
    """Load and check ``path``: a question_banks root, or a file / folder inside one."""
    path = Path(path)
    repo = Repository()
    root = find_root(path if path.is_dir() else path.parent)
    if root is None:
        repo.problems.append(
            Problem(
                _shown(path),
                None,
                None,
                "no competencies/ folder found here or above: point at a question_banks folder",
            )
        )
        return repo
    for file in sorted((root / "competencies").glob("*.yaml")):
        _read_dictionary(repo, file)
    for file in sorted((root / "standards").glob("*.yaml")):
        _read_standards(repo, file)
    target = path.resolve()
    every_bank = sorted((root / "banks").glob("*/bank.yaml"))
    every_battery = sorted((root / "batteries").glob("*.yaml"))
    wanted_batteries = [f for f in every_battery if _inside(f, target)]
    wanted_banks = [f for f in every_bank if _inside(f, target)]
    if wanted_batteries and not wanted_banks:
        wanted_banks = every_bank  # a battery alone still needs the banks it draws from
    for file in wanted_banks:
        _read_bank(repo, file)
    for file in wanted_batteries:
        _read_battery(repo, file)
    if target == root and not every_bank:
        repo.problems.append(Problem(_shown(root / "banks"), None, None, "no banks found"))
    return repo


def load_bank(path: Path | str, dictionary: Repository) -> Repository:
    """Load and check one bank file against a dictionary loaded already (an upload of a bank
    folder is checked against the stored dictionary: it brings none of its own)."""
    repo = Repository(
        competencies=dict(dictionary.competencies), job_families=dict(dictionary.job_families)
    )
    _read_bank(repo, Path(path))
    return repo


def _inside(file: Path, target: Path) -> bool:
    file = file.resolve()
    return file == target or target in file.parents


# ---- dictionary and standards ----------------------------------------------------------------


def _read_dictionary(repo: Repository, path: Path) -> None:
    reader = _Reader(repo, path)
    loaded = reader.load()
    if loaded is None:
        return
    doc, _raw = loaded
    if not checks.mapping(
        reader,
        doc,
        "the file",
        {"group", "competencies", "job_families"},
        {"group", "competencies"},
    ):
        return
    group = doc["group"]
    if group not in GROUPS:
        reader.problem(f"group {group!r} is not one of {', '.join(GROUPS)}", line_of(doc))
        return
    for entry in checks.listing(reader, doc.get("job_families") or [], "job_families"):
        if checks.mapping(reader, entry, "a job family", {"code", "name"}, {"code", "name"}):
            code = str(entry["code"])
            if code in repo.job_families:
                reader.problem(f"job family {code} is defined twice", line_of(entry))
            repo.job_families[code] = JobFamily(code, str(entry["name"]))
    for entry in checks.listing(reader, doc["competencies"], "competencies"):
        competency = checks.competency(reader, entry, group, repo)
        if competency is not None:
            repo.competencies[competency.code] = competency


def _read_standards(repo: Repository, path: Path) -> None:
    reader = _Reader(repo, path)
    loaded = reader.load()
    if loaded is None:
        return
    doc, _raw = loaded
    if not checks.mapping(reader, doc, "the file", {"positions"}, {"positions"}):
        return
    for entry in checks.listing(reader, doc["positions"], "positions"):
        position = checks.position(reader, entry, repo)
        if position is not None:
            if position.code in repo.positions:
                reader.problem(f"position {position.code} is defined twice", line_of(entry))
            repo.positions[position.code] = position


# ---- banks ------------------------------------------------------------------------------------

BANK_FIELDS = {"code", "title", "kind", "version", "language", "likert", "items"}
BANK_REQUIRED = {"code", "title", "kind", "version", "language", "items"}


def _read_bank(repo: Repository, path: Path) -> None:
    before = len(repo.problems)
    code = _parse_bank(repo, path)
    if len(repo.problems) > before:
        repo.banks_with_errors.add(path.parent.name)
        if code is not None:
            repo.banks_with_errors.add(code)


def _parse_bank(repo: Repository, path: Path) -> str | None:
    """Read one bank file into ``repo``; its code, once that is known."""
    reader = _Reader(repo, path)
    loaded = reader.load()
    if loaded is None:
        return None
    doc, raw = loaded
    if not checks.mapping(reader, doc, "the bank", BANK_FIELDS, BANK_REQUIRED):
        return str(doc["code"]) if isinstance(doc, dict) and doc.get("code") else None
    code = str(doc["code"])
    if not checks.CODE.match(code):
        reader.problem(f"bank code {code!r} may hold only A-Z, 0-9, '.', '-'", line_of(doc))
    if doc["kind"] not in BANK_KINDS:
        reader.problem(f"kind {doc['kind']!r} is not one of {', '.join(BANK_KINDS)}", line_of(doc))
    if code in repo.banks:
        reader.problem(f"bank code {code} is used by {repo.banks[code].path} too", line_of(doc))
    likert = checks.likert_config(reader, doc.get("likert"), line_of(doc), None)
    if likert is None and doc.get("likert") is not None:
        likert = checks.BROKEN_LIKERT
    items_raw = doc["items"]
    if not isinstance(items_raw, list) or not items_raw:
        reader.problem(
            "the bank has no items: add at least one under items:", checks.key_line(doc, "items")
        )
        return code
    items: list[ItemSpec] = []
    seen: dict[str, int | None] = {}
    media_dir = path.parent / "media"
    for entry in items_raw:
        item = checks.item(reader, entry, repo, likert, media_dir)
        if item is None:
            continue
        if item.id in seen:
            reader.problem(
                f"item id {item.id} is used twice (first at line {seen[item.id]})",
                item.line,
                item.id,
            )
            continue
        seen[item.id] = item.line
        items.append(item)
    media = {i.image: media_dir / i.image for i in items if i.image}
    digest = hashlib.sha256(raw)
    for name in sorted(media):
        if media[name].is_file():
            digest.update(b"\0" + name.encode() + b"\0" + media[name].read_bytes())
    repo.banks[code] = BankSpec(
        code=code,
        title=str(doc["title"]),
        kind=str(doc["kind"]),
        version=str(doc["version"]),
        language=str(doc["language"]),
        items=tuple(items),
        path=path,
        media=media,
        content_hash=digest.hexdigest(),
    )
    return code


# ---- batteries --------------------------------------------------------------------------------

BATTERY_FIELDS = {
    "code",
    "title",
    "kind",
    "version",
    "show_score",
    "time_limit_minutes",
    "sections",
    "levels",
    "validity_flag_percent",
}
BATTERY_REQUIRED = {"code", "title", "kind", "version", "time_limit_minutes", "sections", "levels"}


def _read_battery(repo: Repository, path: Path) -> None:
    reader = _Reader(repo, path)
    loaded = reader.load()
    if loaded is None:
        return
    doc, raw = loaded
    if not checks.mapping(reader, doc, "the battery", BATTERY_FIELDS, BATTERY_REQUIRED):
        return
    code = str(doc["code"])
    if code in repo.batteries:
        reader.problem(
            f"battery code {code} is used by {repo.batteries[code].path} too", line_of(doc)
        )
    if doc["kind"] not in BANK_KINDS:
        reader.problem(f"kind {doc['kind']!r} is not one of {', '.join(BANK_KINDS)}", line_of(doc))
    total = checks.minutes(reader, doc["time_limit_minutes"], "time_limit_minutes", line_of(doc))
    sections = checks.sections(reader, doc["sections"], repo, line_of(doc))
    timed = sum(s.time_limit_minutes or 0 for s in sections)
    if total is not None and timed > total:
        reader.problem(
            f"section time limits add up to {timed} minutes, more than the battery's {total}",
            line_of(doc),
        )
    checks.demand(reader, sections, repo, line_of(doc))
    levels = checks.levels(reader, doc["levels"], repo, line_of(doc))
    flag = doc.get("validity_flag_percent")
    if flag is not None and not (isinstance(flag, int | float) and 0 <= flag <= 100):
        reader.problem("validity_flag_percent must be a number from 0 to 100", line_of(doc))
        flag = None
    show = doc.get("show_score", False)
    if not isinstance(show, bool):
        reader.problem("show_score must be true or false", line_of(doc))
    if total is None or levels is None:
        return
    repo.batteries[code] = BatterySpec(
        code=code,
        title=str(doc["title"]),
        kind=str(doc["kind"]),
        version=str(doc["version"]),
        show_score=bool(show),
        time_limit_minutes=total,
        sections=tuple(sections),
        levels=levels,
        validity_flag_percent=float(flag) if flag is not None else None,
        path=path,
        raw_hash=hashlib.sha256(raw).hexdigest(),
    )

"""Suggested development activities per competency and gap size (pure).

The suggestions are data: ``question_banks/development_activities.yaml``, edited by the agency.
Per competency code, one list for a gap of −1 (``gap_1``) and one for a gap of −2 or more
(``gap_2_or_more``); an optional ``default`` entry serves competencies without their own entry
(e.g. technical competencies added later). The format is described in ``docs/profiling.md``.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cbt_server.banks.checks import CODE, key_line
from cbt_server.banks.format import Problem
from cbt_server.banks.yaml_source import SourceError, line_of, load_yaml, repeated_keys
from cbt_server.profiling.profile import CompetencyResult, Profile

FILE_NAME = "development_activities.yaml"
GAP_1 = "gap_1"
GAP_2_OR_MORE = "gap_2_or_more"
BANDS = (GAP_1, GAP_2_OR_MORE)
_TOP_FIELDS = {"default", "competencies"}
_ENTRY_FIELDS = {"code", *BANDS}


@dataclass(frozen=True)
class Activities:
    gap_1: tuple[str, ...]
    gap_2_or_more: tuple[str, ...]

    def for_band(self, band: str) -> tuple[str, ...]:
        return self.gap_1 if band == GAP_1 else self.gap_2_or_more


@dataclass(frozen=True)
class DevelopmentTable:
    by_code: Mapping[str, Activities]
    default: Activities | None = None

    def activities(self, code: str, gap: int | None) -> tuple[str, ...]:
        """The activities for a competency's gap; () when there is no shortfall or no entry."""
        band = gap_band(gap)
        if band is None:
            return ()
        entry = self.by_code.get(code, self.default)
        return entry.for_band(band) if entry is not None else ()

    def missing(self, codes: Iterable[str]) -> list[str]:
        """The codes (in the order given) without an entry of their own."""
        return [code for code in codes if code not in self.by_code]


@dataclass(frozen=True)
class Suggestion:
    code: str
    name: str
    gap: int
    band: str
    activities: tuple[str, ...]


class DevelopmentTableError(ValueError):
    """The table has problems; ``problems`` lists each with its file and line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def gap_band(gap: int | None) -> str | None:
    """``gap_1`` for a gap of −1, ``gap_2_or_more`` for −2 and below, None for none (≥ 0)."""
    if gap is None or gap >= 0:
        return None
    return GAP_1 if gap == -1 else GAP_2_OR_MORE


def suggest_development(
    profile: Profile | Iterable[CompetencyResult], table: DevelopmentTable
) -> tuple[Suggestion, ...]:
    """One suggestion per area to develop (largest shortfall first), from ``table``."""
    areas = profile.areas if isinstance(profile, Profile) else profile
    suggestions = []
    for row in areas:
        band = gap_band(row.gap)
        if band is None or row.gap is None:
            continue
        suggestions.append(
            Suggestion(row.code, row.name, row.gap, band, table.activities(row.code, row.gap))
        )
    return tuple(suggestions)


def table_path(banks_root: Path | str) -> Path:
    """Where the table lives in a question_banks folder."""
    return Path(banks_root) / FILE_NAME


def load_development_table(
    path: Path | str, known_codes: Collection[str] | None = None
) -> DevelopmentTable:
    """Read and check the table; :class:`DevelopmentTableError` listing every problem.

    With ``known_codes`` (the competency dictionary), a code that is not in it is a problem too.
    """
    reader = _Reader(Path(path))
    table = reader.read(known_codes)
    if reader.problems:
        raise DevelopmentTableError(reader.problems)
    return table


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, message: str, line: int | None = None, item: str | None = None) -> None:
        self.problems.append(Problem(_shown(self.path), line, item, message))

    def read(self, known_codes: Collection[str] | None) -> DevelopmentTable:
        doc = self._load()
        if doc is None:
            return DevelopmentTable({})
        if not self._fields(doc, "the file", _TOP_FIELDS, {"competencies"}, None):
            return DevelopmentTable({})
        default = None
        fallback = doc.get("default")
        if fallback is not None and self._fields(
            fallback, "the default entry", set(BANDS), set(BANDS), "default"
        ):
            default = self._activities(fallback, "default")
        by_code: dict[str, Activities] = {}
        entries = doc["competencies"]
        if not isinstance(entries, list):
            self.problem(
                "competencies must be a list (each entry starting with '- ')", line_of(doc)
            )
            entries = []
        for entry in entries:
            self._entry(entry, by_code, known_codes)
        return DevelopmentTable(by_code, default)

    def _load(self) -> Any:
        try:
            doc, _raw = load_yaml(self.path)
        except SourceError as error:
            self.problem(str(error), error.line)
            return None
        except OSError as error:
            self.problem(f"cannot read the file: {error.strerror}")
            return None
        for key, line, item in repeated_keys(doc):
            self.problem(f"{key!r} is written twice in one mapping: remove one", line, item)
        return doc

    def _fields(
        self, value: Any, what: str, allowed: set[str], required: set[str], item: str | None
    ) -> bool:
        if not isinstance(value, dict):
            self.problem(f"{what} must be a mapping of fields (key: value)", line_of(value), item)
            return False
        ok = True
        for key in value:
            if key not in allowed:
                self.problem(
                    f"unknown field {key!r} in {what} (allowed: {', '.join(sorted(allowed))})",
                    key_line(value, key),
                    item,
                )
                ok = False
        for key in sorted(required - set(value)):
            self.problem(f"{what} is missing the required field {key!r}", line_of(value), item)
            ok = False
        return ok

    def _entry(
        self, entry: Any, by_code: dict[str, Activities], known: Collection[str] | None
    ) -> None:
        code = entry.get("code") if isinstance(entry, dict) else None
        code = str(code) if isinstance(code, str | int | float) else None
        if not self._fields(entry, "an entry", _ENTRY_FIELDS, set(_ENTRY_FIELDS), code):
            return
        if code is None or not CODE.match(code):
            self.problem(
                f"code {entry['code']!r} is not a competency code such as M.01 or T.WP.01",
                line_of(entry),
                code,
            )
            return
        if known is not None and code not in known:
            self.problem(
                f"competency {code} is not in the competency dictionary "
                "(question_banks/competencies/): correct the code or remove the entry",
                line_of(entry),
                code,
            )
        activities = self._activities(entry, code)
        if code in by_code:
            self.problem(f"competency {code} has two entries: merge them", line_of(entry), code)
        elif activities is not None:
            by_code[code] = activities

    def _activities(self, value: Any, item: str) -> Activities | None:
        lists = [self._texts(value, band, item) for band in BANDS]
        if any(texts is None for texts in lists):
            return None
        return Activities(*lists)  # type: ignore[arg-type]

    def _texts(self, entry: Any, band: str, item: str) -> tuple[str, ...] | None:
        value = entry[band]
        line = key_line(entry, band)
        if not isinstance(value, list) or not value:
            self.problem(
                f"{band} must be a list of one or more activities (each line starting with '- ')",
                line,
                item,
            )
            return None
        texts = []
        for n, text in enumerate(value, start=1):
            if not isinstance(text, str) or not text.strip():
                self.problem(f"{band}: activity {n} must be a non-empty text", line, item)
                return None
            cleaned = " ".join(text.split())
            if cleaned in texts:
                self.problem(f"{band}: activity {n} repeats an earlier one", line, item)
                return None
            texts.append(cleaned)
        return tuple(texts)

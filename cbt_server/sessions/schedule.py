"""A schedule typed as text (pure): one session a line, ``code, day, start, end``.

The day is ``2026-11-24``, ``24-11-2026`` or ``24/11/2026``, a time ``08:00`` or ``08.00``; fields
are separated by commas, semicolons or tabs. Lines are numbered as the text box shows them, blank
lines included, so a problem points at the line the admin sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from cbt_server.tabular import RowProblem

#: more lines than a lab schedules at once is a paste gone wrong
MAX_LINES = 200
CODE_LENGTH = 32
FIELDS = ("Kode", "Tanggal", "Mulai", "Selesai")
DAY_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y")
_SEPARATOR = re.compile(r"[,;\t]")
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")


@dataclass(frozen=True)
class ScheduleLine:
    line: int
    code: str
    day: date
    starts: time
    ends: time


def parse_day(text: str) -> date | None:
    for form in DAY_FORMATS:
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    return None


def parse_time(text: str) -> time | None:
    match = _TIME.match(text)
    if match is None:
        return None
    hour, minute = int(match[1]), int(match[2])
    return time(hour, minute) if hour < 24 and minute < 60 else None


def parse_schedule(text: str) -> tuple[list[ScheduleLine], list[RowProblem]]:
    """Every line checked: the lines, and every problem (line, field, what is wrong)."""
    numbered = [(n, raw.strip()) for n, raw in enumerate(text.splitlines(), start=1)]
    numbered = [(n, raw) for n, raw in numbered if raw]
    if not numbered:
        return [], [RowProblem(None, None, "tidak ada baris sesi; tulis satu sesi per baris")]
    if len(numbered) > MAX_LINES:
        return [], [RowProblem(None, None, f"paling banyak {MAX_LINES} sesi sekali jadwal")]
    lines: list[ScheduleLine] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    for number, raw in numbered:
        cells = [cell.strip() for cell in _SEPARATOR.split(raw)]
        if len(cells) != len(FIELDS):
            problems.append(
                RowProblem(
                    number,
                    None,
                    f"harus 4 isian “kode, tanggal, mulai, selesai”, tertulis {len(cells)}",
                )
            )
            continue
        before = len(problems)
        code, day_text, starts_text, ends_text = cells
        code = code.upper()
        if not code:
            problems.append(RowProblem(number, "Kode", "kode sesi kosong"))
        elif len(code) > CODE_LENGTH:
            problems.append(
                RowProblem(number, "Kode", f"kode sesi paling panjang {CODE_LENGTH} karakter")
            )
        elif code in seen:
            problems.append(RowProblem(number, "Kode", f"kode {code} ganda (baris {seen[code]})"))
        else:
            seen[code] = number
        day = parse_day(day_text)
        if day is None:
            problems.append(
                RowProblem(
                    number, "Tanggal", f"tanggal {day_text!r} tidak dikenal; tulis mis. 2026-11-24"
                )
            )
        starts, ends = parse_time(starts_text), parse_time(ends_text)
        for field, value, given in (("Mulai", starts, starts_text), ("Selesai", ends, ends_text)):
            if value is None:
                problems.append(
                    RowProblem(number, field, f"jam {given!r} tidak dikenal; tulis mis. 08:00")
                )
        if len(problems) == before:
            lines.append(ScheduleLine(number, code, day, starts, ends))  # type: ignore[arg-type]
    return lines, problems

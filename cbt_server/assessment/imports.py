"""Outside data files (pure): self/supervisor competency ratings and performance (SKP) results.

Ratings: ``NIP``, ``Kompetensi`` (code), ``Level`` (1-5, decimals allowed), optional ``Periode``
and ``Penilai``. Performance: ``NIP``, ``Periode``, ``Indikator``, ``Target``, ``Realisasi``,
optional ``Satuan``, ``Predikat`` (SKP predikat) and ``Nilai`` (0-100). A row may carry only the
predikat/nilai (no indicator) for a person whose SKP has no itemised targets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cbt_server.tabular import RowProblem, data_rows, map_columns, parse_number

NIP_PATTERN = re.compile(r"^\d{18}$")

RATING_HEADERS = {
    "nip": "nip",
    "kompetensi": "competency",
    "kode kompetensi": "competency",
    "competency": "competency",
    "level": "level",
    "nilai": "level",
    "periode": "period",
    "period": "period",
    "tahun": "period",
    "penilai": "rater",
    "rater": "rater",
}
PERFORMANCE_HEADERS = {
    "nip": "nip",
    "periode": "period",
    "period": "period",
    "tahun": "period",
    "indikator": "indicator",
    "indikator kinerja": "indicator",
    "indicator": "indicator",
    "target": "target",
    "realisasi": "realisation",
    "realisation": "realisation",
    "realization": "realisation",
    "satuan": "unit",
    "unit": "unit",
    "predikat": "predicate",
    "predicate": "predicate",
    "nilai": "score",
    "nilai kinerja": "score",
    "score": "score",
}

#: SKP predikat (PermenPANRB 6/2022), accepted in any case; "Kurang/Misconduct" as one.
PREDICATES = {
    "sangat baik": "Sangat Baik",
    "baik": "Baik",
    "butuh perbaikan": "Butuh Perbaikan",
    "kurang": "Kurang",
    "misconduct": "Kurang",
    "kurang/misconduct": "Kurang",
    "sangat kurang": "Sangat Kurang",
}


@dataclass(frozen=True)
class RatingRow:
    row: int
    nip: str
    competency_code: str
    level: float
    period: str
    rater: str | None


@dataclass(frozen=True)
class TargetRow:
    row: int
    nip: str
    period: str
    indicator: str
    target: float
    realisation: float
    unit: str | None


@dataclass(frozen=True)
class PerformanceRow:
    """A person's overall rating for a period."""

    row: int
    nip: str
    period: str
    predicate: str | None
    score: float | None


def _nip(number: int, text: str, known: Mapping[str, object]) -> tuple[str, RowProblem | None]:
    nip = re.sub(r"\s+", "", text)
    if not NIP_PATTERN.match(nip):
        return nip, RowProblem(number, "NIP", f"NIP harus 18 angka, tertulis {nip!r}")
    if nip not in known:
        return nip, RowProblem(number, "NIP", f"NIP {nip} tidak terdaftar sebagai peserta")
    return nip, None


def parse_ratings(
    table: Sequence[Sequence[str]],
    competencies: Mapping[str, str],
    known_nips: Mapping[str, object],
) -> tuple[list[RatingRow], list[RowProblem]]:
    """Check every row of a self/supervisor rating file; every problem names row and column."""
    columns, problems = map_columns(table, RATING_HEADERS, ("nip", "competency", "level"))
    if problems:
        return [], problems
    by_name = {name.strip().lower(): code for code, name in competencies.items()}
    seen: dict[tuple[str, str, str], int] = {}
    rows: list[RatingRow] = []
    for number, cell in data_rows(table, columns):
        before = len(problems)
        nip, problem = _nip(number, cell["nip"], known_nips)
        if problem:
            problems.append(problem)
        given = cell["competency"]
        code = given.upper() if given.upper() in competencies else by_name.get(given.lower())
        if code is None:
            problems.append(
                RowProblem(number, "Kompetensi", f"kompetensi {given!r} tidak ada di kamus")
            )
        level = parse_number(cell["level"])
        if level is None or not 1 <= level <= 5:
            problems.append(
                RowProblem(number, "Level", f"level harus angka 1–5, tertulis {cell['level']!r}")
            )
        period = cell.get("period", "")
        if code is not None and not problem:
            first = seen.setdefault((nip, code, period), number)
            if first != number:
                problems.append(
                    RowProblem(number, "Kompetensi", f"{nip} {code} ganda (baris {first})")
                )
        if len(problems) == before:
            rows.append(
                RatingRow(
                    number, nip, code or "", float(level or 0), period, cell.get("rater") or None
                )
            )
    if not rows and not problems:
        problems.append(RowProblem(None, None, "tidak ada baris data"))
    return rows, problems


def parse_performance(
    table: Sequence[Sequence[str]], known_nips: Mapping[str, object]
) -> tuple[list[TargetRow], list[PerformanceRow], list[RowProblem]]:
    """Check every row of a performance file: targets vs realisation, and the overall rating."""
    columns, problems = map_columns(table, PERFORMANCE_HEADERS, ("nip", "period"))
    if not problems and "indicator" not in columns and "predicate" not in columns:
        problems.append(
            RowProblem(1, "Indikator", "perlu kolom Indikator/Target/Realisasi atau Predikat")
        )
    if not problems and "indicator" in columns:
        problems += [
            RowProblem(1, name, "kolom wajib tidak ada")
            for name in ("target", "realisation")
            if name not in columns
        ]
    if problems:
        return [], [], problems
    targets: list[TargetRow] = []
    ratings: dict[tuple[str, str], PerformanceRow] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for number, cell in data_rows(table, columns):
        before = len(problems)
        nip, problem = _nip(number, cell["nip"], known_nips)
        if problem:
            problems.append(problem)
        period = cell["period"]
        if not period:
            problems.append(RowProblem(number, "Periode", "periode kosong"))
        target_row = _target(number, nip, period, cell, seen, problems)
        rating = _rating(number, nip, period, cell, ratings, problems)
        if target_row is None and rating is None and len(problems) == before:
            problems.append(
                RowProblem(number, "Indikator", "baris tanpa indikator maupun predikat")
            )
        if len(problems) == before:
            if target_row is not None:
                targets.append(target_row)
            if rating is not None:
                ratings[(nip, period)] = rating
    if not targets and not ratings and not problems:
        problems.append(RowProblem(None, None, "tidak ada baris data"))
    return targets, list(ratings.values()), problems


def _target(
    number: int,
    nip: str,
    period: str,
    cell: Mapping[str, str],
    seen: dict[tuple[str, str, str], int],
    problems: list[RowProblem],
) -> TargetRow | None:
    indicator = cell.get("indicator", "")
    if not indicator:
        if cell.get("target") or cell.get("realisation"):
            problems.append(RowProblem(number, "Indikator", "indikator kosong"))
        return None
    target = parse_number(cell.get("target", ""))
    realisation = parse_number(cell.get("realisation", ""))
    ok = True
    if target is None or target <= 0:
        problems.append(
            RowProblem(number, "Target", f"target harus angka > 0, tertulis {cell.get('target')!r}")
        )
        ok = False
    if realisation is None or realisation < 0:
        problems.append(
            RowProblem(
                number,
                "Realisasi",
                f"realisasi harus angka ≥ 0, tertulis {cell.get('realisation')!r}",
            )
        )
        ok = False
    first = seen.setdefault((nip, period, indicator.lower()), number)
    if first != number:
        problems.append(RowProblem(number, "Indikator", f"indikator ganda (baris {first})"))
        ok = False
    if not ok:
        return None
    return TargetRow(
        number,
        nip,
        period,
        indicator,
        float(target or 0),
        float(realisation or 0),
        cell.get("unit") or None,
    )


def _rating(
    number: int,
    nip: str,
    period: str,
    cell: Mapping[str, str],
    ratings: Mapping[tuple[str, str], PerformanceRow],
    problems: list[RowProblem],
) -> PerformanceRow | None:
    given_predicate = cell.get("predicate", "")
    given_score = cell.get("score", "")
    if not given_predicate and not given_score:
        return None
    predicate = PREDICATES.get(given_predicate.strip().lower()) if given_predicate else None
    if given_predicate and predicate is None:
        problems.append(
            RowProblem(
                number,
                "Predikat",
                f"predikat {given_predicate!r} tidak dikenal (Sangat Baik, Baik, Butuh Perbaikan, "
                "Kurang/Misconduct, Sangat Kurang)",
            )
        )
        return None
    score = parse_number(given_score) if given_score else None
    if given_score and (score is None or not 0 <= score <= 100):
        problems.append(RowProblem(number, "Nilai", f"nilai harus 0–100, tertulis {given_score!r}"))
        return None
    earlier = ratings.get((nip, period))
    if earlier is not None and (earlier.predicate, earlier.score) != (predicate, score):
        problems.append(
            RowProblem(
                number,
                "Predikat",
                f"predikat/nilai berbeda dengan baris {earlier.row} untuk periode yang sama",
            )
        )
        return None
    return earlier or PerformanceRow(number, nip, period, predicate, score)

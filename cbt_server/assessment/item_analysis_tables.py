"""The item analysis as tables for download: items, options, reliability, standard scores.

Headers and words are fixed Indonesian (not the UI language), so a file's columns are the same
whoever downloads it; numbers stay numbers (``downloads.csv_stream`` writes them with the
decimal mark of the file's CSV style).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cbt_server.assessment.item_analysis import ItemAnalysisReport, ScoreLine

FLAG_WORDS = {
    "p_low": "p < 0,20",
    "p_high": "p > 0,90",
    "negative_r": "r negatif",
    "negative_d": "D negatif",
}
D_WORDS = {
    "very_good": "sangat baik",
    "good": "baik",
    "revise": "perlu direvisi",
    "discard": "dibuang",
}
KIND_WORDS = {"section": "Bagian", "scale": "Skala"}


@dataclass(frozen=True)
class Table:
    filename: str
    header: list[str]
    rows: Iterator[list[Any]]
    #: per column, for the XLSX (``downloads.xlsx_file``): text, int, number, decimal3, share
    kinds: list[str]
    #: what the table is, for the title of the XLSX sheet
    name: str = ""


def _yes(value: bool | None) -> str:
    return "" if value is None else "ya" if value else "tidak"


def items_table(report: ItemAnalysisReport) -> Table:
    """One row per item: n, p, corrected r, D and its band, blanks, flags."""
    header = [
        "Kode butir",
        "Jenis",
        "Bagian",
        "Kompetensi/Skala",
        "n",
        "Skor maks",
        "Rerata",
        "p",
        "r terkoreksi",
        "D",
        "Kategori D",
        "Kosong",
        "Tanda",
    ]
    rows = (
        [
            i.code,
            i.item_type,
            i.section,
            i.competency,
            i.n,
            i.max_points,
            i.mean,
            i.p,
            i.r,
            i.d,
            D_WORDS.get(i.d_category or "", ""),
            i.blank,
            "; ".join(FLAG_WORDS[f] for f in i.flags),
        ]
        for i in report.items
    )
    kinds = ["text"] * 4 + ["int", "number", "number"] + ["decimal3"] * 3
    kinds += ["text", "share", "text"]
    return Table(report.filename("analisis-butir"), header, rows, kinds, "Analisis butir")


def options_table(report: ItemAnalysisReport) -> Table:
    """One row per option of every option item: who chose it, overall and by group."""
    header = [
        "Kode butir",
        "Opsi",
        "Kunci",
        "Jumlah",
        "Proporsi",
        "Proporsi kelompok atas",
        "Proporsi kelompok bawah",
        "r opsi-sisa",
        "Pengecoh berfungsi",
    ]
    rows = (
        [
            i.code,
            o.label,
            "ya" if o.keyed else "",
            o.count,
            o.share,
            o.upper,
            o.lower,
            o.rest_r,
            _yes(o.working),
        ]
        for i in report.items
        for o in i.options
    )
    kinds = ["text"] * 3 + ["int"] + ["share"] * 3 + ["decimal3", "text"]
    return Table(report.filename("analisis-opsi"), header, rows, kinds, "Analisis opsi")


def reliability_table(report: ItemAnalysisReport) -> Table:
    """One row per section, then per scale (competency): alpha / KR-20, SEM and the totals."""
    header = [
        "Jenis",
        "Kode",
        "Nama",
        "Koefisien",
        "k",
        "Butir per peserta",
        "n",
        "Lengkap",
        "Rerata",
        "SD",
        "Alpha",
        "SEM",
    ]
    rows = (
        [
            KIND_WORDS[r.kind],
            r.code,
            r.name,
            r.coefficient,
            r.k,
            r.length,
            r.n,
            _yes(r.complete),
            r.mean,
            r.sd,
            r.alpha,
            r.sem,
        ]
        for r in report.reliabilities
    )
    kinds = ["text"] * 4 + ["int", "number", "int", "text", "number", "number", "decimal3"]
    kinds += ["number"]
    return Table(report.filename("reliabilitas"), header, rows, kinds, "Reliabilitas")


def _score(line: ScoreLine) -> list[Any]:
    return [line.value, line.z, line.t, line.percentile, line.stanine]


def standard_scores_table(report: ItemAnalysisReport) -> Table:
    """One row per participant: total and each section as score, z, T, percentile rank, stanine."""
    header, kinds = ["NIP", "Nama"], ["text", "text"]
    for name in ["Total", *report.section_codes]:
        header += [name, f"{name} z", f"{name} T", f"{name} PR", f"{name} stanin"]
        kinds += ["number", "number", "number", "number", "int"]
    rows = (
        [p.nip, p.name, *_score(p.total), *(v for s in p.sections for v in _score(s))]
        for p in report.people
    )
    return Table(report.filename("skor-standar"), header, rows, kinds, "Skor standar")


TABLES = {
    "items": items_table,
    "options": options_table,
    "reliability": reliability_table,
    "standard_scores": standard_scores_table,
}

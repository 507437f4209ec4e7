"""A generated question-bank folder (docs/question-banks.md) for the benchmarks.

``write_bank_folder(root, items=50)`` writes a competency dictionary, one bank and one battery
``BAT-BENCH`` that draws exactly ``items`` items in two sections of 45 minutes each (timed, because
the exam page offers "Selesaikan bagian ini" only for a timed section and sections always run one
after another). Every item is answered
with one click (single, multiple, true/false, weighted, Likert: no short answers), stems and
options are of realistic length (a few sentences of Indonesian-looking text), and a few items
carry a PNG image, so one attempt moves about as many bytes as a real one.

``extra_batteries={"BAT-SHORT": 2}`` adds batteries drawing the same items with a time limit of
their own (whole minutes). One shorter than 90 minutes puts its whole limit on the first section
and leaves the second untimed, so the first section stays open until the attempt's deadline (a
fault scenario can then run a two-minute test without a section change in the middle).
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

import yaml

BATTERY_CODE = "BAT-BENCH"
BANK_CODE = "BENCH"
TECH_1, TECH_2, SCALE = "T.BN.01", "T.BN.02", "INT.BN"
VOCABULARY = (
    "pegawai aparatur sipil negara pelayanan publik kebijakan anggaran daerah laporan kinerja "
    "organisasi pimpinan rekan kerja masyarakat peraturan menteri pelaksanaan evaluasi program "
    "kegiatan sasaran strategis dokumen perencanaan koordinasi instansi pemerintah unit kerja "
    "tanggung jawab integritas akuntabilitas transparansi efisiensi efektivitas"
)
WORDS = VOCABULARY.split()
TECH_TYPES = ("single", "single", "multiple", "truefalse", "weighted")


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _stem(rng: random.Random) -> str:
    return " ".join(_sentence(rng, rng.randint(12, 22)) for _ in range(3)) + "\n"


def _png(rng: random.Random, width: int = 360, height: int = 200) -> bytes:
    """A small diagram-like RGB PNG (a chequer of gradients and shaded blocks), ~20 KB."""
    shade = [[rng.randint(0, 255) for _ in range(width // 8)] for _ in range(height // 8)]
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            base = 200 if (x // 40 + y // 40) % 2 else 120
            row += bytes((base, (base + x) % 256, shade[y // 8][x // 8]))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def _options(rng: random.Random, n: int) -> dict[str, str]:
    return {chr(65 + i): _sentence(rng, rng.randint(6, 12)) for i in range(n)}


def _technical_item(rng: random.Random, number: int, competency: str) -> dict:
    kind = TECH_TYPES[number % len(TECH_TYPES)]
    item: dict = {"id": f"BN-{number:03d}", "type": kind, "competency": competency}
    item["stem"] = _stem(rng)
    if kind == "truefalse":
        item["key"] = bool(number % 2)
        return item
    item["options"] = _options(rng, 5 if kind == "single" else 4)
    if kind == "single":
        item["key"] = rng.choice(list(item["options"]))
    elif kind == "multiple":
        item["key"] = ["A", "C"]
    else:
        item["weights"] = dict(zip(item["options"], rng.sample(range(1, 5), 4), strict=True))
    return item


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


LIKERT_LABELS = ["Sangat Tidak Setuju", "Tidak Setuju", "Ragu-ragu", "Setuju", "Sangat Setuju"]


def write_bank_folder(
    root: Path,
    items: int = 50,
    images: int = 5,
    seed: int = 7,
    extra_batteries: dict[str, int] | None = None,
) -> str:
    """Write the bank folder under ``root``; return the battery code. ``items`` must be even.

    ``extra_batteries`` maps more battery codes to their time limit in minutes (same items)."""
    rng = random.Random(seed)
    _write_dictionary(root)
    bank_items = _bank_items(rng, items)
    media = root / "banks" / BANK_CODE / "media"
    media.mkdir(parents=True, exist_ok=True)
    for n in range(images):
        name = f"gambar-{n}.png"
        (media / name).write_bytes(_png(rng))
        bank_items[n * (len(bank_items) // max(images, 1))]["image"] = name
    bank = {"code": BANK_CODE, "title": "Bank benchmark", "kind": "technical", "version": "1"}
    bank |= {"language": "id", "likert": {"points": 5, "labels": LIKERT_LABELS}}
    _write(root / "banks" / BANK_CODE / "bank.yaml", {**bank, "items": bank_items})
    _write(root / "batteries" / f"{BATTERY_CODE}.yaml", _battery(rng, items))
    for code, minutes in (extra_batteries or {}).items():
        _write(root / "batteries" / f"{code}.yaml", _battery(rng, items, code, minutes))
    return BATTERY_CODE


def _write_dictionary(root: Path) -> None:
    levels = {i: f"Tingkat {i}" for i in range(1, 6)}
    technical = [
        {"code": c, "name": f"Kompetensi {c}", "definition": "Untuk benchmark."}
        | {"job_family": "BN", "levels": levels}
        for c in (TECH_1, TECH_2)
    ]
    _write(
        root / "competencies" / "bench.yaml",
        {
            "group": "technical",
            "job_families": [{"code": "BN", "name": "Penguji Beban"}],
            "competencies": technical,
        },
    )
    scale = {"code": SCALE, "name": "Kejujuran", "definition": "Skala.", "levels": levels}
    _write(
        root / "competencies" / "integritas.yaml",
        {"group": "integrity", "competencies": [scale]},
    )


def _split(items: int) -> tuple[int, int, int]:
    """Items per rule: section 1 (competency 1), section 2 (competency 2, then the scale)."""
    per_section = items // 2
    n_scale = per_section // 2
    return per_section, per_section - n_scale, n_scale


def _bank_items(rng: random.Random, items: int) -> list[dict]:
    """Exactly as many items per competency as the battery draws (so every item is used)."""
    first, second, n_scale = _split(items)
    bank_items = [_technical_item(rng, n, TECH_1) for n in range(first)]
    bank_items += [_technical_item(rng, first + n, TECH_2) for n in range(second)]
    for n in range(n_scale):
        item = {"id": f"BN-L{n:03d}", "type": "likert", "competency": SCALE, "stem": _stem(rng)}
        bank_items.append(item | ({"reverse": True} if n % 3 == 0 else {}))
    return bank_items


def _section_minutes(minutes: int) -> tuple[int | None, int | None]:
    """45 + 45 for the usual 90 minutes; a shorter battery times only its first section."""
    if minutes >= 90:
        return 45, 45
    return minutes, None


def _battery(rng: random.Random, items: int, code: str = BATTERY_CODE, minutes: int = 90) -> dict:
    first, second, n_scale = _split(items)
    rules = [
        [{"bank": BANK_CODE, "competency": TECH_1, "count": first}],
        [
            {"bank": BANK_CODE, "competency": TECH_2, "count": second},
            {"bank": BANK_CODE, "competency": SCALE, "count": n_scale},
        ],
    ]
    limits = _section_minutes(minutes)
    sections = [
        {"code": f"S{n + 1}", "title": f"Bagian {n + 1}", "instructions": _stem(rng)}
        | ({"time_limit_minutes": limits[n]} if limits[n] is not None else {})
        | {"shuffle_items": True, "shuffle_options": True}
        | {"select": select}
        for n, select in enumerate(rules)
    ]
    return {
        "code": code,
        "title": "Baterai benchmark" if code == BATTERY_CODE else f"Baterai benchmark {code}",
        "kind": "technical",
        "version": "1",
        "show_score": True,
        "time_limit_minutes": minutes,
        "sections": sections,
        "levels": {"default": [40, 55, 70, 85]},
    }

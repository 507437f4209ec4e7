"""The talent 9-box (PermenPANRB 3/2020): potential × performance (pure).

X = potential (Rendah, Menengah, Tinggi) from the assessment, e.g. the JPM %; Y = performance
(Di Bawah, Sesuai, Di Atas Ekspektasi) from the imported rating: an SKP predicate or a number.
Each axis has two cut points, both lower bounds: value < low → band 0; low ≤ value < high → 1;
value ≥ high → 2. Box numbers as in the regulation::

    Di Atas Ekspektasi   4  7  9
    Sesuai Ekspektasi    2  5  8
    Di Bawah Ekspektasi  1  3  6
                         Rendah Menengah Tinggi
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

POTENTIAL_LABELS = ("Rendah", "Menengah", "Tinggi")
PERFORMANCE_LABELS = ("Di Bawah Ekspektasi", "Sesuai Ekspektasi", "Di Atas Ekspektasi")

#: (performance band, potential band) -> box number
BOX_NUMBERS: dict[tuple[int, int], int] = {
    (0, 0): 1,
    (0, 1): 3,
    (0, 2): 6,
    (1, 0): 2,
    (1, 1): 5,
    (1, 2): 8,
    (2, 0): 4,
    (2, 1): 7,
    (2, 2): 9,
}

FOLLOW_UP: dict[int, str] = {
    9: "Dipromosikan dan dipertahankan; masuk kelompok rencana suksesi.",
    8: "Dipertahankan; masuk kelompok rencana suksesi; rotasi.",
    7: "Dipertahankan; masuk kelompok rencana suksesi; pengembangan kompetensi.",
    6: "Penempatan yang sesuai; konseling kinerja.",
    5: "Penempatan yang sesuai; bimbingan kinerja; pengembangan kompetensi.",
    4: "Rotasi; pengembangan kompetensi.",
    3: "Konseling kinerja; pengembangan kompetensi.",
    2: "Bimbingan kinerja; pengembangan kompetensi.",
    1: "Diproses sesuai ketentuan peraturan perundang-undangan.",
}

#: SKP predicate (PermenPANRB 6/2022) -> performance band. Agency practice, not the regulation:
#: pass ``predicate_bands`` to :class:`NineBoxConfig` to change it.
DEFAULT_PREDICATE_BANDS: dict[str, int] = {
    "sangat baik": 2,
    "baik": 1,
    "butuh perbaikan": 0,
    "kurang/misconduct": 0,
    "kurang": 0,
    "misconduct": 0,
    "sangat kurang": 0,
}


@dataclass(frozen=True)
class AxisCuts:
    """Two lower bounds: ``low`` starts the middle band, ``high`` the top band."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"axis cut points need low < high, got {self.low}, {self.high}")

    def band(self, value: float) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"a 9-box axis value must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"a 9-box axis value must be finite, got {value!r}")
        return 2 if value >= self.high else 1 if value >= self.low else 0


@dataclass(frozen=True)
class NineBoxConfig:
    #: on the JPM % (0–100); an example of agency practice: ≥ 80 high, 60–79 middle
    potential: AxisCuts = AxisCuts(60, 80)
    #: on a numeric performance score, e.g. the SKP nilai 0–100
    performance: AxisCuts = AxisCuts(60, 80)
    predicate_bands: Mapping[str, int] = field(
        default_factory=lambda: dict(DEFAULT_PREDICATE_BANDS)
    )

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.predicate_bands.items() if v not in (0, 1, 2)}
        if bad:
            raise ValueError(f"predicate bands must be 0, 1 or 2, got {bad}")

    def performance_band(self, performance: float | str) -> int:
        """The band of a number (by the cut points) or of an SKP predicate (by its table)."""
        if isinstance(performance, str):
            key = _predicate_key(performance)
            bands = {_predicate_key(k): v for k, v in self.predicate_bands.items()}
            if key not in bands:
                known = ", ".join(sorted(self.predicate_bands))
                raise ValueError(f"unknown SKP predicate {performance!r} (known: {known})")
            return bands[key]
        return self.performance.band(performance)


@dataclass(frozen=True)
class Box:
    number: int
    potential_band: int
    performance_band: int

    @property
    def potential(self) -> str:
        return POTENTIAL_LABELS[self.potential_band]

    @property
    def performance(self) -> str:
        return PERFORMANCE_LABELS[self.performance_band]

    @property
    def name(self) -> str:
        """E.g. "Kinerja di atas ekspektasi dan potensial tinggi"."""
        return f"Kinerja {self.performance.lower()} dan potensial {self.potential.lower()}"

    @property
    def follow_up(self) -> str:
        return FOLLOW_UP[self.number]


BOXES: dict[int, Box] = {
    number: Box(number, potential, performance)
    for (performance, potential), number in BOX_NUMBERS.items()
}


def _predicate_key(text: str) -> str:
    return " ".join(text.replace(" / ", "/").split()).casefold()


def place(
    potential: float | None,
    performance: float | str | None,
    config: NineBoxConfig | None = None,
) -> Box | None:
    """The box for one person; None when either axis has no value.

    ``ValueError`` for a non-number potential or an unknown SKP predicate.
    """
    config = config or NineBoxConfig()
    if potential is None or performance is None:
        return None
    if isinstance(performance, str) and not performance.strip():
        return None
    performance_band = config.performance_band(performance)
    return BOXES[BOX_NUMBERS[(performance_band, config.potential.band(potential))]]


@dataclass(frozen=True)
class Person:
    """One person to place: ``key`` identifies them to the caller (e.g. a user id)."""

    key: Hashable
    name: str
    potential: float | None
    performance: float | str | None


@dataclass(frozen=True)
class Grid:
    #: box number 1–9 -> the people in it, in input order (every box present, maybe empty)
    boxes: dict[int, tuple[Person, ...]]
    #: people missing a potential or a performance value
    unplaced: tuple[Person, ...]
    config: NineBoxConfig

    def count(self, number: int) -> int:
        return len(self.boxes[number])


def place_group(people: Iterable[Person], config: NineBoxConfig | None = None) -> Grid:
    """Place everyone; people without both values are listed as unplaced."""
    config = config or NineBoxConfig()
    boxes: dict[int, list[Person]] = {number: [] for number in sorted(BOXES)}
    unplaced = []
    for person in people:
        box = place(person.potential, person.performance, config)
        if box is None:
            unplaced.append(person)
        else:
            boxes[box.number].append(person)
    return Grid({n: tuple(p) for n, p in boxes.items()}, tuple(unplaced), config)

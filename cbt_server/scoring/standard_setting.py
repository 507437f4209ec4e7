"""Cut scores set by a method: the modified Angoff procedure (pure: no Flask, no database).

A panel of experts judges every item of a competency once per level boundary. Boundary b
(1..4) is the cut that opens level b + 1; for each boundary a panelist pictures the *minimally
competent* person there (someone who only just reaches level b + 1) and writes down what that
person would earn on the item: the probability of earning it for an item scored all or nothing
(``single``, ``truefalse``, ``short``), the expected points for an item with partial credit or
weights (``multiple``, ``weighted``, ``likert``). Callers turn both into expected points
(:func:`expected_points`) before :func:`angoff` sees them.

The cut of a boundary is the panel's mean expected share of the competency's maximum:

    cut_b = 100 × mean over panelists p of (Σ_i e_pib) / Σ_i max_i

Each panelist's own cut is reported too, with the spread of the panel: the standard deviation
of the panelists' cuts (ddof 1) and the standard error of the cut, SD / √n.

The panel rule (docs/scoring.md, "Cut scores by a method"): at least :data:`MIN_PANELISTS`
panelists before cuts may be set; fewer than :data:`RECOMMENDED_PANELISTS` is allowed with a
warning. The four cuts, rounded to :data:`CUT_DECIMALS`, must be strictly ascending; when they
are not, every boundary out of order is named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cbt_server.scoring.levels import N_CUTS

#: the four boundaries: boundary b opens level b + 1
BOUNDARIES = tuple(range(1, N_CUTS + 1))
#: below this many panelists the cuts are shown but may not be set
MIN_PANELISTS = 3
#: below this many the page warns that the panel is small (5–15 judges is the usual advice)
RECOMMENDED_PANELISTS = 5
#: set cuts are rounded to this many decimals: what the page shows is what grading compares
CUT_DECIMALS = 2
#: item types scored all or nothing: judged as a probability 0..1 of earning the item's points
PROBABILITY_TYPES = frozenset({"single", "truefalse", "short"})


def judged_as_probability(item_type: str) -> bool:
    """Whether a panelist judges this item type as a probability (else as expected points)."""
    return item_type in PROBABILITY_TYPES


def judgement_limit(max_points: float, as_probability: bool) -> float:
    """The largest value a judgement may take: 1 for a probability, else the item's maximum."""
    return 1.0 if as_probability else float(max_points)


def expected_points(value: float, max_points: float, as_probability: bool) -> float:
    """A judged value as expected points: a probability times the item's maximum."""
    return float(value) * float(max_points) if as_probability else float(value)


def judgement_fault(value: float | None, max_points: float, as_probability: bool) -> str | None:
    """Why a judged value cannot be stored: ``missing``, ``range`` (outside 0..limit) or None."""
    if value is None or not math.isfinite(value):
        return "missing"
    if value < 0 or value > judgement_limit(max_points, as_probability):
        return "range"
    return None


@dataclass(frozen=True)
class OutOfOrder:
    """Boundary ``boundary``'s cut is not above the one before it."""

    boundary: int
    cut: float
    previous: float

    @property
    def level(self) -> int:
        """The level this boundary's cut opens."""
        return self.boundary + 1

    def __str__(self) -> str:
        return (
            f"the cut for level {self.level} ({self.cut:g}) is not above the cut for level "
            f"{self.level - 1} ({self.previous:g})"
        )


class CutsNotAscending(ValueError):
    """The four cuts are not strictly ascending; ``faults`` names every boundary out of order."""

    def __init__(self, faults: Sequence[OutOfOrder]) -> None:
        super().__init__("; ".join(str(f) for f in faults))
        self.faults = tuple(faults)


def out_of_order(cuts: Sequence[float]) -> tuple[OutOfOrder, ...]:
    """Every boundary whose cut is not strictly above the previous one (empty when ascending)."""
    return tuple(
        OutOfOrder(b + 1, float(cuts[b]), float(cuts[b - 1]))
        for b in range(1, len(cuts))
        if not cuts[b] > cuts[b - 1]
    )


def check_ascending(cuts: Sequence[float]) -> None:
    """Raise :class:`CutsNotAscending` unless the cuts are strictly ascending."""
    faults = out_of_order(cuts)
    if faults:
        raise CutsNotAscending(faults)


@dataclass(frozen=True)
class Reversal:
    """A panelist judged an item lower at a boundary than at the boundary below it: a person
    at a higher level was judged to earn less. Shown as a warning; the panel decides."""

    panelist: str
    item: int
    boundary: int


@dataclass(frozen=True)
class BoundaryCut:
    """One boundary's cut, each panelist's cut, and the panel's spread."""

    boundary: int
    #: the panel's cut, a percentage rounded to CUT_DECIMALS
    cut: float
    #: each panelist's cut (percentages, unrounded), in the panelists' order
    panelist_cuts: tuple[float, ...]
    #: standard deviation of the panelists' cuts (ddof 1); None with one panelist
    sd: float | None
    #: standard error of the cut, SD / √n; None with one panelist
    se: float | None

    @property
    def level(self) -> int:
        return self.boundary + 1


@dataclass(frozen=True)
class AngoffResult:
    panelists: tuple[str, ...]
    boundaries: tuple[BoundaryCut, ...]
    #: boundaries whose cut is not above the previous one
    out_of_order: tuple[OutOfOrder, ...]
    reversals: tuple[Reversal, ...]
    min_panelists: int = MIN_PANELISTS
    recommended_panelists: int = RECOMMENDED_PANELISTS

    @property
    def cuts(self) -> tuple[float, ...]:
        return tuple(b.cut for b in self.boundaries)

    @property
    def too_few(self) -> bool:
        """Fewer panelists than the rule requires before cuts may be set."""
        return len(self.panelists) < self.min_panelists

    @property
    def small_panel(self) -> bool:
        """Enough to set cuts, but fewer than recommended: a warning."""
        return not self.too_few and len(self.panelists) < self.recommended_panelists

    @property
    def settable(self) -> bool:
        return not self.too_few and not self.out_of_order


def angoff(
    max_points: Sequence[float],
    judgements: Mapping[str, Sequence[Sequence[float]]],
    *,
    min_panelists: int = MIN_PANELISTS,
    recommended_panelists: int = RECOMMENDED_PANELISTS,
) -> AngoffResult:
    """The modified Angoff cuts of one competency.

    ``max_points[i]`` is item i's maximum; ``judgements[panelist][i][b - 1]`` the expected
    points of item i at boundary b (already converted by :func:`expected_points`), for every
    item and every boundary. Raises ``ValueError`` when there is no panelist, when a panelist's
    judgements do not cover every item and boundary, or when the items' maxima sum to 0.
    """
    maxima = np.asarray(max_points, dtype=np.float64)
    if maxima.ndim != 1 or not maxima.size or not np.all(np.isfinite(maxima)):
        raise ValueError("max_points must be a non-empty list of numbers")
    total = float(maxima.sum())
    if total <= 0:
        raise ValueError("the items' maxima sum to 0: nothing to set a cut on")
    if not judgements:
        raise ValueError("no panelist has judged the items")
    names = tuple(judgements)
    table = np.empty((len(names), maxima.size, N_CUTS), dtype=np.float64)
    for p, name in enumerate(names):
        values = np.asarray(judgements[name], dtype=np.float64)
        if values.shape != (maxima.size, N_CUTS):
            raise ValueError(
                f"panelist {name!r}: need {maxima.size} items × {N_CUTS} boundaries, "
                f"got {values.shape}"
            )
        table[p] = values
    # panelists × boundaries: each panelist's expected share of the maximum, in percent
    per_panelist = 100.0 * table.sum(axis=1) / total
    n = len(names)
    boundaries = []
    for b in range(N_CUTS):
        column = per_panelist[:, b]
        sd = float(np.std(column, ddof=1)) if n > 1 else None
        boundaries.append(
            BoundaryCut(
                boundary=b + 1,
                cut=round(float(column.mean()), CUT_DECIMALS),
                panelist_cuts=tuple(float(x) for x in column),
                sd=sd,
                se=sd / math.sqrt(n) if sd is not None else None,
            )
        )
    reversals = tuple(
        # np.diff's column d compares boundary d + 2 with boundary d + 1
        Reversal(names[p], int(i), int(d) + 2)
        for p, i, d in zip(*np.nonzero(np.diff(table, axis=2) < 0), strict=True)
    )
    return AngoffResult(
        panelists=names,
        boundaries=tuple(boundaries),
        out_of_order=out_of_order([b.cut for b in boundaries]),
        reversals=reversals,
        min_panelists=min_panelists,
        recommended_panelists=recommended_panelists,
    )

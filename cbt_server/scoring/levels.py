"""Percentages of the maximum and their conversion to proficiency levels 1..5.

A battery's ``levels`` give four ascending cut points on the percentage of the maximum a
participant could have earned on a competency's items: below cut 1 → level 1, at or above cut 1
→ 2, cut 2 → 3, cut 3 → 4, cut 4 → 5. Where nothing could be earned (maximum 0, e.g. no item of
the competency was presented) the percentage is NaN and the level is 0, meaning *not measured*.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

N_CUTS = 4
NOT_MEASURED = 0
#: percentages are rounded to this many decimals so that float noise cannot drop a score that
#: is exactly on a cut below it (100 × 0.29 is 28.999999999999996 in binary floating point).
#: One rule for the vectorised engine, for grading one attempt (:func:`percent_of`) and for what
#: is stored and printed (docs/scoring.md): two roundings would put 2 of 3 (66.66666…) on
#: different sides of a cut such as 66.66667.
PERCENT_DECIMALS = 4


def validate_cuts(cuts: Sequence[float]) -> np.ndarray:
    """The cut points as a float array; ``ValueError`` unless 4 strictly ascending in 0..100."""
    values = np.asarray(cuts, dtype=np.float64)
    if values.shape != (N_CUTS,):
        raise ValueError(f"levels need exactly {N_CUTS} cut points, got {list(cuts)!r}")
    if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 100:
        raise ValueError(f"cut points must be percentages 0..100, got {list(cuts)!r}")
    if not np.all(np.diff(values) > 0):
        raise ValueError(f"cut points must be strictly ascending, got {list(cuts)!r}")
    return values


def percent_of_max(sums: np.ndarray, max_sums: np.ndarray) -> np.ndarray:
    """``100 × sums / max_sums`` rounded to ``PERCENT_DECIMALS``; NaN where the maximum is 0."""
    sums = np.asarray(sums, dtype=np.float64)
    max_sums = np.asarray(max_sums, dtype=np.float64)
    measured = max_sums > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        percent = np.where(measured, 100.0 * sums / np.where(measured, max_sums, 1.0), np.nan)
    return np.round(percent, PERCENT_DECIMALS)


def percent_of(score: float, maximum: float) -> float | None:
    """One percentage by :func:`percent_of_max`'s rule; None where nothing could be earned."""
    percent = float(percent_of_max(np.array([score]), np.array([maximum]))[0])
    return None if np.isnan(percent) else percent


def to_levels(percent: np.ndarray, cuts: Sequence[float]) -> np.ndarray:
    """Levels 1..5 for percentages (any shape); 0 (not measured) where the percentage is NaN."""
    edges = validate_cuts(cuts)
    percent = np.asarray(percent, dtype=np.float64)
    levels = np.searchsorted(edges, percent, side="right").astype(np.int64) + 1
    return np.where(np.isnan(percent), NOT_MEASURED, levels)


def to_group_levels(percent: np.ndarray, cuts_per_group: Sequence[Sequence[float]]) -> np.ndarray:
    """Levels for attempts × groups percentages, each group (column) with its own four cuts.

    Equal to ``to_levels`` column by column: a level is 1 + the number of cuts at or below the
    percentage.
    """
    edges = np.array([validate_cuts(cuts) for cuts in cuts_per_group]).reshape(-1, N_CUTS)
    percent = np.asarray(percent, dtype=np.float64)
    if percent.shape[-1:] != (edges.shape[0],):
        raise ValueError(f"percent has {percent.shape[-1:]} groups, cuts {edges.shape[0]}")
    levels = 1 + np.sum(percent[..., np.newaxis] >= edges, axis=-1)
    return np.where(np.isnan(percent), NOT_MEASURED, levels).astype(np.int64)


def bank_cuts(levels: Mapping[str, Sequence[float]], code: str) -> Sequence[float]:
    """A competency's cuts in a battery's ``levels`` table: its own line, else ``default``."""
    return levels.get(code) or levels["default"]

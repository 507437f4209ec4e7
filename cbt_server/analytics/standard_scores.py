"""Ranks and standard scores of persons: tie counts, percentile rank, z, T and stanine (pure).

Every function works on a persons × columns matrix (a column is a total, a section score, …)
with NaN where a person has no value, vectorised over persons and columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: sums of the same item scores taken in another order can differ in the last bit; values are
#: rounded to this many decimals before they are compared, so such persons tie
DECIMALS = 9
#: sample statistics throughout (SD, variances, covariances): n − 1 in the denominator
DDOF = 1


def as_columns(values: np.ndarray) -> np.ndarray:
    """A float matrix persons × columns; a 1-D array is one column."""
    values = np.asarray(values, dtype=float)
    return values[:, None] if values.ndim == 1 else values


def tie_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell, how many persons of its column score below it and equal to it (itself included).

    ``values`` is (N, C) (or (N,) for one column), NaN = no value. Returns ``(below, equal, n)``:
    (N, C) int arrays (0 where the cell has no value) and the (C,) count of values per column.
    """
    values = as_columns(values)
    present = ~np.isnan(values)
    n = present.sum(axis=0)
    below = np.zeros(values.shape, dtype=np.int64)
    equal = np.zeros(values.shape, dtype=np.int64)
    if not present.any():
        return below, equal, n
    # One sort by (column, value) answers every column at once: in sorted order a block of equal
    # values starts at its first index and ends before the next block.
    rounded = np.round(values[present], DECIMALS)
    column = np.nonzero(present)[1]
    order = np.lexsort((rounded, column))
    value, column = rounded[order], column[order]
    size = len(order)
    index = np.arange(size)
    starts = np.ones(size, dtype=bool)
    starts[1:] = (value[1:] != value[:-1]) | (column[1:] != column[:-1])
    first = np.maximum.accumulate(np.where(starts, index, 0))
    ends = np.append(starts[1:], True)
    after = np.minimum.accumulate(np.where(ends, index + 1, size)[::-1])[::-1]
    column_start = np.searchsorted(column, np.arange(values.shape[1]))
    below_sorted, equal_sorted = np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64)
    below_sorted[order] = first - column_start[column]
    equal_sorted[order] = after - first
    below[present], equal[present] = below_sorted, equal_sorted
    return below, equal, n


def percentile_ranks(values: np.ndarray) -> np.ndarray:
    """Percentile rank per cell: 100 · (below + ½ · equal) / n of its column; NaN without value."""
    values = as_columns(values)
    below, equal, n = tie_counts(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        ranks = 100.0 * (below + 0.5 * equal) / n
    return np.where(np.isnan(values), np.nan, ranks)


def stanines(z: np.ndarray) -> np.ndarray:
    """Stanine = clip(round(2z + 5), 1, 9), halves rounded up (not to even); NaN stays NaN."""
    z = np.asarray(z, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.clip(np.floor(2.0 * z + 5.0 + 0.5), 1.0, 9.0)


@dataclass(frozen=True)
class StandardScores:
    """Standard scores of persons × columns; NaN where a person has no value or z is undefined."""

    n: np.ndarray  # (C,) persons with a value
    mean: np.ndarray  # (C,)
    sd: np.ndarray  # (C,) ddof 1; NaN when n < 2
    z: np.ndarray  # (N, C) (x − mean) / sd; NaN when sd is 0 or undefined
    t: np.ndarray  # (N, C) 50 + 10 z
    percentile: np.ndarray  # (N, C) 100 · (below + ½ equal) / n
    stanine: np.ndarray  # (N, C) clip(round(2z + 5), 1, 9)


def standard_scores(values: np.ndarray) -> StandardScores:
    """z, T = 50 + 10z, percentile rank and stanine of every person in every column.

    ``values`` is (N, C) (or (N,) for one column), NaN where a person has no score. The mean and
    SD (ddof 1) of a column are over the persons with a value. A column with fewer than two
    values, or whose values are all equal, has no z, T or stanine (NaN); its percentile ranks
    are still defined (all equal: 50).
    """
    values = as_columns(values)
    present = ~np.isnan(values)
    n = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(present, values, 0.0).sum(axis=0) / n
        deviation = np.where(present, values - mean, 0.0)
        sd = np.sqrt((deviation**2).sum(axis=0) / (n - DDOF))
    sd = np.where(n > DDOF, sd, np.nan)
    rounded = np.round(values, DECIMALS)
    constant = np.nanmax(np.where(present, rounded, -np.inf), axis=0) == np.nanmin(
        np.where(present, rounded, np.inf), axis=0
    )
    usable = (n > DDOF) & ~constant
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(present & usable, deviation / np.where(usable, sd, 1.0), np.nan)
    return StandardScores(
        n=n,
        mean=np.where(n > 0, mean, np.nan),
        sd=sd,
        z=z,
        t=50.0 + 10.0 * z,
        percentile=percentile_ranks(values),
        stanine=stanines(z),
    )

"""A plain-Python reference for the item analysis: loops and the ``statistics`` module only.

Written from the formulas in docs/psychometrics.md, independently of the vectorised numpy code
in ``cbt_server.analytics``, so the tests can compare the two on random data. ``None`` marks an
item not presented to a person and a statistic that is undefined.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

Matrix = Sequence[Sequence[float | None]]


def _column(rows: Matrix, k: int) -> list[tuple[int, float]]:
    return [(i, row[k]) for i, row in enumerate(rows) if row[k] is not None]


def criterion(rows: Matrix, groups: Sequence[object], k: int) -> dict[int, float]:
    """Person → total of the presented items in item k's group, for persons who saw item k."""
    members = [j for j, g in enumerate(groups) if g == groups[k]]
    return {
        i: sum(rows[i][j] for j in members if rows[i][j] is not None)  # type: ignore[misc]
        for i, _x in _column(rows, k)
    }


def correlation(x: list[float], y: list[float]) -> float | None:
    if len(x) < 2 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return statistics.correlation(x, y)


def group_weights(values: dict[int, float], share: float, top: bool) -> dict[int, float]:
    """Walk the persons from the top (or bottom) in blocks of equal values, filling share · n."""
    room = share * len(values)
    weights = {i: 0.0 for i in values}
    for value in sorted(set(values.values()), reverse=top):
        block = [i for i, v in values.items() if v == value]
        take = min(room, len(block))
        for i in block:
            weights[i] = take / len(block)
        room -= take
        if room <= 0:
            break
    return weights


def item_stats(
    rows: Matrix, max_points: Sequence[float], groups: Sequence[object], share: float = 0.27
) -> list[dict[str, float | None]]:
    """Per item: n, p, corrected r and D, one item and one person at a time."""
    out = []
    for k in range(len(max_points)):
        seen = _column(rows, k)
        totals = criterion(rows, groups, k)
        xs = [x for _i, x in seen]
        mean = sum(xs) / len(xs) if xs else None
        p = mean / max_points[k] if mean is not None and max_points[k] > 0 else None
        rest = [totals[i] - x for i, x in seen]
        r = correlation(xs, rest)
        d = None
        if len(seen) >= 2 and max_points[k] > 0:
            upper = group_weights(totals, share, top=True)
            lower = group_weights(totals, share, top=False)
            size = share * len(seen)
            mean_upper = sum(upper[i] * x for i, x in seen) / size
            mean_lower = sum(lower[i] * x for i, x in seen) / size
            d = (mean_upper - mean_lower) / max_points[k]
        out.append({"n": len(seen), "p": p, "r": r, "d": d})
    return out


def option_stats(
    rows: Matrix,
    chosen: Sequence[Sequence[Sequence[bool]]],
    groups: Sequence[object],
    k: int,
    o: int,
    share: float = 0.27,
) -> dict[str, float | None]:
    """Share choosing option o of item k, overall and in each group, and its option–rest r."""
    seen = _column(rows, k)
    totals = criterion(rows, groups, k)
    picks = [1.0 if chosen[i][k][o] else 0.0 for i, _x in seen]
    upper = group_weights(totals, share, top=True)
    lower = group_weights(totals, share, top=False)
    size = share * len(seen)
    return {
        "share": sum(picks) / len(seen),
        "upper": sum(upper[i] * c for (i, _x), c in zip(seen, picks, strict=True)) / size,
        "lower": sum(lower[i] * c for (i, _x), c in zip(seen, picks, strict=True)) / size,
        "rest_r": correlation(picks, [totals[i] - x for i, x in seen]),
    }


def cronbach(rows: Matrix) -> float:
    """The textbook formula on complete data: k/(k − 1) · (1 − Σ var(item) / var(total))."""
    k = len(rows[0])
    items = sum(statistics.variance([row[j] for row in rows]) for j in range(k))  # type: ignore[misc]
    total = statistics.variance([sum(row) for row in rows])  # type: ignore[arg-type]
    return k / (k - 1) * (1 - items / total)


def pairwise_alpha(rows: Matrix) -> float | None:
    """L · c̄ / (v̄ + (L − 1) c̄) from pairwise (co)variances; L = mean items per person."""
    k = len(rows[0])
    people = [row for row in rows if any(v is not None for v in row)]
    length = statistics.mean(sum(v is not None for v in row) for row in people)
    variances, covariances = [], []
    for i in range(k):
        xi = [row[i] for row in people if row[i] is not None]
        if len(xi) >= 2:
            variances.append(statistics.variance(xi))  # type: ignore[arg-type]
        for j in range(k):
            both = [(row[i], row[j]) for row in people if row[i] is not None and row[j] is not None]
            if i != j and len(both) >= 2:
                covariances.append(
                    statistics.covariance([a for a, _ in both], [b for _, b in both])  # type: ignore[misc]
                )
    v, c = statistics.mean(variances), statistics.mean(covariances)
    return length * c / (v + (length - 1) * c)


def percentile_rank(values: Sequence[float], x: float) -> float:
    below = sum(1 for v in values if v < x)
    equal = sum(1 for v in values if v == x)
    return 100 * (below + 0.5 * equal) / len(values)


def z_scores(values: Sequence[float]) -> list[float]:
    mean, sd = statistics.mean(values), statistics.stdev(values)
    return [(v - mean) / sd for v in values]

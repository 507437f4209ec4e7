"""Classical item analysis (pure, vectorised over persons, items and options).

Per item: difficulty p = mean / max, the corrected item–total (item–rest) correlation r, the
upper–lower 27 % discrimination index D and, for option items, how often each option was chosen
overall and in the upper and lower groups with its option–rest correlation. Flags for items with
p < 0.2, p > 0.9, r < 0 or D < 0.

Each item is judged against a **criterion**: the person's total over the presented items of the
item's group (a section of the battery; the whole test when no groups are given). Statistics of
an item use only the persons it was presented to (NaN in ``scores``). Rules in
``docs/psychometrics.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cbt_server.analytics.standard_scores import DECIMALS, tie_counts

GROUP_SHARE = 0.27
P_LOW = 0.2
P_HIGH = 0.9
#: a distractor "works" when at least this share of persons chose it and its option–rest r < 0
WORKING_DISTRACTOR_SHARE = 0.05
#: fewer persons than this: no r, D or option correlations
MIN_PERSONS = 2
#: cut points are compared with this slack, so rounding noise never flags a value on the cut
TOLERANCE = 1e-9

FLAG_P_LOW = "p_low"
FLAG_P_HIGH = "p_high"
FLAG_NEGATIVE_R = "negative_r"
FLAG_NEGATIVE_D = "negative_d"

#: Ebel's bands for D: lower bound → category (Ebel & Frisbie 1991)
D_CATEGORIES = ((0.40, "very_good"), (0.30, "good"), (0.20, "revise"), (-np.inf, "discard"))


@dataclass(frozen=True)
class OptionStatistics:
    """Per item and option (K, O); options past an item's own count are never chosen (0, NaN)."""

    share: np.ndarray  # chose it / presented
    upper: np.ndarray  # share in the upper 27 %
    lower: np.ndarray  # share in the lower 27 %
    rest_r: np.ndarray  # corr(chose it, criterion − item score)
    #: 1.0 when a distractor (un-keyed option of a keyed item) works: chosen by ≥ 5 % with
    #: rest_r < 0; 0.0 when it does not; NaN when not judged (keyed options, items without a
    #: key, r undefined); None when no keys were given
    working: np.ndarray | None


@dataclass(frozen=True)
class ItemStatistics:
    """Per item (K,); NaN where a statistic is undefined (see ``item_statistics``)."""

    n: np.ndarray  # persons the item was presented to
    mean: np.ndarray
    p: np.ndarray
    r: np.ndarray  # corrected item–total: corr(x, criterion − x)
    d: np.ndarray  # (mean upper − mean lower) / max
    flags: list[tuple[str, ...]]
    options: OptionStatistics | None


def criterion_totals(
    scores: np.ndarray, groups: Sequence[object] | np.ndarray | None = None
) -> np.ndarray:
    """(N, K): each person's total over the presented items of item k's group; NaN where item
    k was not presented to the person. ``groups`` gives a group label per item (None: one)."""
    scores = np.asarray(scores, dtype=float)
    k = scores.shape[1]
    group = np.zeros(k, dtype=np.int64) if groups is None else np.asarray(groups)
    _, index = np.unique(group, return_inverse=True)
    index = index.reshape(-1)
    membership = np.zeros((k, int(index.max(initial=-1)) + 1))
    membership[np.arange(k), index] = 1.0
    totals = np.nan_to_num(scores) @ membership  # (N, groups)
    return np.where(np.isnan(scores), np.nan, np.round(totals[:, index], DECIMALS))


def upper_lower_weights(
    criterion: np.ndarray, share: float = GROUP_SHARE
) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) membership weights (N, K) in the top and bottom ``share`` of each column.

    Each group holds exactly ``share · n`` persons' worth of weight, n being the persons with a
    value in the column. Persons tied at a cut share the places left at it equally (weight =
    places / tied persons), so the groups do not depend on the order of the rows.
    """
    below, equal, n = tie_counts(criterion)
    present = ~np.isnan(criterion)
    size = share * n
    above = n - below - equal
    with np.errstate(invalid="ignore", divide="ignore"):
        upper = np.clip(np.minimum(above + equal, size) - above, 0, None) / equal
        lower = np.clip(np.minimum(below + equal, size) - below, 0, None) / equal
    return np.where(present, upper, 0.0), np.where(present, lower, 0.0)


def _correlation(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pearson r over axis 0 where ``mask``; NaN when either side is constant or n < 2."""
    n = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = np.where(mask, x - np.where(mask, x, 0.0).sum(axis=0) / n, 0.0)
        dy = np.where(mask, y - np.where(mask, y, 0.0).sum(axis=0) / n, 0.0)
        r = (dx * dy).sum(axis=0) / np.sqrt((dx * dx).sum(axis=0) * (dy * dy).sum(axis=0))
    varies = _varies(x, mask) & _varies(y, mask) & (n >= MIN_PERSONS)
    return np.where(varies, np.clip(r, -1.0, 1.0), np.nan)


def _varies(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    rounded = np.round(values, DECIMALS)
    high = np.where(mask, rounded, -np.inf).max(axis=0)
    low = np.where(mask, rounded, np.inf).min(axis=0)
    return high > low


def item_statistics(
    scores: np.ndarray,
    max_points: np.ndarray,
    groups: Sequence[object] | np.ndarray | None = None,
    chosen: np.ndarray | None = None,
    keyed: np.ndarray | None = None,
) -> ItemStatistics:
    """p, corrected r, D and flags per item; option statistics when ``chosen`` is given.

    ``scores`` (N, K) item scores, NaN = not presented; ``max_points`` (K,); ``groups`` a group
    label per item, e.g. its section (the criterion is the group's total; None: the whole test);
    ``chosen`` (N, K, O) bool, person chose option o of item k; ``keyed`` (K, O) bool, the keyed
    options of keyed items (all False for items without a key, e.g. weighted or Likert).

    Undefined values are NaN: p when max is 0 or nobody saw the item; r when the item or its
    rest score does not vary or fewer than two persons saw it; D with fewer than two persons.
    """
    scores = np.asarray(scores, dtype=float)
    max_points = np.asarray(max_points, dtype=float)
    seen = ~np.isnan(scores)
    n = seen.sum(axis=0)
    criterion = criterion_totals(scores, groups)
    rest = criterion - scores
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(seen, scores, 0.0).sum(axis=0) / n
        p = np.where(max_points > 0, mean / max_points, np.nan)
    r = _correlation(scores, rest, seen)
    upper, lower = upper_lower_weights(criterion)
    size = GROUP_SHARE * n
    spread = ((upper - lower) * np.nan_to_num(scores)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where((n >= MIN_PERSONS) & (max_points > 0), spread / size / max_points, np.nan)
    options = None
    if chosen is not None:
        options = _options(np.asarray(chosen, dtype=bool), seen, rest, upper, lower, keyed)
    return ItemStatistics(n, mean, p, r, d, item_flags(p, r, d), options)


def _options(
    chosen: np.ndarray,
    seen: np.ndarray,
    rest: np.ndarray,
    upper: np.ndarray,
    lower: np.ndarray,
    keyed: np.ndarray | None,
) -> OptionStatistics:
    picked = chosen & seen[:, :, None]
    n = seen.sum(axis=0)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = picked.sum(axis=0) / n
        upper_share = np.einsum("nk,nko->ko", upper, picked) / upper.sum(axis=0)[:, None]
        lower_share = np.einsum("nk,nko->ko", lower, picked) / lower.sum(axis=0)[:, None]
    rest_r = _correlation(
        picked.astype(float), np.broadcast_to(rest[:, :, None], picked.shape), seen[:, :, None]
    )
    working = None
    if keyed is not None:
        keyed = np.asarray(keyed, dtype=bool)
        judged = keyed.any(axis=1, keepdims=True) & ~keyed
        with np.errstate(invalid="ignore"):
            popular = share >= WORKING_DISTRACTOR_SHARE - TOLERANCE
            works = popular & (rest_r < -TOLERANCE)
        # Chosen by too few it fails whatever its r; chosen enough, it needs a defined r.
        unknown = ~judged | (popular & np.isnan(rest_r))
        working = np.where(unknown, np.nan, works.astype(float))
    return OptionStatistics(share, upper_share, lower_share, rest_r, working)


def item_flags(p: np.ndarray, r: np.ndarray, d: np.ndarray) -> list[tuple[str, ...]]:
    """Per item, its flags: p < 0.2, p > 0.9, r < 0, D < 0 (NaN values raise no flag)."""
    with np.errstate(invalid="ignore"):
        marks = [
            (FLAG_P_LOW, np.asarray(p) < P_LOW - TOLERANCE),
            (FLAG_P_HIGH, np.asarray(p) > P_HIGH + TOLERANCE),
            (FLAG_NEGATIVE_R, np.asarray(r) < -TOLERANCE),
            (FLAG_NEGATIVE_D, np.asarray(d) < -TOLERANCE),
        ]
    return [tuple(flag for flag, hit in marks if hit[i]) for i in range(len(np.asarray(p)))]


def d_category(d: float | None) -> str | None:
    """Ebel's band of a D value: very_good ≥ .40, good ≥ .30, revise ≥ .20, else discard."""
    if d is None or not np.isfinite(d):
        return None
    for bound, label in D_CATEGORIES:
        if d >= bound - TOLERANCE:
            return label
    return None

"""Internal consistency of a set of items: Cronbach's alpha (KR-20 for 0/1 items) and SEM (pure).

    α = L · c̄ / (v̄ + (L − 1) · c̄)

with v̄ the mean item variance, c̄ the mean covariance of distinct item pairs and L the number of
items a person answers. When everyone answered every item (L = k) this is exactly Cronbach's
k/(k − 1) · (1 − Σ σᵢ² / σ_T²), since σ_T² = k v̄ + k (k − 1) c̄. When items were drawn at random
from a larger pool, each variance is taken over the persons who saw the item and each
covariance over the persons who saw both (pairwise), and L is the mean number of the group's
items per person: the reliability of a form of the length people actually took.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cbt_server.analytics.standard_scores import DDOF, as_columns

ALPHA = "alpha"
KR20 = "KR-20"


@dataclass(frozen=True)
class Reliability:
    """Alpha of one group of items, with the distribution of its totals."""

    #: KR-20 when every item is scored 0/1, else alpha (the same formula)
    coefficient: str
    #: items in the group (the pool)
    k: int
    #: mean number of the group's items per person (= k when everyone saw every item)
    length: float
    #: persons who saw at least one item of the group
    n: int
    #: every one of the n persons saw every one of the k items
    complete: bool
    mean: float | None
    sd: float | None
    alpha: float | None
    #: s_T · √(1 − α); None when α is undefined or outside 0..1
    sem: float | None


def reliability(scores: np.ndarray) -> Reliability:
    """Alpha, SEM, mean and SD (ddof 1) of the totals of the items in ``scores`` ((N, k), NaN = not
    presented). Persons who saw none of the items are left out.

    Alpha is None with fewer than two items per person, no pair of items seen together by two
    persons, or no variance at all (v̄ + (L − 1) c̄ ≤ 0). It is reported as computed, negative
    values included: a negative alpha says the items do not hang together (it then has no SEM).
    """
    scores = as_columns(scores)
    seen = ~np.isnan(scores)
    persons = seen.any(axis=1)
    scores, seen = scores[persons], seen[persons]
    n, k = scores.shape
    values = scores[seen]
    coefficient = KR20 if values.size and np.isin(values, (0.0, 1.0)).all() else ALPHA
    counts = seen.sum(axis=1)
    length = float(counts.mean()) if n else 0.0
    totals = np.where(seen, scores, 0.0).sum(axis=1)
    mean = float(totals.mean()) if n else None
    sd = float(np.std(totals, ddof=DDOF)) if n > DDOF else None
    alpha = _alpha(scores, seen, length)
    sem = None
    # A negative alpha would make the SEM exceed the SD itself: no error band is honest then.
    if alpha is not None and sd is not None and 0.0 <= alpha <= 1.0:
        sem = sd * float(np.sqrt(1.0 - alpha))
    complete = bool(n and seen.all())
    return Reliability(coefficient, k, length, n, complete, mean, sd, alpha, sem)


def _alpha(scores: np.ndarray, seen: np.ndarray, length: float) -> float | None:
    if length <= 1.0 or scores.shape[1] < 2:
        return None
    mask = seen.astype(float)
    # Centring each item on its own mean leaves every (co)variance unchanged and keeps the
    # one-pass sums below small, so they lose no precision.
    with np.errstate(invalid="ignore"):
        centre = np.nanmean(np.where(seen, scores, np.nan), axis=0)
    x = np.where(seen, scores - centre, 0.0)
    pairs = mask.T @ mask  # persons who saw both items
    sums = x.T @ mask  # [i, j]: Σ xᵢ over persons who saw i and j
    products = x.T @ x
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = (products - sums * sums.T / pairs) / (pairs - DDOF)
    usable = pairs > DDOF
    diagonal = np.diag(usable)
    off = usable & ~np.eye(len(pairs), dtype=bool)
    if not diagonal.any() or not off.any():
        return None
    v = float(np.diag(cov)[diagonal].mean())
    c = float(cov[off].mean())
    denominator = v + (length - 1.0) * c
    if not denominator > 1e-12 * max(v, 1.0):
        return None
    return length * c / denominator

"""A level with its error, and whether a score measures anything at all (pure).

A competency's level rests on a handful of items, so the level read off the percentage is an
estimate. Two questions are answered for every competency score (and the whole test's):

* **The band.** The percentage of the maximum is a proportion over the items presented; its
  Wilson score interval at ±:data:`BAND_Z` standard errors (a 68 % band) is turned into levels by
  the same cuts. A band that spans a cut is an **uncertain** level, shown "2–3". Before the
  bank is calibrated the band is **provisional**: it treats the items as equally informative
  (docs/psychometrics.md, "Levels with their error").
* **The chance check.** Would random responding on the same items reach the score often
  (P ≥ α, the exact distribution of :mod:`cbt_server.analytics.quality`)? Then the score is
  **not measured**: "at chance", "blank" or "nearly blank", never a level 1 that counts toward
  the JPM. Inventories (Likert items) have no right answer to guess: their validity comes from
  the careless-responding and lie-scale checks instead, so the check reads only the other items
  of a group (none left: no check).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cbt_server.analytics.irt import wle
from cbt_server.analytics.quality import CHANCE_ALPHA, chance_level, form_distribution
from cbt_server.scoring.items import KeyedItem
from cbt_server.scoring.levels import to_levels

#: the band is the score ± one standard error: the true level lies in it about two times in three
BAND_Z = 1.0

#: what a stored score's ``quality`` may say (None: measured)
BLANK = "blank"
NEARLY_BLANK = "nearly_blank"
AT_CHANCE = "at_chance"
BELOW_CHANCE = "below_chance"
QUALITIES = (BLANK, NEARLY_BLANK, AT_CHANCE, BELOW_CHANCE)
#: how the score sheet and the pages name them (Indonesian, like the profile's statuses)
QUALITY_LABELS = {
    BLANK: "kosong",
    NEARLY_BLANK: "hampir kosong",
    AT_CHANCE: "setara menebak",
    BELOW_CHANCE: "di bawah tebakan",
}


def band_text(low: int | None, high: int | None) -> str:
    """A band as the sheet writes it: "2–3", or "" when it is one level (or unknown)."""
    return f"{low}–{high}" if low is not None and high is not None and low != high else ""


@dataclass(frozen=True)
class Band:
    percent_low: float
    percent_high: float
    level_low: int
    level_high: int

    @property
    def uncertain(self) -> bool:
        return self.level_low != self.level_high


@dataclass(frozen=True)
class Judged:
    """One group's score judged: its band and, when it does not measure, why."""

    band: Band | None
    #: None: measured; else one of :data:`QUALITIES`
    quality: str | None
    #: P(random responding reaches the score); None where the check does not apply
    chance_p: float | None


def wilson(proportion: float, n: int, z: float = BAND_Z) -> tuple[float, float]:
    """The Wilson score interval of a proportion over ``n`` trials (never outside 0..1, and not
    empty at 0 or 1, unlike proportion ± z·SE)."""
    if n <= 0:
        return 0.0, 1.0
    p = min(1.0, max(0.0, proportion))
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def band(percent: float, n_items: int, cuts: Sequence[float], z: float = BAND_Z) -> Band:
    """The levels a percentage over ``n_items`` may stand for, at ±``z`` standard errors."""
    low, high = wilson(percent / 100.0, n_items, z)
    levels = to_levels(np.array([100.0 * low, 100.0 * high]), cuts)
    return Band(100.0 * low, 100.0 * high, int(levels[0]), int(levels[1]))


def judge(
    items: Sequence[KeyedItem],
    scores: Sequence[float],
    answered: Sequence[bool],
    cuts: Sequence[float] | None,
    alpha: float = CHANCE_ALPHA,
) -> Judged:
    """Band and chance check for one group of presented items (a competency, or the test).

    ``scores`` are the items' scores and ``answered`` whether each was answered; ``cuts`` the
    group's four cut points (None for a group without levels, e.g. the total)."""
    if not items:
        return Judged(None, None, None)
    total = float(np.nansum(np.asarray(scores, dtype=np.float64)))
    maximum = float(sum(item.max_score for item in items))
    measured_band = None
    if cuts is not None and maximum > 0:
        measured_band = band(100.0 * total / maximum, len(items), cuts)
    # Likert items have no right answer to guess: the check reads the others (a whole test
    # that mixes both is judged on its keyed part); none left, no check.
    keyed = [n for n, item in enumerate(items) if item.type != "likert"]
    if not keyed:
        return Judged(measured_band, None, None)
    check = chance_level(
        float(np.nansum([scores[n] for n in keyed])),
        form_distribution(items[n] for n in keyed),
        len(keyed),
        sum(1 for n in keyed if answered[n]),
        alpha,
    )
    return Judged(measured_band, check.reason, check.p_value)


# ---- on a calibrated scale ---------------------------------------------------------------------


@dataclass(frozen=True)
class ThetaLevel:
    """A level read off a calibrated (Rasch) scale: the ability, its error, the level and band."""

    theta: float
    se: float
    level: int
    band: Band
    #: the four cuts carried onto the ability scale
    theta_cuts: tuple[float, ...]


def expected_percent(theta: float, difficulties: np.ndarray) -> float:
    """The Rasch expected percent correct over items of these difficulties at ``theta``."""
    return float(100.0 * np.mean(1.0 / (1.0 + np.exp(difficulties - theta))))


def theta_at_percent(
    percent: float, difficulties: np.ndarray, low: float = -10, high: float = 10
) -> float:
    """The ability whose expected percent over ``difficulties`` is ``percent`` (bisection on the
    test characteristic curve, which rises with theta): a percentage cut carried onto the scale."""
    for _ in range(60):
        middle = (low + high) / 2
        if expected_percent(middle, difficulties) < percent:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def theta_level(
    scores: Sequence[float],
    difficulties: Sequence[float],
    pool_difficulties: Sequence[float],
    cuts: Sequence[float],
    z: float = BAND_Z,
) -> ThetaLevel:
    """The level of 0/1 ``scores`` on items of known Rasch ``difficulties``: Warm's weighted
    likelihood estimate of the ability with its standard error — nearly unbiased and finite for
    all-right and all-wrong patterns, and unlike an EAP not pulled toward the population by how
    few items a person saw — against the percentage ``cuts`` carried onto the scale through the
    competency's item pool (``pool_difficulties``: every calibrated item the battery may draw
    for it), and the levels of ability ± ``z`` standard errors."""
    x = np.asarray(scores, dtype=np.float64)[np.newaxis, :]
    estimate, error = wle(x, 1.0, np.asarray(difficulties, dtype=np.float64))
    theta, se = float(estimate[0]), float(error[0])
    pool = np.asarray(pool_difficulties, dtype=np.float64)
    edges = tuple(theta_at_percent(float(c), pool) for c in cuts)

    def level(value: float) -> int:
        return 1 + sum(value >= edge for edge in edges)

    band = Band(
        expected_percent(theta - z * se, pool),
        expected_percent(theta + z * se, pool),
        level(theta - z * se),
        level(theta + z * se),
    )
    return ThetaLevel(theta, se, level(theta), band, edges)

"""Psychometrics (pure): classical item analysis, reliability and standard scores.

Plain numpy arrays in, plain dataclasses of arrays out; no Flask, no database. The formulas and
the rules for missing items, ties and zero variance are in ``docs/psychometrics.md``.
"""

from cbt_server.analytics.item_analysis import (
    D_CATEGORIES,
    FLAG_NEGATIVE_D,
    FLAG_NEGATIVE_R,
    FLAG_P_HIGH,
    FLAG_P_LOW,
    GROUP_SHARE,
    MIN_PERSONS,
    P_HIGH,
    P_LOW,
    WORKING_DISTRACTOR_SHARE,
    ItemStatistics,
    OptionStatistics,
    criterion_totals,
    d_category,
    item_flags,
    item_statistics,
    upper_lower_weights,
)
from cbt_server.analytics.reliability import Reliability, reliability
from cbt_server.analytics.standard_scores import (
    StandardScores,
    percentile_ranks,
    standard_scores,
    stanines,
    tie_counts,
)

__all__ = [
    "D_CATEGORIES",
    "FLAG_NEGATIVE_D",
    "FLAG_NEGATIVE_R",
    "FLAG_P_HIGH",
    "FLAG_P_LOW",
    "GROUP_SHARE",
    "MIN_PERSONS",
    "P_HIGH",
    "P_LOW",
    "WORKING_DISTRACTOR_SHARE",
    "ItemStatistics",
    "OptionStatistics",
    "Reliability",
    "StandardScores",
    "criterion_totals",
    "d_category",
    "item_flags",
    "item_statistics",
    "percentile_ranks",
    "reliability",
    "standard_scores",
    "stanines",
    "tie_counts",
    "upper_lower_weights",
]

"""Keyed items, answer normalisation and the per-item reference scorer.

``score_item`` is deliberately plain Python: it is the oracle the vectorised engine is tested
against, and it scores a single save without building arrays. The rules are those of
``docs/question-banks.md``:

* ``single`` / ``truefalse``: ``points`` if exactly the keyed option is chosen, else 0;
* ``multiple``: ``points × max(0, C − W) / K`` (K keyed, C keyed chosen, W un-keyed chosen);
* ``weighted``: the chosen option's weight (the item's maximum is its largest weight);
* ``likert``: the point chosen, 1..k, or ``(1 + k) − x`` when the item is reverse-keyed;
* ``short``: ``points`` if the normalised answer equals a normalised accepted answer.

A blank answer scores 0. An answer of the right Python shape but impossible for the item (an
option index outside the item's options, several options on a one-choice item, a likert point
outside 1..k) is *invalid* and also scores 0; its maximum still counts, exactly as for a blank.
An answer of the wrong Python shape (text for an option item, a bool, a float) is a programming
error and raises ``TypeError``.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

ITEM_TYPES = ("single", "multiple", "truefalse", "weighted", "likert", "short")
#: types answered by choosing options (responses are collections of canonical option indices)
OPTION_TYPES = frozenset({"single", "multiple", "truefalse", "weighted"})
#: option types on which exactly one option may be chosen
ONE_CHOICE_TYPES = frozenset({"single", "truefalse", "weighted"})
#: the engine's limit; bank files allow 2..8 options, true/false items have exactly 2
MAX_OPTIONS = 16
LIKERT_POINTS_RANGE = (2, 11)
#: canonical option indices of a true/false item
TRUE, FALSE = 0, 1


class Presence(Enum):
    """Marks an item that was not part of an attempt (it neither scores nor adds to a maximum)."""

    NOT_PRESENTED = "not presented"

    def __repr__(self) -> str:
        return "NOT_PRESENTED"


NOT_PRESENTED = Presence.NOT_PRESENTED


@dataclass(frozen=True)
class KeyedItem:
    """The scoring view of one item version, its options in canonical (file) order.

    Only the fields of the item's type are read: ``n_options`` and ``key`` for option items
    (``weights`` instead of ``key`` for ``weighted``), ``likert_points`` and ``reverse`` for
    ``likert``, ``accept`` for ``short``; ``points`` for every type except ``weighted`` and
    ``likert``, whose maximum comes from the weights or the scale. Other fields are ignored (the
    bank validator refuses them in files). A true/false item has two options: index 0 = true
    (*Benar*), 1 = false (*Salah*).
    """

    type: str
    points: float = 1.0
    n_options: int = 0
    key: tuple[int, ...] = ()
    weights: tuple[float, ...] | None = None
    reverse: bool = False
    likert_points: int | None = None
    accept: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in ITEM_TYPES:
            raise ValueError(f"item type {self.type!r} is not one of {', '.join(ITEM_TYPES)}")
        if not (math.isfinite(self.points) and self.points >= 0):
            raise ValueError(f"{self.type} item: points must be a finite number ≥ 0")
        if self.type in OPTION_TYPES:
            self._check_options()
        elif self.type == "likert":
            low, high = LIKERT_POINTS_RANGE
            k = self.likert_points
            if not _is_int(k) or not low <= k <= high:
                raise ValueError(f"likert item: likert_points must be {low}..{high}, got {k!r}")
        elif not self.accept or not all(
            isinstance(a, str) and normalise_answer(a) for a in self.accept
        ):
            raise ValueError("short item: accept needs at least one non-blank answer")

    def _check_options(self) -> None:
        n = self.n_options
        if self.type == "truefalse" and n != 2:
            raise ValueError(f"truefalse item: n_options must be 2 (Benar, Salah), got {n!r}")
        if not _is_int(n) or not 2 <= n <= MAX_OPTIONS:
            raise ValueError(f"{self.type} item: n_options must be 2..{MAX_OPTIONS}, got {n!r}")
        if self.type == "weighted":
            weights = self.weights
            if weights is None or len(weights) != n:
                raise ValueError(f"weighted item: needs one weight per option ({n})")
            if not all(math.isfinite(w) and w >= 0 for w in weights):
                raise ValueError("weighted item: every weight must be a finite number ≥ 0")
            return
        key = self.key
        if not all(_is_int(i) and 0 <= i < n for i in key) or len(set(key)) != len(key):
            raise ValueError(f"{self.type} item: key {key!r} must be distinct indices 0..{n - 1}")
        if self.type == "multiple" and not key:
            raise ValueError("multiple item: key needs at least one option")
        if self.type != "multiple" and len(key) != 1:
            raise ValueError(f"{self.type} item: key must be exactly one option, got {key!r}")

    @property
    def max_score(self) -> float:
        """The most this item can earn: its points, its largest weight, or k for likert."""
        if self.type == "weighted":
            return float(max(self.weights or (0.0,)))
        if self.type == "likert":
            return float(self.likert_points or 0)
        return float(self.points)


def normalise_answer(text: str) -> str:
    """Casefold, trim, and collapse every run of white space to one space. Nothing else."""
    return " ".join(text.casefold().split())


def score_item(item: KeyedItem, response: Any) -> float:
    """Score one response with the plain reference rules (NaN when ``NOT_PRESENTED``).

    ``response`` is ``None`` (blank), ``NOT_PRESENTED``, a collection of canonical option indices
    (option items), an int 1..k as clicked (likert) or a str (short).
    """
    if response is NOT_PRESENTED:
        return math.nan
    if response is None:
        return 0.0
    if item.type in OPTION_TYPES:
        return _score_options(item, option_indices(response))
    if item.type == "likert":
        x = likert_point(response)
        k = item.likert_points or 0
        if not 1 <= x <= k:
            return 0.0
        return float(1 + k - x) if item.reverse else float(x)
    answer = short_text(response)
    accepted = {normalise_answer(a) for a in item.accept}
    given = normalise_answer(answer)
    return float(item.points) if given and given in accepted else 0.0


def _score_options(item: KeyedItem, chosen: frozenset[int]) -> float:
    if not chosen or not all(0 <= i < item.n_options for i in chosen):
        return 0.0
    if item.type in ONE_CHOICE_TYPES and len(chosen) != 1:
        return 0.0
    if item.type == "weighted":
        (index,) = chosen
        return float((item.weights or ())[index])
    key = frozenset(item.key)
    if item.type == "multiple":
        right, wrong = len(chosen & key), len(chosen - key)
        return float(item.points) * max(0, right - wrong) / len(key)
    return float(item.points) if chosen == key else 0.0


def option_indices(response: Any) -> frozenset[int]:
    """The chosen indices of an option response; ``TypeError`` if it is not a collection of ints."""
    if isinstance(response, str | bytes) or not isinstance(response, Collection):
        raise TypeError(f"an option response is a collection of indices, got {response!r}")
    if not all(_is_int(i) for i in response):
        raise TypeError(f"option indices must be ints, got {response!r}")
    return frozenset(int(i) for i in response)


def likert_point(response: Any) -> int:
    """The point of a likert response; ``TypeError`` unless it is an int (not a bool)."""
    if not _is_int(response):
        raise TypeError(f"a likert response is an int 1..k, got {response!r}")
    return int(response)


def short_text(response: Any) -> str:
    """The text of a short response; ``TypeError`` unless it is a str."""
    if not isinstance(response, str):
        raise TypeError(f"a short response is text, got {response!r}")
    return response


def _is_int(value: Any) -> bool:
    # numpy integers count; bools do not (True is not option 1)
    return isinstance(value, int | np.integer) and not isinstance(value, bool)

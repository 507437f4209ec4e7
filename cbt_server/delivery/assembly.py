"""Attempt assembly (pure): which items, in which order, with which option order.

Everything is drawn from one seeded generator, so the same seed and the same candidates always
give the same test; the result is frozen in the database at start, so a resume never re-draws.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Item types whose options may be shuffled (true/false and Likert keep their natural order).
SHUFFLABLE = frozenset({"single", "multiple", "weighted"})


@dataclass(frozen=True)
class Candidate:
    item_id: int
    item_code: str
    item_type: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Placed:
    section_index: int
    item_id: int
    option_order: tuple[str, ...]


class AssemblyError(ValueError):
    """The battery asks for more items than its bank version has (caught at import normally)."""


def assemble(
    sections: Sequence[Mapping],
    candidates: Mapping[tuple[int, int], Sequence[Candidate]],
    seed: int,
) -> list[Placed]:
    """Draw the attempt.

    ``candidates[(section_index, rule_index)]`` lists the items a rule may pick from. Candidates
    are sorted by item code first, so database order never changes the outcome.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible shuffles, not secrets
    placed: list[Placed] = []
    seen: set[int] = set()  # an item appears at most once in an attempt
    for s_index, section in enumerate(sections):
        chosen: list[Candidate] = []
        for r_index, rule in enumerate(section["rules"]):
            pool = sorted(
                (c for c in candidates.get((s_index, r_index), ()) if c.item_id not in seen),
                key=lambda c: c.item_code,
            )
            count = int(rule["count"])
            if count > len(pool):
                raise AssemblyError(
                    f"section {section['code']}: rule {r_index + 1} wants {count} items, "
                    f"{len(pool)} available"
                )
            picked = rng.sample(pool, count)
            if not section.get("shuffle_items"):
                picked.sort(key=lambda c: c.item_code)
            chosen.extend(picked)
            seen.update(c.item_id for c in picked)
        if section.get("shuffle_items"):
            rng.shuffle(chosen)
        for candidate in chosen:
            order = list(candidate.labels)
            if section.get("shuffle_options") and candidate.item_type in SHUFFLABLE:
                rng.shuffle(order)
            placed.append(Placed(s_index, candidate.item_id, tuple(order)))
    return placed

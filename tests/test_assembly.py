"""Attempt assembly: seeded, reproducible, within the rules."""

from __future__ import annotations

import pytest

from cbt_server.delivery.assembly import AssemblyError, Candidate, assemble

SECTIONS = [
    {
        "code": "S1",
        "shuffle_items": True,
        "shuffle_options": True,
        "rules": [{"count": 3}, {"count": 2}],
    },
    {"code": "S2", "shuffle_items": False, "shuffle_options": False, "rules": [{"count": 2}]},
]


def _pool(prefix: str, start: int, n: int, item_type: str = "single") -> list[Candidate]:
    return [
        Candidate(start + i, f"{prefix}-{i:03d}", item_type, ("A", "B", "C", "D")) for i in range(n)
    ]


CANDIDATES = {
    (0, 0): _pool("A", 0, 10),
    (0, 1): _pool("B", 100, 6, "truefalse"),
    (1, 0): _pool("C", 200, 5, "likert"),
}


def test_same_seed_same_test_and_different_seed_differs():
    first = assemble(SECTIONS, CANDIDATES, seed=42)
    assert first == assemble(SECTIONS, CANDIDATES, seed=42)
    assert first != assemble(SECTIONS, CANDIDATES, seed=43)


def test_counts_sections_and_no_duplicates():
    placed = assemble(SECTIONS, CANDIDATES, seed=7)
    assert [p.section_index for p in placed] == [0] * 5 + [1] * 2
    assert len({p.item_id for p in placed}) == 7
    assert sum(100 <= p.item_id < 200 for p in placed) == 2


def test_option_shuffle_only_where_allowed():
    orders = set()
    for seed in range(30):
        for p in assemble(SECTIONS, CANDIDATES, seed=seed):
            if p.item_id >= 100:  # true/false and likert, or a section without option shuffle
                assert p.option_order == ("A", "B", "C", "D")
            else:
                assert sorted(p.option_order) == ["A", "B", "C", "D"]
                orders.add(p.option_order)
    assert len(orders) > 1


def test_unshuffled_section_keeps_file_order():
    placed = assemble(SECTIONS, CANDIDATES, seed=3)
    s2 = [p.item_id for p in placed if p.section_index == 1]
    assert s2 == sorted(s2)


def test_candidate_order_does_not_matter():
    reversed_candidates = {k: list(reversed(v)) for k, v in CANDIDATES.items()}
    assert assemble(SECTIONS, CANDIDATES, 9) == assemble(SECTIONS, reversed_candidates, 9)


def test_too_few_candidates():
    with pytest.raises(AssemblyError, match="wants 2 items, 1 available"):
        assemble([{"code": "S", "rules": [{"count": 2}]}], {(0, 0): _pool("X", 0, 1)}, 1)

"""Benchmark of the scoring engine: grading and per-competency totals for a large session.

    python bench/bench_scoring.py [--attempts 10000] [--items 100] [--groups 10] [--repeats 20]

Builds a mixed set of items (every type), random response codes (about 10 % of items not
presented, 10 % blank, a few invalid), then times, with ``time.perf_counter``:

* ``grade`` + ``max_scores`` + ``aggregate`` per competency (the whole vectorised path);
* ``grade`` alone;
* ``encode_responses`` on the same answers as Python objects (the only Python loop).

It prints one line per figure (median and best of the repetitions, and attempts per second).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cbt_server.scoring import (  # noqa: E402
    NOT_PRESENTED,
    ItemTable,
    KeyedItem,
    aggregate,
    encode_responses,
    grade,
    max_scores,
)
from cbt_server.scoring.engine import TYPE_CODES  # noqa: E402

TYPES = ("single", "multiple", "truefalse", "weighted", "likert", "short")
ACCEPTED, WRONG = "DKI Jakarta", "Bandung"


def make_items(rng: np.random.Generator, n_items: int) -> list[KeyedItem]:
    """``n_items`` items cycling through every type, with random keys."""
    items = []
    for position in range(n_items):
        kind = TYPES[position % len(TYPES)]
        n = int(rng.integers(4, 6))
        if kind == "single":
            items.append(KeyedItem("single", n_options=n, key=(int(rng.integers(n)),)))
        elif kind == "multiple":
            key = rng.choice(n, size=2, replace=False)
            items.append(KeyedItem("multiple", n_options=n, key=tuple(int(i) for i in key)))
        elif kind == "truefalse":
            items.append(KeyedItem("truefalse", n_options=2, key=(int(rng.integers(2)),)))
        elif kind == "weighted":
            weights = tuple(float(w) for w in rng.permutation(n) + 1)
            items.append(KeyedItem("weighted", n_options=n, weights=weights))
        elif kind == "likert":
            items.append(KeyedItem("likert", likert_points=5, reverse=bool(position % 4 == 0)))
        else:
            items.append(KeyedItem("short", accept=(ACCEPTED, "Jakarta")))
    return items


def make_codes(rng: np.random.Generator, table: ItemTable, n_attempts: int) -> np.ndarray:
    """Random codes: answers of every kind, ~10 % not presented, ~10 % blank, ~1 % invalid."""
    shape = (n_attempts, table.n_items)
    n_options = np.where(table.valid_mask > 0, np.log2(table.valid_mask + 1), 1).astype(np.int64)
    one_choice = np.left_shift(1, rng.integers(0, n_options, size=shape))
    any_choice = rng.integers(1, np.maximum(table.valid_mask, 1) + 1, size=shape)
    likert = rng.integers(1, np.maximum(table.likert_k, 1) + 1, size=shape)
    short = rng.integers(1, 3, size=shape)
    codes = np.select(
        [table.type_code == TYPE_CODES["multiple"], table.valid_mask > 0, table.likert_k > 0],
        [any_choice, one_choice, likert],
        default=short,
    )
    roll = rng.random(shape)
    codes[roll < 0.21] = 7  # several bits / out of range / an impossible short code
    codes[roll < 0.20] = 0
    codes[roll < 0.10] = -1
    return codes.astype(np.int64)


def to_responses(items: list[KeyedItem], codes: np.ndarray) -> list[list[Any]]:
    """The Python answers the codes stand for, as ``encode_responses`` takes them."""
    rows = []
    for row in codes.tolist():
        answers: list[Any] = []
        for item, code in zip(items, row, strict=True):
            if code == -1:
                answers.append(NOT_PRESENTED)
            elif code == 0:
                answers.append(None)
            elif item.type == "likert":
                answers.append(code)
            elif item.type == "short":
                answers.append("  dki  JAKARTA " if code == 1 else WRONG)
            else:
                answers.append(frozenset(i for i in range(16) if code >> i & 1))
        rows.append(answers)
    return rows


def timed(function: Callable[[], Any], repeats: int) -> list[float]:
    function()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def report(label: str, times: list[float], n_attempts: int) -> None:
    median, best = statistics.median(times), min(times)
    print(
        f"{label:<44} median {median:8.4f} s   min {best:8.4f} s   "
        f"{n_attempts / median:>12,.0f} attempts/s (median)   n={len(times)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--encode-repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(2026)
    items = make_items(rng, args.items)
    table = ItemTable.build(items)
    codes = make_codes(rng, table, args.attempts)
    competency = rng.integers(0, args.groups, size=args.items)

    def grade_and_aggregate() -> None:
        scores, maxes = grade(table, codes), max_scores(table, codes)
        aggregate(scores, maxes, competency, args.groups)

    print(
        f"numpy {np.__version__}, {args.attempts:,} attempts × {args.items} items "
        f"(all 6 types), {args.groups} competencies"
    )
    report(
        "grade + max_scores + aggregate", timed(grade_and_aggregate, args.repeats), args.attempts
    )
    report("grade only", timed(lambda: grade(table, codes), args.repeats), args.attempts)

    responses = to_responses(items, codes)
    encoded = encode_responses(items, responses)
    if not np.array_equal(grade(table, encoded), grade(table, codes), equal_nan=True):
        raise SystemExit("encode_responses does not reproduce the benchmark's scores")
    report(
        "encode_responses (Python answers → codes)",
        timed(lambda: encode_responses(items, responses), args.encode_repeats),
        args.attempts,
    )


if __name__ == "__main__":
    main()

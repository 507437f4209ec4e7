"""IRT calibration of a 200-item bank from 5,000 attempts on random forms: Rasch and 2PL by
marginal maximum likelihood, and EAP + WLE abilities for every person (the maths alone).

    .venv-test/bin/python bench/bench_calibration.py [--people 5000] [--items 200]
        [--form-min 40] [--form-max 50] [--repeats 3] [--seed 2024]

Each person answers a random form of ``--form-min``..``--form-max`` items drawn from the bank;
the responses follow a 2PL with slopes around 1 (lognormal, SD 0.25 on the log scale), so the
Rasch fit is close but not exact and the 2PL has something to find. Prints the machine, the
median and best of ``--repeats`` timed runs of each step, and how close the estimates came to
the generating values.
"""

from __future__ import annotations

import argparse
import os
import platform
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

from cbt_server.analytics.irt import abilities, calibrate_2pl, calibrate_rasch, item_fit  # noqa: E402


def timed(work: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """(median, best) seconds of ``repeats`` calls, and the last call's value."""
    runs, value = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        value = work()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), min(runs), value


def line(label: str, median: float, best: float, note: str = "") -> None:
    print(f"  {label:<34}{median:>10.3f}{best:>10.3f}  {note}")


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                model = row.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )


def simulate(
    people: int, items: int, form_min: int, form_max: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(scores with NaN for items not on the person's form, θ, slopes, difficulties)."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0.0, 1.0, items)
    slope = rng.lognormal(0.0, 0.25, items)
    theta = rng.normal(0.0, 1.0, people)
    p = 1.0 / (1.0 + np.exp(-slope * (theta[:, None] - difficulty[None, :])))
    scores = (rng.random((people, items)) < p).astype(float)
    length = rng.integers(form_min, form_max + 1, people)
    rank = np.argsort(np.argsort(rng.random((people, items)), axis=1), axis=1)
    return np.where(rank < length[:, None], scores, np.nan), theta, slope, difficulty


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--form-min", type=int, default=40)
    parser.add_argument("--form-max", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    scores, theta, slope, difficulty = simulate(
        args.people, args.items, args.form_min, args.form_max, args.seed
    )
    per_item = (~np.isnan(scores)).sum(axis=0)
    print(machine())
    print(
        f"{args.people} attempts × {args.items}-item bank, forms of {args.form_min}–"
        f"{args.form_max} items ({np.isnan(scores).mean():.0%} not presented; "
        f"{per_item.min()}–{per_item.max()} responses per item), {args.repeats} repeats"
    )
    print(f"  {'step':<34}{'median s':>10}{'best s':>10}  result")
    median, best, rasch = timed(lambda: calibrate_rasch(scores), args.repeats)
    line(
        "Rasch calibration (MML-EM + SEs)",
        median,
        best,
        f"{rasch.iterations} iterations, converged={rasch.converged}, σ={rasch.population_sd:.3f}",
    )
    median, best, two_pl = timed(lambda: calibrate_2pl(scores), args.repeats)
    line(
        "2PL calibration (MML-EM + SEs)",
        median,
        best,
        f"{two_pl.iterations} iterations, converged={two_pl.converged}",
    )
    median, best, _ = timed(lambda: abilities(scores, rasch), args.repeats)
    line("EAP + WLE of every person (Rasch)", median, best, f"{args.people} persons")
    median, best, persons = timed(lambda: abilities(scores, two_pl), args.repeats)
    line("EAP + WLE of every person (2PL)", median, best)
    median, best, fit = timed(lambda: item_fit(scores, rasch), args.repeats)
    line("infit / outfit (Rasch, WLE θ)", median, best)

    print("\nrecovery (estimate − generating value)")
    b_error = two_pl.difficulty - difficulty
    a_error = two_pl.discrimination - slope
    print(
        f"  2PL difficulty: RMS {np.sqrt(np.mean(b_error**2)):.3f}, "
        f"mean SE {np.mean(two_pl.difficulty_se):.3f}; "
        f"slope: RMS {np.sqrt(np.mean(a_error**2)):.3f}, "
        f"mean SE {np.mean(two_pl.discrimination_se):.3f}"
    )
    print(
        f"  Rasch vs 2PL difficulty correlation "
        f"{np.corrcoef(rasch.difficulty, two_pl.difficulty)[0, 1]:.3f}; "
        f"infit {np.nanmin(fit.infit):.2f}–{np.nanmax(fit.infit):.2f}, "
        f"outfit {np.nanmin(fit.outfit):.2f}–{np.nanmax(fit.outfit):.2f}"
    )
    for name, estimate, se in (
        ("EAP", persons.eap, persons.eap_se),
        ("WLE", persons.wle, persons.wle_se),
    ):
        print(
            f"  {name} (2PL): SD of error {np.std(estimate - theta):.3f}"
            f", mean reported SE {np.mean(se):.3f}"
        )


if __name__ == "__main__":
    main()

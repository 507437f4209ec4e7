"""The assessor's item analysis for 5,000 attempts × 100 items: the maths alone and the whole
service from a migrated database.

    .venv-test/bin/python bench/bench_item_analysis.py [--people 5000] [--items 100]
        [--repeats 20] [--service-repeats 5] [--sessions 10] [--databases sqlite]

1. **Pure**: generated matrices (``bench/item_analysis_data.py``: single, multiple, true/false,
   weighted and Likert items, ~3 % blank, ~5 % not presented) through ``item_statistics`` (with
   the option table), ``reliability`` per section and ``standard_scores`` of the total and the
   sections: median and best of ``--repeats``.
2. **Service**: a migrated database (SQLite file; ``postgresql`` uses ``CBT_BENCH_PG_URL`` like
   ``bench_monitor.py``) with the generated 100-item battery imported and ``--people`` finished
   attempts bulk-inserted in ``--sessions`` sessions (~95 stored responses each). Times
   ``item_matrix`` (the one query and the matrices), ``item_analysis`` (the whole report), and
   through the Flask test client as an assessor the page and the per-item CSV.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from bench_monitor import fresh_database, migrated_app  # noqa: E402
from generated_bank import write_bank_folder  # noqa: E402
from item_analysis_data import AT, matrices, seed_database  # noqa: E402

from cbt_server.analytics import item_statistics, reliability, standard_scores  # noqa: E402
from cbt_server.clock import ManualClock  # noqa: E402
from cbt_server.models import db  # noqa: E402


def timed(work: Callable[[], Any], repeats: int, warm_up: int = 1) -> tuple[float, float]:
    """(median, best) seconds of ``repeats`` calls after ``warm_up`` untimed ones."""
    for _ in range(warm_up):
        work()
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), min(runs)


def line(label: str, figures: tuple[float, float]) -> None:
    median, best = figures
    print(f"  {label:<52}{median:>10.3f}{best:>10.3f}")


def pure(people: int, items: int, repeats: int) -> None:
    scores, max_points, sections, chosen, keyed = matrices(people, items)
    missing = np.isnan(scores).mean()
    print(f"\npure: {people} × {items} items ({missing:.1%} not presented), {repeats} repeats")
    print(f"  {'step':<52}{'median s':>10}{'best s':>10}")

    def whole() -> None:
        item_statistics(scores, max_points, sections, chosen, keyed)
        for s in (0, 1):
            reliability(scores[:, sections == s])
        filled = np.nan_to_num(scores)
        totals = np.column_stack(
            [filled.sum(axis=1), *(filled[:, sections == s].sum(axis=1) for s in (0, 1))]
        )
        standard_scores(totals)

    line("whole analysis (items, options, alpha, standard scores)", timed(whole, repeats))
    line(
        "item_statistics without options",
        timed(lambda: item_statistics(scores, max_points, sections), repeats),
    )
    line(
        "item_statistics with options (5 per item)",
        timed(lambda: item_statistics(scores, max_points, sections, chosen, keyed), repeats),
    )
    line("reliability of all 100 items", timed(lambda: reliability(scores), repeats))
    line(
        "standard_scores of the totals",
        timed(lambda: standard_scores(np.nansum(scores, axis=1)), repeats),
    )


def service(kind: str, people: int, sessions: int, repeats: int) -> None:
    from cbt_server.accounts.service import create_user
    from cbt_server.assessment.item_analysis import item_analysis
    from cbt_server.assessment.item_matrix import item_matrix
    from tests.helpers import login

    with (
        tempfile.TemporaryDirectory(prefix="cbt-analysis-") as tmp,
        fresh_database(kind, Path(tmp)) as url,
    ):
        clock = ManualClock(AT - timedelta(days=40))
        app = migrated_app(url, Path(tmp), clock)
        write_bank_folder(Path(tmp) / "qb", items=100, images=0)
        result = app.test_cli_runner().invoke(args=["banks", "import", str(Path(tmp) / "qb")])
        if result.exit_code != 0:
            raise RuntimeError(result.output)
        clock.set(AT)
        with app.app_context():
            started = time.perf_counter()
            rows = seed_database(people, sessions)
            create_user("asesor-bench", "sandi-asesor", "assessor", "Asesor Bench")
            db.session.commit()
            print(
                f"\n{kind}: {people} finished attempts in {sessions} sessions, {rows} responses "
                f"(generated in {time.perf_counter() - started:.0f} s), {repeats} repeats"
            )
            print(f"  {'step':<52}{'median s':>10}{'best s':>10}")

        def in_context(work: Callable[[], Any]) -> Callable[[], Any]:
            def run() -> Any:
                with app.app_context():
                    value = work()
                    db.session.remove()
                    return value

            return run

        matrix = in_context(lambda: item_matrix("BAT-BENCH"))
        line("item_matrix (one query → matrices)", timed(matrix, repeats))
        report = in_context(lambda: item_analysis("BAT-BENCH"))
        line("item_analysis (the whole report)", timed(report, repeats))
        client = app.test_client()
        if login(client, "asesor-bench", "sandi-asesor").status_code != 302:
            raise RuntimeError("the assessor could not log in")
        page = "/assessor/batteries/BAT-BENCH/analysis"
        line("GET page (HTML)", timed(lambda: _get(client, page), repeats))
        line("GET analysis.csv (per item)", timed(lambda: _get(client, page + ".csv"), repeats))
        line(
            "GET standard-scores.csv",
            timed(
                lambda: _get(client, "/assessor/batteries/BAT-BENCH/standard-scores.csv"), repeats
            ),
        )
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _get(client: Any, path: str) -> int:
    response = client.get(path, buffered=True)
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code}")
    return len(response.get_data())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--items", type=int, default=100, help="items of the pure matrices")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs of the pure maths")
    parser.add_argument("--service-repeats", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--databases", default="sqlite", help="sqlite,postgresql or none")
    args = parser.parse_args(argv)
    pure(args.people, args.items, args.repeats)
    for kind in args.databases.split(","):
        if kind != "none":
            service(kind, args.people, args.sessions, args.service_repeats)


if __name__ == "__main__":
    main()

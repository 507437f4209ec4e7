"""A background sweep in each gunicorn worker: expired attempts are graded even if no PC asks.

Several workers may sweep at once; :func:`cbt_server.delivery.service.sweep` handles each attempt
under a row lock and a state check, so a second sweeper finds nothing left to do.
"""

from __future__ import annotations

import logging
import random
import threading

from flask import Flask

log = logging.getLogger(__name__)


def start_sweeper(app: Flask, interval: float | None = None) -> threading.Thread:
    interval = float(interval or app.config.get("CBT_SWEEP_SECONDS", 20))
    stop = threading.Event()

    def _run() -> None:
        from cbt_server.db import served_work
        from cbt_server.delivery.service import sweep
        from cbt_server.models import db

        # Spread workers out so they do not all sweep in the same instant.
        stop.wait(random.uniform(0, interval))  # noqa: S311
        while not stop.is_set():
            try:
                with app.app_context(), served_work():
                    closed = sweep()
                    db.session.remove()
                if closed:
                    log.info("sweeper closed %d expired attempt(s)", closed)
            except Exception:  # a sweep failure must never kill the worker
                log.exception("attempt sweep failed")
            stop.wait(interval)

    thread = threading.Thread(target=_run, name="cbt-sweeper", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread

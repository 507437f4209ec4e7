"""Background work in each gunicorn worker: the server's sign of life, and the sweep.

- Every :data:`~cbt_server.delivery.outage.STAMP_EVERY` the worker stamps the server clock; a
  worker also stamps once when it starts, before it serves (``gunicorn.conf.py``). A gap means
  the server was down, and the time is given back to the running attempts
  (:mod:`cbt_server.delivery.outage`).
- Every ``CBT_SWEEP_SECONDS`` expired attempts are graded even if no PC asks. Several workers
  may sweep at once; :func:`cbt_server.delivery.service.sweep` handles each attempt under a row
  lock and a state check, so a second sweeper finds nothing left to do. The expiry itself is
  the lifecycle's move (:func:`cbt_server.delivery.lifecycle.catch_up`), as on any request.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from flask import Flask

log = logging.getLogger(__name__)


def stamp_alive(app: Flask) -> None:
    """Prove the server is serving (and give back any outage before it). Never raises: a worker
    must start even when its database is briefly unavailable."""
    from cbt_server.db import served_work
    from cbt_server.delivery import outage
    from cbt_server.models import db

    try:
        with app.app_context(), served_work():
            outage.stamp()
            db.session.remove()
    except Exception:
        log.exception("could not stamp the server clock")


def every(name: str, seconds: float, step: Callable[[], None]) -> threading.Thread:
    """Run ``step`` every ``seconds`` (less up to 20 %, so workers drift apart) in a daemon
    thread of this worker, until its ``stop`` event is set. A failing step is logged: it must
    never kill the worker."""
    stop = threading.Event()

    def _run() -> None:
        while not stop.wait(seconds * random.uniform(0.8, 1.0)):  # noqa: S311
            try:
                step()
            except Exception:
                log.exception("%s failed", name)

    thread = threading.Thread(target=_run, name=name, daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread


def start_sweeper(app: Flask, interval: float | None = None) -> threading.Thread:
    from cbt_server.db import served_work
    from cbt_server.delivery.outage import STAMP_EVERY
    from cbt_server.delivery.service import sweep
    from cbt_server.models import db

    interval = float(interval or app.config.get("CBT_SWEEP_SECONDS", 20))
    # Spread workers out so they do not all sweep in the same instant.
    next_sweep = time.monotonic() + random.uniform(0, interval)  # noqa: S311

    def _step() -> None:
        nonlocal next_sweep
        stamp_alive(app)
        if time.monotonic() < next_sweep:
            return
        next_sweep = time.monotonic() + interval
        with app.app_context(), served_work():
            closed = sweep()
            db.session.remove()
        if closed:
            log.info("sweeper closed %d expired attempt(s)", closed)

    return every("cbt-sweeper", STAMP_EVERY.total_seconds(), _step)

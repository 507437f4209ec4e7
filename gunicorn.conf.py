"""gunicorn settings used by `python3 run.py serve` (override on the command line)."""

import gc

bind = "0.0.0.0:8000"
workers = 3
# A thread waiting for the database costs little; with more of them per worker, more saves share
# one commit on SQLite (cbt_server/delivery/commit_group.py). Measured in docs/benchmarks.md.
threads = 8
worker_class = "gthread"
accesslog = "-"
# Exam pages hold no long requests; a stuck worker is replaced.
timeout = 60


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """Before serving, each worker stamps the server clock (giving back the time of an outage
    before anything can expire), then runs the background stamp and sweep (safe in parallel)."""
    from cbt_server.backup.scheduler import start_scheduler
    from cbt_server.delivery.sweeper import stamp_alive, start_sweeper

    stamp_alive(worker.wsgi)
    start_sweeper(worker.wsgi)
    # The status page shows how many workers gunicorn was told to run (/admin/status).
    worker.wsgi.config["CBT_GUNICORN_WORKERS"] = worker.cfg.workers
    # Scheduled backups (CBT_BACKUP_SCHEDULER): one worker at a time takes them, by a file lock.
    start_scheduler(worker.wsgi)
    # What is loaded by now (the app, its modules, SQLAlchemy's metadata) lives as long as the
    # worker: frozen out of the cyclic collector's sight, a full collection in the middle of a
    # request no longer walks it (the p99 tails in docs/benchmarks.md).
    gc.collect()
    gc.freeze()

"""gunicorn settings used by `python3 run.py serve` (override on the command line)."""

bind = "0.0.0.0:8000"
workers = 3
threads = 4
worker_class = "gthread"
accesslog = "-"
# Exam pages hold no long requests; a stuck worker is replaced.
timeout = 60


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """Each worker runs the background sweep of expired attempts (safe in parallel)."""
    from cbt_server.delivery.sweeper import start_sweeper

    start_sweeper(worker.wsgi)

"""gunicorn settings for bench/ceiling_app.py: the repository's gunicorn.conf.py (workers,
threads, worker class, timeout, access log) without its hooks (the app's sweeper)."""

import runpy
from pathlib import Path

_repo_settings = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
globals().update(
    {
        name: value
        for name, value in _repo_settings.items()
        if not name.startswith("_") and not callable(value)
    }
)

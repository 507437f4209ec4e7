"""A gunicorn that a benchmark can kill and start again on the same port.

``tests/live.py``'s ``gunicorn()`` is the way to serve the app for a measurement; this is for what
it cannot do: serve another WSGI app (``bench/ceiling_app.py``) and, for the fault bench, kill one
worker or the whole server (``SIGKILL``) and start it again on the same port and database. The
command line is the same (``python -m gunicorn --config … --bind 127.0.0.1:PORT --workers N``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import suppress
from pathlib import Path

from tests.live import REPO_ROOT, free_port


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ")"
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


class ServerProcess:
    """gunicorn on ``127.0.0.1:port`` (a free one unless given), logging to ``log_path``."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        app: str = "wsgi:app",
        config: Path = REPO_ROOT / "gunicorn.conf.py",
        workers: int = 3,
        port: int | None = None,
        probe: str = "/login",
        cwd: Path = REPO_ROOT,
    ) -> None:
        self.env = env
        self.log_path = log_path
        self.app = app
        self.config = config
        self.workers = workers
        self.port = port or free_port()
        self.probe = probe
        self.cwd = cwd
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> float:
        """Start gunicorn and wait until ``probe`` answers 200; returns the seconds it took."""
        started = time.monotonic()
        self._log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(self.config),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                self.app,
            ],
            cwd=self.cwd,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        while True:
            try:
                with urllib.request.urlopen(self.url + self.probe, timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except OSError:
                if self.process.poll() is not None or time.monotonic() - started > timeout:
                    raise RuntimeError(self.log_path.read_text()[-4000:]) from None
                time.sleep(0.1)

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def kill_worker(self) -> int:
        """``kill -9`` one worker (the master starts another); returns its pid."""
        pids = self.worker_pids()
        if not pids:
            raise RuntimeError("gunicorn has no worker to kill")
        os.kill(pids[0], signal.SIGKILL)
        return pids[0]

    def kill_all(self) -> None:
        """``SIGKILL`` the master and every worker, as a power cut would end them."""
        if self.process is None:
            return
        workers = self.worker_pids()
        self.process.kill()
        for pid in workers:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self._close_log()

    def stop(self) -> None:
        """Stop it the polite way (``SIGTERM``, then ``SIGKILL`` after 10 s)."""
        if self.process is None or self.process.poll() is not None:
            self._close_log()
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill_all()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

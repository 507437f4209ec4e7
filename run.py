#!/usr/bin/env python3
"""Set up an environment and serve, or test, cbt-server. Needs only Python 3.11+.

    python3 run.py serve   # .venv, database upgrade, banks import, demo session, gunicorn
    python3 run.py serve --production
                           # the same without the demo: asks for the first admin once
    python3 run.py test    # .venv-test, ruff, the whole pytest suite (SQLite, and PostgreSQL
                           # when CBT_TEST_DATABASE_URL is set or one answers on 127.0.0.1:5432)

Everything it installs goes into the virtual environment it creates next to this file.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def ensure_env(name: str, extras: str) -> Path:
    """Create ``ROOT/name`` and install the project into it; skip when nothing changed."""
    env_dir = ROOT / name
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        print(f"== creating virtual environment {name}/", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    stamp = env_dir / ".cbt-installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"== installing cbt-server{extras} into {name}/", flush=True)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "-e", f".{extras}"], check=True, cwd=ROOT)
        stamp.write_text(wanted)
    return python


def flask(python: Path, *args: str, check: bool = True) -> int:
    command = [str(python), "-m", "flask", "--app", "cbt_server", *args]
    return subprocess.run(command, check=check, cwd=ROOT).returncode


def serve(args: argparse.Namespace) -> int:
    if bool(args.certfile) != bool(args.keyfile):
        print("--certfile and --keyfile go together (docs/tls.md)", file=sys.stderr)
        return 2
    python = ensure_env(".venv", "")
    # A clone gives instance/ git's 0755; the database and the secret key live there, so the
    # quick start closes it to the server's user (docs/operations.md, "Files and permissions").
    (ROOT / "instance").mkdir(mode=0o700, exist_ok=True)
    (ROOT / "instance").chmod(0o700)
    print("== bringing the database to the current schema", flush=True)
    flask(python, "db", "upgrade")
    print("== importing question banks", flush=True)
    flask(python, "banks", "import", "question_banks")
    if args.production:
        # No demo, and no password is ever reset by a restart (docs/accounts.md, "First run").
        print("== production: no demo session; the first admin is asked for once", flush=True)
        if flask(python, "admin", "create-first", "--if-missing", check=False) != 0:
            return 1
    else:
        print("== demo session (new passwords on every start)", flush=True)
        flask(python, "demo")
    host, _, port = args.bind.rpartition(":")
    tls: list[str] = []
    env = dict(os.environ)
    if args.certfile:
        tls = ["--certfile", args.certfile, "--keyfile", args.keyfile]
        env["CBT_HTTPS"] = "1"  # every cookie Secure
    scheme = "https" if tls else "http"
    print(
        f"\n== serving on {args.bind}: open {scheme}://127.0.0.1:{port}/ on this machine "
        f"(lab PCs: {scheme}://<this server's name>:{port}/) and log in with "
        f"{'your admin account' if args.production else 'an account above'}.\n"
        "   Stop with Ctrl+C.",
        flush=True,
    )
    command = [
        str(python),
        "-m",
        "gunicorn",
        "--bind",
        args.bind,
        "--workers",
        str(args.workers),
        "--config",
        "gunicorn.conf.py",
        *tls,
        "wsgi:app",
    ]
    try:
        return subprocess.call(command, cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 0


def _postgres_answers(url: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return url == DEFAULT_PG
    except OSError:
        return False


def test(args: argparse.Namespace, pytest_args: list[str]) -> int:
    python = ensure_env(".venv-test", "[test]")
    env = dict(os.environ)
    if "CBT_TEST_DATABASE_URL" not in env and _postgres_answers(DEFAULT_PG):
        env["CBT_TEST_DATABASE_URL"] = DEFAULT_PG
    if env.get("CBT_TEST_DATABASE_URL") in ("", "none"):
        env.pop("CBT_TEST_DATABASE_URL")
    print(
        "== databases: SQLite"
        + (f" and {env['CBT_TEST_DATABASE_URL']}" if "CBT_TEST_DATABASE_URL" in env else ""),
        flush=True,
    )
    print("== ruff check and ruff format --check", flush=True)
    lint = subprocess.call([str(python), "-m", "ruff", "check", "."], cwd=ROOT, env=env)
    lint = lint or subprocess.call(
        [str(python), "-m", "ruff", "format", "--check", "."], cwd=ROOT, env=env
    )
    print("== pytest", flush=True)
    result = subprocess.call([str(python), "-m", "pytest", *pytest_args], cwd=ROOT, env=env)
    if result == 5:
        print("pytest collected no tests: that is a failure here.", file=sys.stderr)
        return 1
    return result or lint


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="set up and start the server with the demo")
    serve_parser.add_argument("--bind", default=os.environ.get("CBT_BIND", "0.0.0.0:8000"))
    serve_parser.add_argument("--workers", type=int, default=3)
    serve_parser.add_argument(
        "--certfile", help="serve HTTPS with this certificate (PEM, chain included; docs/tls.md)"
    )
    serve_parser.add_argument("--keyfile", help="the certificate's private key (PEM)")
    serve_parser.add_argument(
        "--production",
        action="store_true",
        help="no demo session; asks for the first admin on the terminal when there is none",
    )
    sub.add_parser("test", help="set up and run ruff and the test suite (extra args go to pytest)")
    args, rest = parser.parse_known_args()
    if args.command == "serve":
        return serve(args)
    return test(args, rest)


if __name__ == "__main__":
    sys.exit(main())

"""Real-browser tests: a real gunicorn on 127.0.0.1 and headless Debian Chromium via Playwright.

The fixtures install what they need: Chromium from the system's packages when it is missing
(as root, through apt-get), and Playwright's Python package comes with the test extra. Playwright
never downloads a browser of its own; it drives /usr/bin/chromium.

Each server gets a database of its own, copied from a template that ``flask db upgrade`` and
``flask banks import`` prepare once per run and database kind (:class:`LiveTemplates`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from tests.conftest import _PG_URL, DATABASE_KINDS
from tests.e2e.exam_pages import TIMEOUT, VIEWPORT
from tests.live import (
    CHROMIUM,
    CHROMIUM_ARGS,
    flask_command,
    fresh_database,
    gunicorn,
    server_env,
    template_database,
)

E2E_SECRET = "e2e-secret"


def _ensure_chromium() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "update", "-qq"], check=False, env=env, stdout=subprocess.DEVNULL
        )
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"no Chromium at {CHROMIUM} and it could not be installed"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError  # unreachable


@dataclass
class LiveServer:
    url: str
    database_url: str
    instance: Path

    def app(self):  # type: ignore[no-untyped-def]
        """An app on the same database, for seeding data and checking what was stored."""
        from cbt_server import create_app

        return create_app(
            {
                "SQLALCHEMY_DATABASE_URI": self.database_url,
                "INSTANCE_PATH": self.instance,
                "SECRET_KEY": E2E_SECRET,
                "CBT_STAFF_PASSWORD_METHOD": "pbkdf2:sha256:1000",  # seeding only
            }
        )


def _env(instance: Path, database_url: str) -> dict[str, str]:
    return server_env(instance, database_url, E2E_SECRET, CBT_SWEEP_SECONDS="5")


class LiveTemplates:
    """Per database kind, a database migrated and with the fixture banks imported by the real
    commands (``flask db upgrade``, ``flask banks import``), made when first asked for."""

    def __init__(self, folder: Path, stack: ExitStack) -> None:
        self._folder = folder
        self._stack = stack
        self._urls: dict[str, str] = {}

    def url(self, kind: str) -> str:
        if kind not in self._urls:
            folder = self._folder / kind
            folder.mkdir()
            prepare = partial(self._prepare, folder)
            self._urls[kind] = self._stack.enter_context(
                template_database(kind, folder, _PG_URL, prepare)
            )
        return self._urls[kind]

    @staticmethod
    def _prepare(instance: Path, url: str) -> None:
        from tests.builders import FIXTURE_BANKS

        env = _env(instance, url)
        flask_command(env, "db", "upgrade")
        flask_command(env, "banks", "import", str(FIXTURE_BANKS))


@pytest.fixture(scope="session")
def live_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveTemplates]:
    with ExitStack() as stack:
        yield LiveTemplates(tmp_path_factory.mktemp("live-templates"), stack)


@pytest.fixture(params=DATABASE_KINDS)
def live_server(
    request: pytest.FixtureRequest, tmp_path: Path, live_templates: LiveTemplates
) -> Iterator[LiveServer]:
    """gunicorn serving a fresh database with the fixture banks imported (a copy of the run's
    template): SQLite, and also PostgreSQL when ``CBT_TEST_DATABASE_URL`` is set."""
    instance = tmp_path / "instance"
    instance.mkdir()
    template = live_templates.url(request.param)
    with (
        fresh_database(request.param, instance, _PG_URL, template=template) as database_url,
        gunicorn(_env(instance, database_url), tmp_path / "gunicorn.log") as url,
    ):
        yield LiveServer(url, database_url, instance)


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    executable = _ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser):  # type: ignore[no-untyped-def]
    """Open pages, each in a context of its own, closed after the test: a page left open keeps
    its exam running (heartbeats, retries against a server already gone) through the rest of
    the run."""
    contexts = []

    def opener(**options):  # type: ignore[no-untyped-def]
        context = browser.new_context(viewport=VIEWPORT, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT)
        return page

    yield opener
    for context in contexts:
        context.close()

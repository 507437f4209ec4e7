"""cbt-server: a LAN-hosted computer-based test server for ASN competency assessment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from cbt_server.config import configure_app


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask application.

    Configuration is layered: built-in defaults, then ``instance/config.py``, then ``CBT_*``
    environment variables, then ``config`` (used by tests). The factory never touches the
    database schema: ``flask --app cbt_server db upgrade`` does that, explicitly.
    """
    app = configure_app(config)
    _configure_extensions(app)
    _configure_blueprints(app)
    _configure_cli(app)
    _configure_save_lane(app)
    _configure_static(app)
    _configure_throttle(app)
    _configure_https(app)
    return app


def _configure_extensions(app: Flask) -> None:
    from cbt_server.clock import init_clock
    from cbt_server.extensions import babel, csrf, db, login_manager, migrate, select_locale
    from cbt_server.models import load_models

    load_models()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.config["MIGRATIONS_DIR"]), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale
    init_clock(app)

    from cbt_server.config import flag
    from cbt_server.db import configure_engine, install_write_guard

    with app.app_context():
        configure_engine(db.engine, int(app.config["CBT_DB_LOCK_TIMEOUT_MS"]))
        if flag(app.config.get("CBT_STRICT_WRITES")):
            install_write_guard(db.engine)


def _configure_blueprints(app: Flask) -> None:
    from cbt_server.web import register_blueprints

    register_blueprints(app)


def _configure_save_lane(app: Flask) -> None:
    """Saves in their common case served before Flask (cbt_server/web/api/save_lane.py)."""
    from cbt_server.web.api.save_lane import SaveLane

    if not app.config.get("CBT_SAVE_LANE", True):
        return
    path = next(rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == "api.save")
    app.wsgi_app = SaveLane(app, app.wsgi_app, path)  # type: ignore[method-assign]


def _configure_static(app: Flask) -> None:
    """CSS, JavaScript and fonts served by WhiteNoise in front of Flask: a lab opening the test
    fetches ~18 files per PC (9,000 for 500 PCs), and Flask's send_file costs ~10× more per
    file. Same URLs (/static/...), with ETag/Last-Modified revalidation and a short max-age."""
    from whitenoise import WhiteNoise

    def nosniff(headers, _path, _url):  # type: ignore[no-untyped-def]
        headers["X-Content-Type-Options"] = "nosniff"

    app.wsgi_app = WhiteNoise(  # type: ignore[method-assign]
        app.wsgi_app,
        root=app.static_folder,
        prefix=app.static_url_path,
        max_age=60,
        allow_all_origins=False,
        add_headers_function=nosniff,
    )


def _configure_throttle(app: Flask) -> None:
    """The per-host flood throttle in front of everything (cbt_server/limits/throttle.py)."""
    from pathlib import Path

    from cbt_server.config import private_folder
    from cbt_server.limits.throttle import Throttle, ThrottleMiddleware

    rate = float(app.config["CBT_THROTTLE_RATE"])
    if rate <= 0:
        return
    instance = private_folder(Path(app.instance_path))
    throttle = Throttle(instance / "throttle.bin", rate, float(app.config["CBT_THROTTLE_BURST"]))
    app.wsgi_app = ThrottleMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, throttle, app.config["CBT_THROTTLE_EXEMPT"]
    )


def _configure_https(app: Flask) -> None:
    """Secure cookies over https and the trusted reverse proxies, outermost
    (cbt_server/web/https.py, docs/tls.md)."""
    from cbt_server.web import https

    https.install(app)


def _configure_cli(app: Flask) -> None:
    from cbt_server.cli import register_commands

    register_commands(app)

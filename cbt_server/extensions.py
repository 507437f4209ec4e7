"""Flask extensions, created once and bound in the factory."""

from __future__ import annotations

from flask import current_app, request
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from cbt_server.models.base import db

__all__ = ["babel", "csrf", "db", "login_manager", "migrate", "select_locale"]

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = None
migrate = Migrate()

LANG_COOKIE = "cbt_lang"


def select_locale() -> str:
    """``?lang=`` then the language cookie, else the configured default (Bahasa Indonesia)."""
    languages = current_app.config["CBT_LANGUAGES"]
    for candidate in (request.args.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in languages:
            return candidate
    return current_app.config["BABEL_DEFAULT_LOCALE"]

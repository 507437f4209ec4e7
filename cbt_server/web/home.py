"""The landing page after login: what each role can do from here."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from cbt_server.sessions import queries as session_queries

bp = Blueprint("home", __name__)


@bp.get("/")
def root():  # type: ignore[no-untyped-def]
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for("home.index"))


@bp.get("/home")
@login_required
def index():  # type: ignore[no-untyped-def]
    overview = session_queries.home_overview(current_user)
    return render_template("home.html", overview=overview)

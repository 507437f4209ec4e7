"""Role guards, installed per blueprint in ``before_request``.

A per-view decorator is easy to forget; a blueprint-wide guard is not.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, request, url_for
from flask_login import current_user

from cbt_server.web.ended_login import not_logged_in_code
from cbt_server.web.messages import delivery_message


def require_roles(bp: Blueprint, *roles: str, json: bool = False) -> None:
    def _guard():  # type: ignore[no-untyped-def]
        if not current_user.is_authenticated:
            code = not_logged_in_code()
            if json:
                return jsonify(error=code, message=delivery_message(code)), 401
            if code == "login_ended":
                flash(delivery_message(code), "error")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if current_user.role not in roles:
            if json:
                return jsonify(error="forbidden", message="forbidden"), 403
            abort(403)
        return None

    bp.before_request(_guard)

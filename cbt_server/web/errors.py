"""Error pages for people, JSON errors for the API."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):  # type: ignore[no-untyped-def]
        return _render(400, "csrf", error.description)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):  # type: ignore[no-untyped-def]
        return _render(
            error.code or 500,
            (error.name or "error").lower().replace(" ", "_"),
            error.description or "",
        )


def _render(status: int, code: str, message: str):  # type: ignore[no-untyped-def]
    if _wants_json():
        return jsonify(error=code, message=message), status
    return render_template("errors/error.html", status=status, message=message), status

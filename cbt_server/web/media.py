"""Item images, stored in the database and served to logged-in users."""

from __future__ import annotations

from flask import Blueprint, Response, abort
from flask_login import login_required

from cbt_server.models import MediaFile, db

bp = Blueprint("media", __name__, url_prefix="/media")


@bp.get("/<sha256>")
@login_required
def file(sha256: str):  # type: ignore[no-untyped-def]
    media = db.session.get(MediaFile, sha256) if len(sha256) == 64 else None
    if media is None:
        abort(404)
    response = Response(media.data, mimetype=media.content_type)
    # Content-addressed: the bytes never change for this URL.
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    if media.content_type == "image/svg+xml":
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'"
        )
    return response

"""HTTP layer: blueprints that parse, authorise, call a service and render."""

from __future__ import annotations

import time

from flask import Flask, g

from cbt_server.localtime import register_filters
from cbt_server.web.numbers import register_number_filters

#: Headers of every response (the save lane, cbt_server/web/api/save_lane.py, sends them too).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Everything is served by this server: the lab may have no internet.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'"
    ),
}


def register_blueprints(app: Flask) -> None:
    from cbt_server import integrity
    from cbt_server.web import assessor, auth, errors, exam, home, media, proctor
    from cbt_server.web.api import exam as api_exam
    from cbt_server.web.api import openapi
    from cbt_server.web.banks import bp as banks_bp
    from cbt_server.web.maintenance import bp as maintenance_bp
    from cbt_server.web.positions import bp as positions_bp
    from cbt_server.web.staff import bp as staff_bp

    @app.before_request
    def _started():  # type: ignore[no-untyped-def]
        # First of all before-request functions (the login check comes from auth's blueprint).
        g.started = time.perf_counter()

    app.register_blueprint(auth.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(exam.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(proctor.bp)
    app.register_blueprint(assessor.bp)
    app.register_blueprint(banks_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(api_exam.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(maintenance_bp)
    app.register_blueprint(positions_bp)
    errors.register(app)
    register_filters(app)
    register_number_filters(app)
    # A digest as printed on paper: its first 16 hex digits (docs/tamper-evidence.md).
    app.add_template_filter(integrity.short, "fingerprint")

    @app.after_request
    def _security_headers(response):  # type: ignore[no-untyped-def]
        # The server's own time for the request (benchmarks read it; browsers show it).
        if "started" in g:
            elapsed = (time.perf_counter() - g.started) * 1000
            response.headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

"""HTTPS and reverse proxies, in front of everything (docs/tls.md).

- :class:`SecureCookies` marks every cookie the server sets ``Secure`` when the request came over
  https, or always with ``CBT_HTTPS`` (session, language, device: one place for all of them,
  the session cookie included, which Flask writes after every ``after_request`` hook).
- werkzeug's ``ProxyFix`` takes the client's address and the scheme from ``X-Forwarded-For`` /
  ``X-Forwarded-Proto`` only for the ``CBT_PROXY_HOPS`` proxies configured (default 0: none), so a
  PC cannot claim another address. It wraps the throttle and the save lane too: every layer and
  Flask read the same ``REMOTE_ADDR``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from cbt_server.config import flag


def _secure(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    marked = []
    for name, value in headers:
        if name.lower() == "set-cookie" and "; secure" not in value.lower():
            value = f"{value}; Secure"
        marked.append((name, value))
    return marked


class SecureCookies:
    """WSGI middleware: ``Secure`` on every ``Set-Cookie`` of a request over https."""

    def __init__(self, app: Callable, config: dict) -> None:
        self.app = app
        self.config = config  # read per request: a test (or an operator's reload) may change it

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        https = environ.get("wsgi.url_scheme") == "https"
        if not (https or flag(self.config.get("CBT_HTTPS"))):
            return self.app(environ, start_response)

        def marking(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, _secure(headers), exc_info)

        return self.app(environ, marking)


def install(app: Flask) -> None:
    """Outermost layers: ProxyFix (when proxies are trusted) around the Secure-cookie marker."""
    app.wsgi_app = SecureCookies(app.wsgi_app, app.config)  # type: ignore[method-assign]
    hops = int(app.config.get("CBT_PROXY_HOPS") or 0)
    if hops > 0:
        # The Host header is the proxy's to pass on (docs/tls.md); X-Forwarded-Host is not
        # trusted, so a PC cannot make the server believe it is another host.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

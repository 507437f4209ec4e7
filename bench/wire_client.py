"""HTTP exchanges measured on the wire, and a bare client (cookie jar, no browser) that counts
every byte it sends and receives on the socket."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass
class Exchange:
    """One HTTP request and its response, with their sizes on the wire."""

    method: str
    path: str
    status: int
    request_headers: int
    request_body: int
    response_headers: int
    response_body: int
    gzip_body: int | None = None  # what gzip -6 would make of the response body

    @property
    def kind(self) -> str:
        if self.path.startswith("/static/"):
            return "static"
        if self.path.startswith("/api/"):
            return "api"
        if self.path.startswith("/media/"):
            return "media"
        return "other" if "." in self.path.rsplit("/", 1)[-1] else "page"  # e.g. /favicon.ico

    @property
    def total(self) -> int:
        return self.request_headers + self.request_body + self.response_headers + self.response_body


class _CountingReader:
    """Wraps the response's socket file and counts the bytes read from it."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.count = 0

    def _counted(self, data: bytes) -> bytes:
        self.count += len(data)
        return data

    def read(self, *args: Any) -> bytes:
        return self._counted(self.raw.read(*args))

    def read1(self, *args: Any) -> bytes:
        return self._counted(self.raw.read1(*args))

    def readline(self, *args: Any) -> bytes:
        return self._counted(self.raw.readline(*args))

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        self.count += n or 0
        return n

    def peek(self, *args: Any) -> bytes:
        return self.raw.peek(*args)

    def close(self) -> None:
        self.raw.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class _CountingResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp = _CountingReader(self.fp)


class _CountingConnection(http.client.HTTPConnection):
    response_class = _CountingResponse

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent = 0

    def send(self, data: Any) -> None:
        self.sent += len(data)
        super().send(data)


class KioskClient:
    """A bare HTTP client with a cookie jar that records the wire size of every exchange."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cookies: dict[str, str] = {}
        self.exchanges: list[Exchange] = []

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        connection = _CountingConnection(self.host, self.port, timeout=30)
        all_headers = dict(headers or {})
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection.request(method, path, body=body or None, headers=all_headers)
        response = connection.getresponse()
        counter = response.fp
        header_bytes = counter.count
        data = response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                self.cookies[name] = morsel.value
        self.exchanges.append(
            Exchange(
                method=method,
                path=path,
                status=response.status,
                request_headers=connection.sent - len(body),
                request_body=len(body),
                response_headers=header_bytes,
                response_body=counter.count - header_bytes,
                gzip_body=len(gzip.compress(data, 6)) if response.status == 200 else None,
            )
        )
        connection.close()
        return response.status, data

    def form(self, path: str, fields: dict[str, str]) -> int:
        status, _ = self.request(
            "POST",
            path,
            urlencode(fields).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        return status

    def api(self, path: str, payload: Any, csrf: str) -> dict:
        status, data = self.request(
            "POST",
            f"/api/v1/attempt{path}",
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", "X-CSRFToken": csrf},
        )
        if status != 200:
            raise RuntimeError(f"POST {path}: {status} {data[:200]!r}")
        return json.loads(data)

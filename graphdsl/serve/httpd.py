"""The HTTP server of ``graphrun serve``: the standard library's threading server, which
is all a page for one person on one machine needs (no extra package to install).

It serves the page, its assets and the API of the one model (session.py), nothing
else: no path reaches the file system. It answers only requests whose ``Host`` is the
address it serves (a DNS-rebinding page cannot reach it) and, from a browser, only from
its own origin; bodies over 1 MB get 413; every bad request an answer in JSON with a
message, never a traceback, and the server goes on serving.
"""
from __future__ import annotations

import ipaddress
import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import assets
from .requests import MAX_BODY
from .session import error_json

_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Scripts only from the server itself, none inline ('unsafe-eval' lets a test driver
    # such as Playwright evaluate its own expressions in the page).
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-eval'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}
_POSTS = {"/api/run": "run", "/api/picture": "picture"}
_DRAIN_LIMIT = 16_000_000  # bytes of a refused body read before answering 413


class PageServer(ThreadingHTTPServer):
    """Serves one Session on ``(host, port)``; ``url`` is where the page is."""

    daemon_threads = True

    def __init__(self, session, host: str = "127.0.0.1", port: int = 8000):
        self.session = session
        if ":" in host:  # an IPv6 address such as ::1
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)
        self.hosts = allowed_hosts(host, self.server_address[1])

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"


def allowed_hosts(host: str, port: int):
    """The ``Host`` headers that name the served address (a set), or None for a server
    listening on every address, which accepts IP addresses and localhost only (a DNS
    name other than localhost is how a rebinding page would reach it)."""
    if host in ("0.0.0.0", "::", ""):
        return None
    names = {host.lower()}
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.lower() == "localhost"
    if loopback:
        names |= {"localhost", "127.0.0.1", "::1"}
    return {_host_port(name, port) for name in names}


def _host_port(name: str, port: int) -> str:
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"


class _Handler(BaseHTTPRequestHandler):
    default_request_version = "HTTP/1.0"  # so that even an unreadable request gets a status line
    timeout = 15  # seconds a client may take to send its request

    def do_GET(self):
        self._answer(self._get)

    def do_HEAD(self):
        self._answer(self._get, body=False)

    def do_POST(self):
        self._answer(self._post)

    def _refuse_method(self):
        self._answer(lambda path, query: (405, error_json(f"{self.command} is not served here "
                                                          "(GET the page, POST the API)")))

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse_method

    # ------------------------------------------------------------ routing
    def _answer(self, route, body: bool = True) -> None:
        try:
            refusal = self._refusal()
            parts = urlsplit(self.path)
            status, data = refusal or route(parts.path, parse_qs(parts.query))
        except Exception as err:  # a bug: answer, report it on the console, keep serving
            print(f"graphrun serve: internal error on {self.command} {self.path[:200]!r}: "
                  f"{type(err).__name__}: {err}", file=sys.stderr)
            status, data = 500, error_json(f"internal error: {type(err).__name__} (a bug in graphdsl)")
        self._send(status, data, body)

    def _refusal(self):
        """403 for a Host that is not the served address, or a foreign Origin."""
        host = (self.headers.get("Host") or "").strip().lower()
        if not self._host_ok(host):
            return 403, error_json(f"Host '{host[:100]}' is not the address this page is served at")
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{host}":
            return 403, error_json("requests from other sites' pages are refused")
        return None

    def _host_ok(self, host: str) -> bool:
        allowed = self.server.hosts
        if allowed is not None:
            return host in allowed
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        name = name.strip("[]")
        if name == "localhost":
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    def _get(self, path: str, query: dict):
        if path.startswith("/api/"):
            if path != "/api/model":
                return (405, error_json(f"POST to {path}")) if path in _POSTS else _not_found(path)
            since = query.get("since", [None])[-1]
            return self.server.session.handle("model", since=since)
        found = assets.asset(path)
        return found if found is not None else _not_found(path)

    def _post(self, path: str, query: dict):
        kind = _POSTS.get(path)
        if kind is None:
            return _not_found(path)
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return 400, error_json("send the body with a Content-Length, not in chunks")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            return 400, error_json("a POST needs a Content-Length")
        if length < 0:
            self.close_connection = True
            return 400, error_json("a Content-Length cannot be negative")
        if length > MAX_BODY:
            self.close_connection = True
            self._drain(length)
            return 413, error_json(f"the body has {length:,} bytes; at most {MAX_BODY:,} are accepted")
        return self.server.session.handle(kind, self.rfile.read(length))

    def _drain(self, length: int) -> None:
        """Read a refused body of reasonable size, so that the client, still sending it,
        gets the 413 rather than a reset connection; a larger one is cut off."""
        if length > _DRAIN_LIMIT:
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                return
            length -= len(chunk)

    # ------------------------------------------------------------ answering
    def _send(self, status: int, data, body: bool) -> None:
        if isinstance(data, assets.Asset):
            payload, kind = data.content, data.content_type
        else:
            payload = json.dumps(data, allow_nan=False, separators=(",", ":")).encode("utf-8")
            kind = "application/json; charset=utf-8"
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            if status == 405:
                self.send_header("Allow", "GET, HEAD, POST")
            for name, value in _HEADERS.items():
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_error(self, code, message=None, explain=None):
        """The standard library's own refusals (a malformed request line, headers too long)
        as JSON too."""
        self.close_connection = True
        self._send(code, error_json(message or self.responses.get(code, ("error",))[0]),
                   getattr(self, "command", None) != "HEAD")

    def version_string(self) -> str:
        return "graphrun"

    def log_message(self, format, *args):  # one line per request would drown the console
        pass


def _not_found(path: str):
    return 404, error_json(f"nothing is served at {path[:200]!r}: this server serves one page and its model")

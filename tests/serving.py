"""Helpers of the tests of graphrun serve: a server in a thread, raw HTTP requests."""
from __future__ import annotations

import http.client
import json
import threading
from contextlib import contextmanager

from graphdsl.serve.follow import FixedModel, FollowedFile
from graphdsl.serve.httpd import PageServer
from graphdsl.serve.session import Session


@contextmanager
def running(model, host: str = "127.0.0.1", **settings):
    """A PageServer for ``model`` (a path, followed on disk, or a Program) on a free port."""
    source = FixedModel(model) if not isinstance(model, (str, bytes)) and hasattr(model, "run") \
        else FollowedFile(str(model))
    server = PageServer(Session(source, **settings), host, 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def request(server, method: str, path: str, body=None, headers=None, timeout: float = 30):
    """``(status, headers, data)``: data parsed as JSON when the answer is JSON."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        kind = response.getheader("Content-Type", "")
        data = json.loads(raw) if kind.startswith("application/json") else raw
        return response.status, dict(response.getheaders()), data
    finally:
        connection.close()


def post(server, path: str, body, **kwargs):
    status, _, data = request(server, "POST", path, body, **kwargs)
    return status, data

"""The HTTP server of graphrun serve: what it serves, what it refuses, and that it keeps
serving whatever it is sent (SPEC §6, safety)."""
import hashlib
import json
import os
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphdsl.serve.httpd import allowed_hosts
from graphdsl.serve.requests import MAX_BODY
from serving import post, request, running


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    (folder / "model.graph").write_text("# f = (x + y) z\ninput x = -2, y = 5, z = -4\nq = x + y\noutput f = q * z\n")
    (folder / "secret.txt").write_text("not to be served")
    return folder


@pytest.fixture(scope="module")
def server(model_dir):
    with running(model_dir / "model.graph") as server:
        yield server


def fingerprint(folder):
    """Every file of a folder with its bytes' hash and its modification time."""
    return {name: (hashlib.sha256((folder / name).read_bytes()).hexdigest(), os.stat(folder / name).st_mtime_ns)
            for name in sorted(os.listdir(folder))}


def test_the_page_and_its_assets(server):
    status, headers, page = request(server, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'src="/static/page.js"' in page
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    status, headers, script = request(server, "GET", "/static/view.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert b"export default" in script and b"data-input" in script
    assert request(server, "GET", "/static/view.css")[0] == 200
    assert request(server, "HEAD", "/")[0] == 200


def test_post_api_run(server):
    status, data = post(server, "/api/run", {"inputs": {"x": 1}, "of": "f"})
    assert status == 200
    assert data["outputs"] == {"f": -24.0} and data["gradients"]["z"] == 6.0
    assert set(data["values"]) == {"x", "y", "z", "q", "f"} and data["node_grads"]["q"] == -4.0


def test_a_bad_request_is_400_with_a_message(server):
    status, data = post(server, "/api/run", b"{not json", headers={"Content-Type": "application/json"})
    assert status == 400 and "not JSON" in data["error"] and data["line"] is None
    status, data = post(server, "/api/run", {"inputs": {"w": 1}})
    assert status == 400 and "unknown input 'w'" in data["error"]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example:{port}",
                                  "127.0.0.1:1", "localhost.:{port}", "", "[::2]:{port}"])
def test_a_host_that_is_not_the_served_address_is_refused(server, host):
    port = server.server_address[1]
    status, _, data = request(server, "GET", "/api/model", headers={"Host": host.format(port=port)})
    assert status == 403 and "Host" in data["error"]
    status, data = post(server, "/api/run", {}, headers={"Host": host.format(port=port)})
    assert status == 403 and "outputs" not in data


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}"])
def test_the_served_address_is_answered(server, host):
    port = server.server_address[1]
    assert request(server, "GET", "/api/model", headers={"Host": host.format(port=port)})[0] == 200


def test_a_request_without_host_is_refused(server):
    assert raw(server, b"GET /api/model HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 403")


def test_a_page_of_another_site_cannot_post(server):
    status, data = post(server, "/api/run", {}, headers={"Origin": "http://evil.example"})
    assert status == 403 and "other sites" in data["error"]
    port = server.server_address[1]
    assert post(server, "/api/run", {}, headers={"Origin": f"http://127.0.0.1:{port}"})[0] == 200


def test_allowed_hosts():
    assert allowed_hosts("127.0.0.1", 8000) == {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"}
    assert allowed_hosts("192.0.2.7", 80) == {"192.0.2.7:80"}
    assert allowed_hosts("0.0.0.0", 8000) is None


TRAVERSALS = ["/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/../secret.txt", "/secret.txt",
              "/model.graph", "/static/../secret.txt", "//etc/passwd", "/static//etc/passwd",
              "/static/view.css/../../secret.txt", "/%2e%2e/secret.txt", "/static/page.js%00.txt",
              "/static/", "/static", "/api", "/api/", "/api/../secret.txt", "/static/..%2fsecret.txt",
              "/index.html/..", "/graphdsl/serve/httpd.py", "/static/js/10_numbers.js", "/C:/Windows/win.ini",
              "/static/view.js?../../secret.txt"]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_nothing_but_the_page_is_served(server, model_dir, path):
    status, _, data = request(server, "GET", path)
    if path.startswith("/static/view.js?"):  # the query string is not a path
        assert status == 200 and b"export default" in data
        return
    assert status == 404, path
    text = json.dumps(data)
    assert "not to be served" not in text and "input x" not in text and "root:" not in text


def test_methods_other_than_get_and_post(server):
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"):
        status, headers, data = request(server, method, "/api/run", body=b"{}")
        assert status == 405 and "not served" in data["error"] and headers["Allow"] == "GET, HEAD, POST"
    status, _, data = request(server, "BREW", "/")
    assert status == 501 and "error" in data
    assert request(server, "GET", "/api/run")[0] == 405
    assert request(server, "POST", "/", body=b"{}")[0] == 404


def test_bodies_over_a_megabyte_get_413(server):
    status, data = post(server, "/api/run", b" " * (MAX_BODY + 1), headers={"Content-Type": "application/json"})
    assert status == 413 and "1,000,000" in data["error"]
    million = json.dumps({"inputs": {"x": [0.5] * 1_000_000}}).encode()
    assert post(server, "/api/run", million, headers={"Content-Type": "application/json"})[0] == 413
    just = b'{"inputs": {"x": 1}}'.ljust(MAX_BODY)  # a megabyte exactly is read
    status, data = post(server, "/api/run", just, headers={"Content-Type": "application/json"})
    assert status == 200 and data["outputs"]["f"] == -24.0


def raw(server, data: bytes) -> bytes:
    with socket.create_connection(server.server_address[:2], timeout=10) as connection:
        connection.sendall(data)
        return connection.makefile("rb").read()


def test_a_body_needs_a_content_length(server):
    host = f"127.0.0.1:{server.server_address[1]}".encode()
    answer = raw(server, b"POST /api/run HTTP/1.1\r\nHost: " + host + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"2\r\n{}\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 400") and b"Content-Length" in answer
    answer = raw(server, b"POST /api/run HTTP/1.0\r\nHost: " + host + b"\r\n\r\n{}")
    assert answer.startswith(b"HTTP/1.0 400") and b"needs a Content-Length" in answer
    status, data = post(server, "/api/run", None)  # Content-Length: 0
    assert status == 400 and "not JSON" in data["error"]


def test_garbage_gets_an_answer_and_the_server_goes_on(server):
    for garbage in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x00\xff" * 40 + b"\r\n\r\n",
                    b"GET /" + b"a" * 70_000 + b" HTTP/1.0\r\n\r\n"):
        answer = raw(server, garbage)
        assert answer[:10] in (b"HTTP/1.0 4", b"HTTP/1.0 5") and b'{"error":' in answer
        assert b"Traceback" not in answer and b"<html" not in answer.lower()
    assert post(server, "/api/run", {})[0] == 200


def test_a_silent_client_does_not_hold_up_the_others(server):
    with socket.create_connection(server.server_address[:2], timeout=10):
        started = time.monotonic()
        assert post(server, "/api/run", {})[0] == 200
        assert time.monotonic() - started < 5


# ---------------------------------------------------------------- fuzzing /api/run
NAMES = st.sampled_from(["x", "y", "z", "q", "f", "", "of", "__proto__", "inputs", "x" * 60])
SCALARS = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-10**30, 10**30),
                    st.sampled_from(["NaN", "Infinity", "-Infinity", "nan", "1", "x"]), st.booleans(),
                    st.none(), st.text(max_size=4))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=2),
                      max_leaves=12)
BODIES = st.fixed_dictionaries({}, optional={
    "inputs": st.dictionaries(NAMES, VALUES, max_size=4) | VALUES,
    "of": st.sampled_from(["f", "q", "g"]) | SCALARS,
    "explain": st.booleans() | SCALARS,
    "check": st.booleans(),
    "labels": st.booleans() | SCALARS,
    "extra": VALUES,
})
NUMBERS = st.floats(width=64).map(lambda x: x if x == x and abs(x) != float("inf") else
                                   "NaN" if x != x else "Infinity" if x > 0 else "-Infinity")
PLAUSIBLE = st.fixed_dictionaries({"inputs": st.dictionaries(
    st.sampled_from(["x", "y", "z"]),
    NUMBERS | st.lists(NUMBERS, min_size=1, max_size=3) | st.lists(st.lists(NUMBERS, min_size=2, max_size=2),
                                                                  min_size=1, max_size=2))},
    optional={"of": st.just("f"), "explain": st.booleans(), "check": st.booleans(), "labels": st.booleans()})


def fuzz(examples):
    return settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def check_answer(status, data):
    assert status in (200, 400), (status, data)
    if status == 400:
        assert isinstance(data["error"], str) and data["error"] and "Traceback" not in data["error"]
        assert "line" in data and "column" in data
    else:
        assert set(data) >= {"outputs", "gradients", "values", "node_grads"}


@fuzz(2500)
@given(body=BODIES | PLAUSIBLE)
def test_fuzz_json_bodies(server, body):
    check_answer(*post(server, "/api/run", body))


@fuzz(400)
@given(body=st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_fuzz_raw_bodies(server, body):
    check_answer(*post(server, "/api/run", body, headers={"Content-Type": "application/json"}))


@fuzz(60)
@given(body=BODIES)
def test_fuzz_picture_bodies(server, body):
    for key in ("explain", "check", "labels", "extra"):
        body.pop(key, None)
    status, data = post(server, "/api/picture", body)
    assert status in (200, 400) and ("run" in data if status == 200 else data["error"])


def test_after_the_fuzzing_it_still_answers_and_the_model_is_untouched(server, model_dir):
    before = fingerprint(model_dir)
    for _ in range(50):
        post(server, "/api/run", {"inputs": {"x": "NaN", "y": [1, 2]}, "explain": True, "check": True})
        request(server, "GET", "/api/model")
    status, data = post(server, "/api/run", {"inputs": {"x": 3, "y": 5, "z": -4}})
    assert status == 200 and data["outputs"]["f"] == -32.0 and data["gradients"]["x"] == -4.0
    assert fingerprint(model_dir) == before
    assert sorted(os.listdir(model_dir)) == ["model.graph", "secret.txt"]


def test_an_ipv6_loopback_is_served_too():
    import graphdsl

    if not socket.has_ipv6:
        pytest.skip("this Python has no IPv6")
    try:
        context = running(graphdsl.load("examples/mul_add.graph"), host="::1")
        server = context.__enter__()
    except OSError as err:
        pytest.skip(f"no IPv6 loopback here: {err}")
    try:
        assert server.url.startswith("http://[::1]:")
        assert request(server, "GET", "/api/model")[0] == 200
        port = server.server_address[1]
        assert request(server, "GET", "/api/model", headers={"Host": f"localhost:{port}"})[0] == 200
        assert request(server, "GET", "/api/model", headers={"Host": f"evil.example:{port}"})[0] == 403
    finally:
        context.__exit__(None, None, None)

"""``graphrun serve`` as a user runs it: in a subprocess, stopped with Ctrl-C."""
import json
import os
import re
import signal
import socket
import subprocess
import urllib.request

import pytest

from graphdsl.cli.graphrun import main
from graphdsl.serve.httpd import PageServer
from graphrun_subprocess import EXAMPLES, ROOT, graphrun, graphrun_path


class Served:
    """``graphrun serve ARGS`` in the background; ``url`` once it listens."""

    def __init__(self, *args):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("GRAPHDSL_DEBUG", None)
        self.process = subprocess.Popen([graphrun_path(), "serve", *map(str, args)], cwd=ROOT, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.search(r"at (http://\S+)", line)
        assert match, (line, self.process.stderr.read() if self.process.poll() is not None else "")
        self.url = match.group(1)

    def get(self, path):
        with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=30) as answer:
            return json.loads(answer.read())

    def post(self, path, body):
        request = urllib.request.Request(self.url + path.lstrip("/"), data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out, err


def test_serve_answers_then_stops_on_ctrl_c():
    served = Served(EXAMPLES / "mul_add.graph", "--port", "0", "--inputs", "x=1", "--quiz")
    try:
        assert served.url.startswith("http://127.0.0.1:")
        model = served.get("/api/model")
        assert model["quiz"] is True and model["follow"] is True
        assert {leaf["name"]: leaf["start"] for leaf in model["model"]["leaves"]} == {"x": 1.0, "y": 5.0, "z": -4.0}
        status, data = served.post("/api/run", {"inputs": {"x": 3}})
        assert status == 200 and data["outputs"]["f"] == -32.0
        assert served.post("/api/run", {"inputs": {"x": "abc"}})[0] == 400
    finally:
        status, out, err = served.stop()
    assert status == 0 and "stopped" in out and err == ""


def test_a_model_that_does_not_load_is_reported_before_serving(tmp_path):
    path = tmp_path / "typo.graph"
    path.write_text("input x = 1\noutput y = x ^ 2\n")
    done = graphrun("serve", path, "--port", "0")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"{path}:2:14: error: '^' is not an operator here")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("args, status, words", [
    (["missing.graph"], 1, "missing.graph: no such file"),
    (["examples/mul_add.graph", "--of", "g"], 2, "--of g: not an output"),
    (["examples/mul_add.graph", "--inputs", "x="], 2, "'x=' has no value"),
    (["examples/mul_add.graph", "--inputs", "w=1"], 1, "unknown input 'w'"),
    (["examples/vector_norm.graph", "--inputs", "W=[1,2,3]"], 1, "should have shape [2, 2]"),
    (["examples/mul_add.graph", "--port", "70000"], 2, "a port is at most 65535"),
    (["examples/mul_add.graph", "--port", "x"], 2, "expected a whole number"),
    (["examples/mul_add.graph", "--nope"], 2, "unrecognized arguments: --nope"),
    (["-"], 2, "give its path, not - (standard input)"),
])
def test_mistakes_on_the_command_line(args, status, words, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(PageServer, "serve_forever", lambda *a, **k: pytest.fail("it served"))
    assert main(["serve", *args]) == status  # in this process: each stops before serving
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_a_port_in_use_is_reported(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["serve", "examples/mul_add.graph", "--port", str(taken.getsockname()[1])]) == 1
    assert "choose another with --port" in capsys.readouterr().err


def test_help_names_every_option(capsys):
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--port", "--host", "--inputs", "--quiz", "--open", "--of", "--inputs-file"):
        assert option in out


def test_graphrun_without_serve_is_unchanged():
    done = graphrun("examples/mul_add.graph", "--json")
    assert json.loads(done.stdout)["outputs"] == {"f": -12.0}

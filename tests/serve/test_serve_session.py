"""The page's API without HTTP: Session.handle answers as SPEC §6 says /api/run does."""
import json
import math

import numpy as np
import pytest

import graphdsl
from graphdsl.cli.graphrun import main as graphrun
from graphdsl.inspect.picture_text import value_lines
from graphdsl.serve.follow import FixedModel, FollowedFile
from graphdsl.serve.picture import labels
from graphdsl.serve.session import Session

EXAMPLES = ["mul_add", "sin_product", "sigmoid_neuron", "sigmoid_gate", "backward_patterns",
            "vector_norm", "logistic_map", "logistic_regression", "softmax_classifier", "two_layer_net"]


def session_of(name, **settings):
    return Session(FixedModel(graphdsl.load(f"examples/{name}.graph")), **settings)


def run(session, body):
    return session.handle("run", json.dumps(body).encode())


def graphrun_json(capsys, *argv):
    assert graphrun(list(argv) + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", EXAMPLES)
def test_run_answers_graphrun_json_plus_every_node(name, capsys):
    status, data = run(session_of(name), {"inputs": {}})
    assert status == 200
    expected = graphrun_json(capsys, f"examples/{name}.graph")
    assert {k: data[k] for k in ("outputs", "gradients")} == expected
    program = graphdsl.load(f"examples/{name}.graph")
    result = program.run()
    assert list(data["values"]) == list(program.forward_order)
    for node, value in result.values.items():
        np.testing.assert_array_equal(np.asarray(data["values"][node], dtype=float), value)
    assert set(data["node_grads"]) == set(result.node_grads)
    for node, grad in result.node_grads.items():
        np.testing.assert_array_equal(np.asarray(data["node_grads"][node], dtype=float), grad)


def test_inputs_and_of_as_on_the_command_line(capsys):
    status, data = run(session_of("logistic_regression"),
                       {"inputs": {"x0": 0.5, "w2": [1, 2]}, "of": "f"})
    assert status == 200
    expected = graphrun_json(capsys, "examples/logistic_regression.graph", "--inputs", "x0=0.5,w2=[1,2]",
                             "--of", "f")
    assert {k: data[k] for k in ("outputs", "gradients")} == expected
    assert data["node_grads"]["f"] == 1.0


def test_nan_and_infinities_travel_as_graphrun_json_writes_them():
    status, data = run(session_of("vector_norm"), {"inputs": {"x": ["NaN", 1], "W": [[1, 0], [0, "Infinity"]]}})
    assert status == 200
    assert data["outputs"]["f"] == "NaN"
    assert data["values"]["W"] == [[1.0, 0.0], [0.0, "Infinity"]]
    status, data = run(session_of("mul_add"), {"inputs": {"x": "-Infinity"}})
    assert (status, data["outputs"]["f"]) == (200, "Infinity")


def test_explain_and_check_as_graphrun_json_explain_check(capsys):
    status, data = run(session_of("sin_product"), {"explain": True, "check": True})
    assert status == 200
    expected = graphrun_json(capsys, "examples/sin_product.graph", "--explain", "--check")
    assert data["explain"] == expected["explain"]
    assert data["check"]["ok"] is True and data["check"]["of"] == "f"
    assert len(data["explain"]) == 6 and data["explain"][0]["node"] is None


BAD = [
    (b"{", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (b'"x"', "JSON object"),
    (b"\xff\xfe", "UTF-8"),
    (b'{"inputs": {"x": NaN}}', '"NaN"'),
    (b'{"inputs": {"x": Infinity}}', '"Infinity"'),
    (b'{"inputs": {"x": 1e999}}', "range"),
    (b'{"inputs": {"x": true}}', "not a number"),
    (b'{"inputs": {"x": null}}', "not a number"),
    (b'{"inputs": {"x": "3"}}', "not a number"),
    (b'{"inputs": {"x": {"a": 1}}}', "not a number"),
    (b'{"inputs": {"x": [[1, 2], [3]]}}', "rectangular"),
    (b'{"inputs": {"q": 1}}', "unknown input 'q'"),
    (b'{"inputs": [1]}', '"inputs" must be an object'),
    (b'{"of": "g"}', "'g' is not an output"),
    (b'{"of": 3}', '"of" must be'),
    (b'{"explain": "yes"}', '"explain" must be true or false'),
    (b'{"labels": 1}', '"labels" must be true or false'),
    (b'{"input": {}}', 'unknown key "input"'),
    (b'{"inputs": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}", "nests too deeply"),
]


@pytest.mark.parametrize("body, words", BAD, ids=[words for _, words in BAD])
def test_every_bad_request_is_400_with_a_message(body, words):
    status, data = session_of("mul_add").handle("run", body)
    assert status == 400
    assert words in data["error"]
    assert set(data) >= {"error", "line", "column"}
    assert "Traceback" not in data["error"] and "\n" not in data["error"]


def test_a_wrongly_shaped_binding_names_its_declaration():
    session = Session(FixedModel(graphdsl.loads("input W: [2, 2]\ninput x: [2]\noutput f = sum(W @ x)")))
    status, data = run(session, {"inputs": {"W": [[1, 2, 3]], "x": [1, 2]}})
    assert status == 400
    assert (data["line"], data["column"]) == (1, 7)
    assert "W" in data["error"]


def test_a_shape_clash_in_a_gate_names_the_gate():
    session = Session(FixedModel(graphdsl.loads("input W, x\nq = W @ x\noutput f = sum(q)")))
    status, data = run(session, {"inputs": {"W": [[1, 2, 3]], "x": [1, 2]}})
    assert status == 400
    assert data["line"] == 2 and "matmul" in data["error"]


def test_a_model_that_does_not_load_answers_its_positioned_error(tmp_path):
    path = tmp_path / "m.graph"
    path.write_text("input x = 1\noutput y = x ^ 2\n")
    session = Session(FollowedFile(str(path)))
    status, data = run(session, {})
    assert status == 400
    assert (data["line"], data["column"]) == (2, 14)
    assert data["text"].startswith(f"{path}:2:14: error:") and data["text"].endswith("^")
    described = session.handle("model")[1]
    assert described["error"]["line"] == 2 and described["model"] is None


def test_a_bug_is_500_with_a_message_and_the_session_keeps_answering(monkeypatch):
    session = session_of("mul_add")
    monkeypatch.setattr(Session, "run", lambda self, request: 1 / 0)
    status, data = run(session, {})
    assert status == 500 and "ZeroDivisionError" in data["error"] and "bug" in data["error"]
    monkeypatch.undo()
    assert run(session, {})[0] == 200


def test_an_unknown_request_kind_is_400():
    assert session_of("mul_add").handle("delete", b"{}")[0] == 400


def test_the_description_lists_leaves_outputs_and_nodes():
    session = Session(FixedModel(graphdsl.load("examples/softmax_classifier.graph")),
                      start={"reg": 0.5, "nope": 3}, quiz=True, of="accuracy")
    status, data = session.handle("model")
    assert status == 200 and data["quiz"] is True and data["follow"] is False
    model = data["model"]
    assert [leaf["name"] for leaf in model["leaves"]] == ["X", "y", "reg", "W", "b"]
    leaves = {leaf["name"]: leaf for leaf in model["leaves"]}
    assert leaves["reg"]["start"] == 0.5 and leaves["X"]["shape"] == "[n, 2]"
    assert leaves["W"]["kind"] == "param" and np.shape(leaves["W"]["start"]) == (2, 3)
    assert model["of"] == "accuracy" and model["outputs"] == ["loss", "accuracy"]
    assert model["nodes"]["scores"]["statement"] == "scores = X @ W + b"
    assert model["order"] == list(graphdsl.load("examples/softmax_classifier.graph").forward_order)
    assert session.handle("model", since=data["version"]) == (200, {"version": data["version"], "unchanged": True})


def test_leaves_without_a_default_start_at_zeros_of_their_shape():
    session = Session(FixedModel(graphdsl.loads("input x, W: [2, 3], v: [n]\noutput f = sum(W) * x")))
    starts = session.start_values(session.model.program)
    assert starts["x"] == 0.0 and starts["W"].shape == (2, 3) and starts["v"] == 0.0


def test_the_picture_answers_the_run_too():
    status, data = session_of("mul_add").handle("picture", b'{"inputs": {"x": 3}}')
    assert status == 200
    assert data["run"]["outputs"]["f"] == -32.0 and data["run"]["explain"]
    assert data["run"]["labels"]["v:x"] == ["3"] and data["run"]["labels"]["g:z"] == ["8"]
    assert data["svg"] is None or data["svg"].startswith("<svg")


def test_labels_the_text_of_every_number_on_the_picture():
    program = graphdsl.load("examples/two_layer_net.graph")
    status, data = run(Session(FixedModel(program)), {"inputs": {"reg": 0.5}, "labels": True})
    assert status == 200 and "explain" not in data
    result = program.run(reg=0.5)
    assert data["labels"] == labels(program, result)
    assert data["labels"]["v:reg"] == ["0.5"]
    assert data["labels"]["g:W1"] == value_lines(result.node_grads["W1"])  # a summary of 200 numbers
    assert "labels" not in run(Session(FixedModel(program)), {})[1]
    huge = graphdsl.loads("input x = 1\n" + "".join(f"a{i} = x * {i}\n" for i in range(2100)) + "output f = x")
    status, data = run(Session(FixedModel(huge)), {"labels": True})
    assert status == 200 and "labels" not in data  # no picture is drawn of it


def test_results_are_json_without_nan_literals():
    status, data = run(session_of("mul_add"), {"inputs": {"x": "NaN", "y": "Infinity"}})
    text = json.dumps(data, allow_nan=False)
    assert status == 200 and math.isnan(float(json.loads(text)["outputs"]["f"]))


def test_the_core_never_imports_the_page_nor_jupyter():
    import subprocess
    import sys

    code = ("import sys, graphdsl\nfrom graphdsl.cli.graphrun import main\n"
            "graphdsl.load('examples/mul_add.graph').run()\nmain(['examples/mul_add.graph', '--explain'])\n"
            "print(sorted(m for m in sys.modules if m.startswith(('graphdsl.serve', 'graphdsl.serve.notebook', "
            "'IPython', 'anywidget', 'http.server', 'playwright'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.rstrip().endswith("[]")

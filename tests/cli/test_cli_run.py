"""graphrun's batteries of mistakes, run in-process through ``cli.main`` (fast)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import graphdsl
from graphdsl.cli import graphrun as cli
from graphdsl.cli.run import aligned

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MUL_ADD = str(EXAMPLES / "mul_add.graph")


def run(capsys, *args):
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


@pytest.mark.parametrize("text,words", [
    ("x=", "'x=' has no value"), ("x=abc", "is not a number: 'abc'"), ("=3", "has no name"),
    ("x=[1,2", "'[' is never closed"), ("x=1]", "unmatched ']'"), ("x", "has no '='"),
    ("x=1,x=2", "'x' is given twice"), ('x=[1,"a"]', "numbers only"),
    ("x=[[1],[2,3]]", "not rectangular"), ("1x=2", "'1x' is not a name"), ("x=[1,]", "not a JSON array"),
])
def test_bad_inputs_text_is_a_usage_error(capsys, text, words):
    status, out, err = run(capsys, MUL_ADD, "--inputs", text)
    assert status == 2 and out == ""
    assert err.startswith("graphrun: error: --inputs") and words in err


@pytest.mark.parametrize("args,words", [
    (["--of", "g"], "not an output"),
    (["--no-grad", "--explain"], "--no-grad cannot be combined with --explain"),
    (["--no-grad", "--check"], "--no-grad cannot be combined with --check"),
    (["--dot", "-", "--json"], "--dot - cannot be combined with --json"),
    (["--dot", "-", "--explain"], "--dot - cannot be combined with --explain"),
    (["--batch", "rows.csv", "--check-finite"], "--batch cannot be combined with --check-finite"),
    (["--batch", "rows.csv", "--render", "a.svg"], "--batch cannot be combined with --render"),
    (["--render", "picture.jpg"], "must end in .svg, .png or .pdf"),
    (["--dot", "same.svg", "--render", "same.svg"], "name the same file"),
    (["--inputs-file", "rows.csv"], "--inputs-file takes a .json or .npz file"),
    (["--batch", "rows.json"], "--batch takes a .csv or .npz file"),
    (["--max-nodes", "-3"], "must be at least 1, got -3"),
    (["--max-nodes", "many"], "expected a whole number"),
    (["--unknown-flag"], "unrecognized arguments"),
])
def test_bad_or_conflicting_options_are_usage_errors(capsys, args, words):
    status, out, err = run(capsys, MUL_ADD, *args)
    assert status == 2 and out == ""
    assert words in err


def test_no_model_is_a_usage_error(capsys):
    status, _, err = run(capsys)
    assert status == 2 and "the following arguments are required: model" in err


def test_inputs_are_repeatable_and_accept_spaces(capsys):
    status, out, _ = run(capsys, MUL_ADD, "--inputs", "x = 1, y = 2", "--inputs", "z=[1, 2]", "--json")
    assert status == 0
    assert json.loads(out)["outputs"] == {"f": [3.0, 6.0]}


def test_an_inputs_value_both_in_batch_and_inputs_is_refused(capsys, tmp_path):
    (tmp_path / "rows.csv").write_text("x,y\n1,2\n")
    status, _, err = run(capsys, MUL_ADD, "--batch", tmp_path / "rows.csv", "--inputs", "x=1")
    assert status == 2 and "x given both by --batch and by --inputs" in err


@pytest.mark.parametrize("option", ["--dot", "--render", "--inputs-file", "--batch", "--params"])
def test_an_empty_file_name_is_a_usage_error_not_an_option_left_out(capsys, option):
    status, out, err = run(capsys, MUL_ADD, option, "")
    assert (status, out) == (2, "")
    assert err.endswith(f"graphrun: error: argument {option}: expected a file name, got an empty string\n")


def test_an_empty_model_name_is_a_usage_error(capsys):
    status, out, err = run(capsys, "")
    assert (status, out) == (2, "")
    assert err.endswith("graphrun: error: argument model: expected a file name, got an empty string\n")


def test_a_batch_file_without_rows_is_named_in_the_error(capsys, tmp_path):
    np.savez(tmp_path / "none.npz")
    np.savez(tmp_path / "scalar.npz", x=np.array(3.0))
    status, out, err = run(capsys, MUL_ADD, "--batch", tmp_path / "none.npz")
    assert (status, out) == (1, "")
    assert err == f"graphrun: error: {tmp_path / 'none.npz'}: no columns: --batch needs one array per input, one row per run\n"
    status, out, err = run(capsys, MUL_ADD, "--batch", tmp_path / "scalar.npz")
    assert (status, out) == (1, "")
    assert err == f"graphrun: error: {tmp_path / 'scalar.npz'}: 'x' is a single number, not one row per run\n"


def test_batch_shares_inputs_as_run_batch_does(capsys, tmp_path):
    # One rule (run/rows.py: split): --inputs values are shared by every row, the declared [2] of v
    # and the undeclared W alike; a --batch column of v's declared rank is shared too.
    model = tmp_path / "m.graph"
    model.write_text("input x, W, v: [2]\noutput f = sum(W * x) + sum(v * x)\n")
    (tmp_path / "rows.csv").write_text("x\n1\n2\n3\n")
    status, out, err = run(capsys, model, "--batch", tmp_path / "rows.csv", "--inputs",
                           "W=[[1,2],[3,4]],v=[1,2]", "--json")
    assert status == 0, err
    data = json.loads(out)
    assert data["outputs"]["f"] == [13.0, 26.0, 39.0]
    assert np.shape(data["gradients"]["W"]) == (3, 2, 2) and np.shape(data["gradients"]["v"]) == (3, 2)
    prog = graphdsl.loads(model.read_text())
    batch = prog.run_batch(x=[1.0, 2.0, 3.0], v=[1.0, 2.0], shared={"W": [[1, 2], [3, 4]]})
    assert batch.outputs["f"].tolist() == data["outputs"]["f"]
    np.savez(tmp_path / "rows.npz", x=np.arange(1.0, 4.0), v=np.array([1.0, 2.0]))
    status, out, err = run(capsys, model, "--batch", tmp_path / "rows.npz", "--inputs", "W=[[1,2],[3,4]]",
                           "--json")
    assert status == 0 and json.loads(out)["outputs"]["f"] == data["outputs"]["f"]


def test_batch_of_zero_rows_prints_the_header(capsys, tmp_path):
    (tmp_path / "rows.csv").write_text("x,y,z\n")
    assert run(capsys, MUL_ADD, "--batch", tmp_path / "rows.csv")[1] == "f,df/dx,df/dy,df/dz\n"


def test_no_grad_does_not_run_the_backward_pass(capsys, tmp_path):
    model = tmp_path / "m.graph"
    model.write_text("input x = 0\noutput f = sqrt(x)")  # the gradient at 0 is infinite
    status, out, _ = run(capsys, model, "--no-grad", "--check-finite")
    assert status == 0 and out == "f = 0\n"
    status, _, err = run(capsys, model, "--check-finite")
    assert status == 1 and "the gradient of f became inf" in err


def test_an_unexpected_failure_is_reported_without_a_traceback(capsys, monkeypatch):
    def broken(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli.cli_run, "run", broken)
    monkeypatch.delenv("GRAPHDSL_DEBUG", raising=False)
    status, _, err = run(capsys, MUL_ADD)
    assert status == 1
    assert err.startswith("graphrun: internal error: RuntimeError: boom")


def test_aligned_lines_up_names_and_continues_arrays():
    import numpy as np

    lines = aligned([("f", 1.0), ("long", np.array([[1.0, 2.0], [3.0, 4.0]]))])
    assert lines == ["f    = 1", "long = [[1, 2],", "        [3, 4]]"]


@pytest.mark.parametrize("text,where,words", [
    ("input x = 1\ny = 2x\noutput y\n", "2:6", "expected an operator between '2' and 'x'"),
    ("input x = 1\ny = x\noutput y,\n", "3:10", "expected a name, found a new line"),
    ("input x = 1\ny = x +* 2\noutput y\n", "2:8", "missing operand"),
    ("input x = 1\ny = exp(x\noutput y\n", "2:8", "'(' is never closed"),
    ("gate g(a) { return a }\ngate g(b) { return b }\noutput y = g(1)\n", "2:6", "defined twice"),
    ("gate g(a) { return g(a) }\noutput y = g(1)\n", "1:20", "recursive gates: g -> g"),
    ("input x = [1, 2]\noutput y = sum(x, axis=foo)\n", "2:24", "option 'axis' of 'sum'"),
    ("input a = [1, 2, 3], b = [1, 2]\noutput f = sum(a * b)\n", "2:18",
     "gate 'mul' cannot combine shapes [3] and [2]: numpy broadcasting needs each dimension"),
    ("input a = [[1, 2], [3, 4]]\noutput f = sum(a @ 2)\n", "2:18",
     "matmul needs operands with at least one dimension, got shapes [2, 2] and []"),
    ("input a = [[[1]]]\noutput f = sum(dot(a, a))\n", "2:16",
     "gate 'dot' failed on ([[[1.]]], [[[1.]]]): dot takes scalars, vectors and matrices"),
])
def test_model_mistakes_are_reported_with_their_place(capsys, tmp_path, text, where, words):
    model = tmp_path / "m.graph"
    model.write_text(text)
    status, out, err = run(capsys, model)
    assert status == 1 and out == ""
    first, source, caret = err.splitlines()
    assert first.startswith(f"{model}:{where}: error: ") and words in first
    column = int(where.split(":")[1])
    assert caret == " " * (3 + column) + "^" and source.startswith("    ")


@pytest.mark.parametrize("name", ["of", "check_finite", "eps", "tolerance"])
def test_inputs_named_as_api_keywords_run_and_check(capsys, tmp_path, name):
    # run()'s and check_gradients()' own keywords were given the input's value (a wrong
    # gradient check, or an internal error for two values of one argument).
    model = tmp_path / "m.graph"
    model.write_text(f"input {name} = 2.0\noutput y = {name} ** 3\n")
    status, out, err = run(capsys, model, "--inputs", f"{name}=5", "--check")
    assert status == 0 and err == ""
    assert f"dy/d{name} = 75" in out and "gradient check of y: ok" in out


@pytest.mark.parametrize("args,words", [
    (["--render", "g.png", "--dpi", "0"], "argument --dpi: must be from 10 to 600 dots per inch, got 0"),
    (["--render", "g.png", "--dpi", "5000"], "must be from 10 to 600 dots per inch, got 5000"),
    (["--render", "g.png", "--dpi", "high"], "expected a whole number of dots per inch, got 'high'"),
    (["--render", "g.png", "--dpi", "1.5"], "expected a whole number"),
    (["--render", "g.png", "--dpi", "nan"], "expected a whole number"),
    (["--dpi", "150"], "--dpi sets the resolution of a PNG picture: it needs --render FILE.png"),
    (["--render", "g.svg", "--dpi", "150"], "it needs --render FILE.png"),
    (["--dot", "-", "--render", "g.svg"], "--dot - cannot be combined with --render"),
])
def test_a_bad_dpi_is_a_usage_error(capsys, tmp_path, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, MUL_ADD, *args)
    assert status == 2 and out == "" and words in err
    assert err.count("graphrun: error:") == 1 and not list(tmp_path.iterdir())


def test_without_graphviz_the_numbers_come_first_then_the_picture_error(capsys, tmp_path, monkeypatch):
    from graphdsl.inspect import render

    monkeypatch.setattr(render, "find_dot", lambda: None)
    status, out, err = run(capsys, MUL_ADD, "--dot", tmp_path / "g.dot", "--render", tmp_path / "g.png")
    assert status == 1
    assert out == "f = -12\ndf/dx = -4\ndf/dy = -4\ndf/dz = 3\n"
    assert err.startswith(f"graphrun: error: --render {tmp_path / 'g.png'}: cannot draw the picture: "
                          "Graphviz's 'dot' program is not on PATH")
    assert [p.name for p in tmp_path.iterdir()] == ["g.dot"]  # the DOT source needs no Graphviz
    status, out, _ = run(capsys, MUL_ADD, "--json", "--render", tmp_path / "g.svg")
    assert status == 1 and json.loads(out)["outputs"] == {"f": -12.0}

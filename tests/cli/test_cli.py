"""graphrun through a real subprocess: numbers, every option, exit statuses, diagnostics."""
from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pydot
import pytest

from graphrun_subprocess import EXAMPLES, graphrun
from optional import needs_dot

MUL_ADD = EXAMPLES / "mul_add.graph"
VECTOR_NORM = EXAMPLES / "vector_norm.graph"


def ok(*args, **kwargs):
    done = graphrun(*args, **kwargs)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def failed(status, *args, **kwargs):
    done = graphrun(*args, **kwargs)
    assert done.returncode == status, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert done.stderr.strip(), "an error must say something on stderr"
    return done.stderr


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- results
def test_the_lecture_example_reads_at_a_glance():
    out = ok(MUL_ADD, "--inputs", "x=-2,y=5,z=-4")
    assert out.splitlines() == ["f = -12", "df/dx = -4", "df/dy = -4", "df/dz = 3"]


def test_json_holds_exact_numbers():
    data = json.loads(ok(MUL_ADD, "--inputs", "x=1.5, y=0.25", "--json"))
    assert data == {"outputs": {"f": -7.0}, "gradients": {"x": -4.0, "y": -4.0, "z": 1.75}}


def test_json_arrays_with_commas_inside_brackets():
    data = json.loads(ok(VECTOR_NORM, "--inputs", "W=[[1, 2], [3, 4]],x=[1,-1]", "--json"))
    q = np.array([[1, 2], [3, 4]]) @ np.array([1, -1])
    assert data["outputs"]["f"] == float(q @ q)
    assert data["gradients"]["W"] == (2 * np.outer(q, [1, -1])).tolist()
    assert data["gradients"]["x"] == (np.array([[1, 2], [3, 4]]).T @ (2 * q)).tolist()


def test_human_output_aligns_arrays_and_names_large_shapes(tmp_path):
    model = write(tmp_path, "big.graph", "input v\noutput total = sum(v * v), v2 = v * 2")
    out = ok(model, "--inputs", "v=" + json.dumps(list(range(20))))
    lines = out.splitlines()
    assert lines[0] == "total = 2470"
    assert lines[1] == "v2    = shape [20]"
    assert lines[2].startswith("        [ 0,  2,  4,")
    assert "dtotal/dv = shape [20]" in out


def test_nan_and_infinity_stay_valid_json(tmp_path):
    model = write(tmp_path, "log.graph", "input x = 0\noutput f = log(x), g = x / x")
    out = ok(model, "--json")
    data = json.loads(out, parse_constant=lambda word: pytest.fail(f"bare {word} in JSON"))
    assert data == {"outputs": {"f": "-Infinity", "g": "NaN"}, "gradients": {"x": "Infinity"}}


def test_inputs_file_json_and_npz_and_inputs_win(tmp_path):
    (tmp_path / "in.json").write_text('{"x": 1, "y": 2, "z": 3}')
    np.savez(tmp_path / "in.npz", x=1.0, y=2.0, z=3.0)
    for name in ("in.json", "in.npz"):
        assert json.loads(ok(MUL_ADD, "--inputs-file", tmp_path / name, "--json"))["outputs"] == {"f": 9.0}
    out = json.loads(ok(MUL_ADD, "--inputs-file", tmp_path / "in.json", "--inputs", "z=10", "--json"))
    assert out["outputs"] == {"f": 30.0}


def test_of_chooses_the_output_and_no_grad_skips_gradients(tmp_path):
    model = write(tmp_path, "two.graph", "input x = 3, y = 4\noutput f = x * y, g = x + y")
    assert ok(model, "--of", "g").splitlines()[2:] == ["dg/dx = 1", "dg/dy = 1"]
    assert ok(model, "--no-grad").splitlines() == ["f = 12", "g = 7"]
    assert json.loads(ok(model, "--no-grad", "--json"))["gradients"] == {}


def test_params_file_replaces_param_values(tmp_path):
    np.savez(tmp_path / "trained.npz", w0=1.0, w1=0.5, w2=0.0)
    data = json.loads(ok(EXAMPLES / "sigmoid_neuron.graph", "--params", tmp_path / "trained.npz", "--json"))
    s = 1.0 * -1 + 0.5 * -2 + 0.0
    assert data["outputs"]["f"] == pytest.approx(1 / (1 + np.exp(-s)))


def test_explain_prints_the_lecture_steps_and_json_lists_them():
    out = ok(MUL_ADD, "--explain")
    assert "  df/dx = 1 × -4 = -4   (local ∂q/∂x of q = x + y, line 3, × upstream df/dq)" in out
    assert "  df/dz = 3 × 1 = 3   (local ∂f/∂z of f = q * z, line 4, × upstream df/df)" in out
    steps = json.loads(ok(MUL_ADD, "--explain", "--json"))["explain"]
    assert [(s["target"], s["gradient"]) for s in steps] == [("f", 1.0), ("q", -4.0), ("z", 3.0),
                                                             ("x", -4.0), ("y", -4.0)]
    assert steps[3]["local"] == 1.0 and steps[3]["upstream"] == -4.0 and steps[3]["line"] == 3


def test_check_passes_and_fails_with_the_right_status(tmp_path):
    out = ok(MUL_ADD, "--check")
    assert "gradient check of f: ok" in out
    kink = write(tmp_path, "kink.graph", "input x = 0\noutput f = relu(x)")
    done = graphrun(kink, "--check")
    assert done.returncode == 1 and "FAILED" in done.stdout
    assert done.stderr.startswith(f"{kink}: error: gradient check of f failed: largest relative error 1")
    check = json.loads(graphrun(kink, "--check", "--json").stdout)["check"]
    assert check["ok"] is False and check["worst"]["name"] == "x"


def test_check_finite_points_at_the_gate(tmp_path):
    model = write(tmp_path, "log.graph", "input x = 0\ny = x + 1\noutput f = log(x) * y")
    err = failed(1, model, "--check-finite")
    assert err.splitlines()[0] == f"{model}:3:12: error: log produced -inf from input 0"
    assert err.splitlines()[2] == " " * 15 + "^"


def test_batch_prints_one_row_per_input_row(tmp_path):
    rows = write(tmp_path, "rows.csv", "x,y\n1,2\n3,4\n")
    assert ok(MUL_ADD, "--batch", rows, "--inputs", "z=2").splitlines() == [
        "f,df/dx,df/dy,df/dz", "6,2,2,3", "14,2,2,7"]
    np.savez(tmp_path / "rows.npz", x=np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    data = json.loads(ok(VECTOR_NORM, "--batch", tmp_path / "rows.npz", "--json"))
    prog_q = [np.array([[0.1, 0.5], [-0.3, 0.8]]) @ x for x in ([1, 0], [0, 1], [1, 1])]
    assert data["outputs"]["f"] == pytest.approx([float(q @ q) for q in prog_q])
    assert np.shape(data["gradients"]["W"]) == (3, 2, 2)
    assert ok(VECTOR_NORM, "--batch", tmp_path / "rows.npz", "--no-grad").splitlines()[0] == "f"


def test_version_and_help():
    assert ok("--version").strip() == "graphrun 0.1.0"
    text = ok("--help")
    assert "examples:" in text and "graphrun examples/mul_add.graph --inputs x=-2,y=5,z=-4" in text
    assert "5,000,000" in text
    usage = text.split("\n\n")[0]  # every command, in the usage lines and in the list of commands
    assert usage.splitlines() == ["usage: graphrun MODEL [options]",
                                  "       graphrun train MODEL --data FILE [options]",
                                  "       graphrun fmt FILE... [--check] [--diff]",
                                  "       graphrun serve MODEL [--port N] [--quiz] [options]",
                                  "       graphrun grad MODEL [--of f] [--wrt x,y] [-o OUT]",
                                  "       graphrun export MODEL --python OUT.py [--of f]"]
    assert "graphrun train ...          train the params on data (graphrun train --help)" in text
    assert "graphrun fmt ...            rewrite files in the canonical layout (graphrun fmt --help)" in text
    assert "graphrun serve ...          the interactive page: move an input, watch values and gradients" in text
    assert "--force" in text and "'-': read it from standard input" in text


def test_the_model_can_come_from_standard_input():
    assert ok("-", "--json", stdin=MUL_ADD.read_text()) == ok(MUL_ADD, "--json")
    assert ok("-", "--inputs", "x=1", stdin="input x\noutput y = x * 3\n") == "y = 3\ndy/dx = 3\n"
    lines = failed(1, "-", stdin="input x = 1\noutput y = x ^ 2\n").splitlines()
    assert lines == ["<stdin>:2:14: error: '^' is not an operator here: write powers as 'x ** 2'",
                     "    output y = x ^ 2", "                 ^"]
    assert failed(1, "-", "--inputs", "w=1", stdin=MUL_ADD.read_text()).startswith(
        "<stdin>: error: unknown input 'w'")
    assert failed(1, "-", stdin="").startswith("<stdin>:1:1: error: the graph has no output")


# ---------------------------------------------------------------- pictures
def test_dot_to_stdout_carries_values_and_gradients_on_edges():
    graph = pydot.graph_from_dot_data(ok(MUL_ADD, "--dot", "-"))[0]
    labels = {(e.get_source().strip('"'), e.get_destination().strip('"')): e.get_label()
              for e in graph.get_edges()}
    assert '>-2</font><br/><font color="red3">-4</font>' in labels[("x", "q")]
    assert '>3</font><br/><font color="red3">-4</font>' in labels[("q", "f")]
    assert '>-4</font><br/><font color="red3">3</font>' in labels[("z", "f")]
    assert '>-12</font><br/><font color="red3">1</font>' in labels[("f", "output f")]


@needs_dot
def test_dot_and_render_write_files_atomically(tmp_path):
    ok(MUL_ADD, "--dot", tmp_path / "g.dot", "--render", tmp_path / "g.svg")
    assert pydot.graph_from_dot_file(str(tmp_path / "g.dot"))[0].get_node('"q"')
    svg = ET.parse(tmp_path / "g.svg").getroot()
    texts = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert {"x", "df/dx = -4", "-12", "+", "*"} <= texts
    ok(MUL_ADD, "--render", tmp_path / "g.png", "--render", tmp_path / "g.pdf")
    assert (tmp_path / "g.pdf").read_bytes().startswith(b"%PDF")
    ok(MUL_ADD, "--render", tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.dot", "g.pdf", "g.png", "g.svg"]


def test_render_without_graphviz_prints_the_numbers_then_says_how_to_install_it(tmp_path):
    done = graphrun(MUL_ADD, "--render", tmp_path / "g.svg", path="")
    assert done.returncode == 1
    assert done.stdout == "f = -12\ndf/dx = -4\ndf/dy = -4\ndf/dz = 3\n"
    assert done.stderr.count("\n") == 1 and "cannot draw the picture" in done.stderr
    assert "install Graphviz" in done.stderr and "apt-get install graphviz" in done.stderr
    assert not list(tmp_path.iterdir())


@needs_dot
def test_dpi_sets_the_resolution_of_a_png(tmp_path):
    def size(path):
        header = path.read_bytes()[16:24]
        return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")

    ok(MUL_ADD, "--render", tmp_path / "plain.png")
    ok(MUL_ADD, "--render", tmp_path / "sharp.png", "--dpi", "192")
    (width, height), (sharp_width, sharp_height) = size(tmp_path / "plain.png"), size(tmp_path / "sharp.png")
    assert abs(sharp_width - 2 * width) <= 2 and abs(sharp_height - 2 * height) <= 2


def test_pictures_never_overwrite_the_model(tmp_path):
    model = write(tmp_path, "m.graph", MUL_ADD.read_text())
    before = model.read_text()
    assert "refusing to overwrite" in failed(2, model, "--dot", model)
    assert "one of the command's inputs" in failed(2, model, "--dot", model, "--force")
    (tmp_path / "link.svg").symlink_to(model)
    assert "one of the command's inputs" in failed(2, model, "--render", tmp_path / "link.svg", "--force")
    assert model.read_text() == before


def _victims(tmp_path) -> dict:
    """Files a mistyped --dot or --render must not destroy: option -> path."""
    other = write(tmp_path, "sigmoid_gate.graph", (EXAMPLES / "sigmoid_gate.graph").read_text())
    (tmp_path / "link.dot").symlink_to(other)
    python = write(tmp_path, "train_it", "import graphdsl\nprint(graphdsl.load('m.graph'))\n")
    victims = {"other model": ("--dot", other), "a link to a model": ("--dot", tmp_path / "link.dot"),
               "Python without a suffix": ("--dot", python),
               "a PNG named .svg": ("--render", tmp_path / "p.svg"),
               "text named .png": ("--render", write(tmp_path, "notes.png", "my notes"))}
    (tmp_path / "p.svg").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    for suffix in (".csv", ".npz", ".json", ".parquet", ".py"):
        victims[suffix] = ("--dot", write(tmp_path, "digraph" + suffix, "digraph { a -> b }\n"))
    return victims


def test_pictures_never_overwrite_a_file_that_holds_something_else(tmp_path):
    victims = _victims(tmp_path)
    before = {path: path.read_bytes() for _, path in victims.values()}
    for what, (option, path) in victims.items():
        done = graphrun(MUL_ADD, option, path)
        assert done.returncode == 2 and done.stdout == "", what
        assert done.stderr.startswith(f"graphrun: error: refusing to overwrite '{path}'"), what
        assert done.stderr.count("\n") == 1 and "--force replaces it" in done.stderr, what
    assert {path: path.read_bytes() for path in before} == before
    assert (tmp_path / "link.dot").is_symlink()


def test_pictures_refuse_directories_and_devices_even_with_force(tmp_path):
    (tmp_path / "out.svg").mkdir()
    for force in ([], ["--force"]):
        assert "it is a directory" in failed(2, MUL_ADD, "--render", tmp_path / "out.svg", *force)
        assert "'--dot -' writes to standard output" in failed(2, MUL_ADD, "--dot", os.devnull, *force)
    assert os.listdir(tmp_path) == ["out.svg"]


def test_force_replaces_and_pictures_replace_their_own_kind(tmp_path):
    python = write(tmp_path, "script", "import os\n")
    ok(MUL_ADD, "--dot", python, "--force")
    assert python.read_text().startswith("digraph graphdsl {")
    ok(MUL_ADD, "--dot", python)  # now it holds DOT: an earlier --dot
    empty = write(tmp_path, "empty.gv", "")  # e.g. made by mktemp: nothing to lose
    ok(MUL_ADD, "--dot", empty)
    assert empty.read_text() == python.read_text()
    if shutil.which("dot") is None:
        pytest.skip("rendering needs Graphviz's dot, which is not on PATH")
    ok(MUL_ADD, "--render", tmp_path / "g.png")
    ok(MUL_ADD, "--render", tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.gv", "g.png", "script"]


# ---------------------------------------------------------------- mistakes
@pytest.mark.parametrize("args", [["--inputs", "x=[1,2"], ["--inputs", "=3"], ["--of", "nope"],
                                  ["--no-grad", "--explain"], ["--bogus"]])
def test_usage_errors_exit_2(args):
    # The whole battery of bad flags runs in-process in test_cli_run.py; these cross the process.
    assert failed(2, MUL_ADD, *args).count("graphrun: error:") == 1


@pytest.mark.parametrize("text,where,message", [
    ("input x = 1\noutput y = x ^ 2\n", (2, 14), "write powers as 'x ** 2'"),
    ("input x = 1\ny = (x + 2\noutput y\n", (2, 5), "never closed"),
    ("input x = 1\nq = xx + 1\noutput q\n", (2, 5), "'xx' is not defined; did you mean 'x'?"),
    ("input x = 1\noutput y = foo(x)\n", (2, 12), "unknown gate 'foo'"),
    ("input x\noutput y = x * 2\n", (1, 7), "input 'x' has no value"),
    ("input W = [[1, 2, 3], [4, 5, 6]], x = [1, 2]\noutput f = sum(W @ x)\n", (2, 18),
     "matmul cannot multiply shapes [2, 3] and [2]"),
])
def test_model_errors_point_at_the_line_with_a_caret(tmp_path, text, where, message):
    model = write(tmp_path, "bad.graph", text)
    lines = failed(1, model).splitlines()
    line, column = where
    assert lines[0].startswith(f"{model}:{line}:{column}: error: ") and message in lines[0]
    assert lines[1] == "    " + text.splitlines()[line - 1]
    assert lines[2] == " " * (3 + column) + "^"
    assert len(lines) == 3


def test_unreadable_model_files_are_one_line_errors(tmp_path):
    (tmp_path / "bin.graph").write_bytes(bytes(range(256)))
    assert "not UTF-8" in failed(1, tmp_path / "bin.graph")
    assert failed(1, tmp_path / "missing.graph").strip() == f"graphrun: error: {tmp_path}/missing.graph: no such file"
    assert "is a directory" in failed(1, tmp_path)


def test_binding_and_data_errors(tmp_path):
    assert failed(1, MUL_ADD, "--inputs", "w=1").startswith(f"{MUL_ADD}: error: unknown input 'w'")
    write(tmp_path, "bad.csv", "x,y\n1,oops\n")
    err = failed(1, MUL_ADD, "--batch", tmp_path / "bad.csv")
    assert err.splitlines()[0] == f"{tmp_path}/bad.csv:2:3: error: column 'y': 'oops' is not a number"
    assert "no such file" in failed(1, MUL_ADD, "--inputs-file", tmp_path / "none.json")

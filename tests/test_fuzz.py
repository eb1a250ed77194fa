"""Fuzzing as tests: whatever text, mutation or command line arrives, the only outcomes
are a result or a GraphError (API) and an exit status of 0, 1 or 2 with a message
(CLI): never another exception, a traceback, a warning on the terminal or a hang.

The default budget is a few hundred examples in well under a minute; set
GRAPHDSL_FUZZ_EXAMPLES=5000 (say) for a longer run.
"""
from __future__ import annotations

import contextlib
import io
import os
import random
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphdsl
from graphdsl.cli import graphrun as cli
from graphdsl.inspect.explain import explain
from fuzzing import budget, programs
from graphrun_subprocess import EXAMPLES, graphrun

SEEDS = sorted(path.read_text(encoding="utf-8") for path in EXAMPLES.glob("*.graph"))
TOKENS = ["input", "param", "output", "gate", "return", "repeat", "(", ")", "[", "]", "{", "}", ",",
          ";", "=", "~", ":", "+", "-", "*", "/", "@", "**", "\n", "#", "x", "f", "exp", "sum",
          "axis=", "1e400", "-1e308", "1e-400", "0", "00", "9" * 400, ".5", "_" * 10_000,
          "x" * 10_000, "\x00", "\r", "\t", "\ufeff", "é", "∂", "\U0001f600", "\\", "'", '"', "^",
          "normal(0, 1)", "uniform(-1e308, 1e308)", "repeat(exp, 1000000000000, x)", "[" * 50,
          "]" * 50, "None", "__import__", "lambda"]


# ---------------------------------------------------------------- mutations of real files
@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        text = draw(st.sampled_from([_insert, _delete, _swap, _duplicate_line, _replace_number]))(draw, text)
    return text


def _insert(draw, text):
    where = draw(st.integers(0, len(text)))
    piece = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=8)))
    return text[:where] + piece + text[where:]


def _delete(draw, text):
    start = draw(st.integers(0, len(text)))
    return text[:start] + text[start + draw(st.integers(1, 12)):]


def _swap(draw, text):
    words = text.split(" ")
    if len(words) > 1:
        i, j = draw(st.integers(0, len(words) - 1)), draw(st.integers(0, len(words) - 1))
        words[i], words[j] = words[j], words[i]
    return " ".join(words)


def _duplicate_line(draw, text):
    lines = text.split("\n")
    i = draw(st.integers(0, len(lines) - 1))
    return "\n".join(lines[:i] + [lines[i]] * draw(st.integers(2, 3)) + lines[i + 1:])


def _replace_number(draw, text):
    huge = draw(st.sampled_from(["1e400", "1e308", "-0", "1e-320", "123456789" * 30, "0.000", "7"]))
    for digit in "0123456789":
        if digit in text:
            where = text.index(digit, draw(st.integers(0, text.rindex(digit))))
            return text[:where] + huge + text[where + 1:]
    return text


def exercise(text: str) -> None:
    """Load ``text`` and, when it loads, run every entry point on it; only GraphError may
    come out, and no numpy warning may reach the user."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            prog = graphdsl.loads(text, "fuzz.graph")
        except graphdsl.GraphError as err:
            _positioned(err)
            return
        bindings = _bindings(prog)
        # Bindings as a mapping: an input named like an option (of, check_finite...) is bound too.
        for entry in (lambda: _picture(prog, prog.run(bindings)),
                      lambda: prog.run(bindings, check_finite=True),
                      lambda: prog.forward(bindings),
                      lambda: prog.jvp(bindings, {name: np.ones_like(v) for name, v in bindings.items()}),
                      lambda: prog.check_gradients(bindings),
                      lambda: prog.run_batch({k: np.stack([v, v]) for k, v in bindings.items()})):
            try:
                entry()
            except graphdsl.GraphError as err:
                _positioned(err)


def _picture(prog, result) -> None:
    """What graphrun shows of a run besides the numbers: the DOT picture and --explain."""
    prog.to_dot(result)
    explain(result)


def _positioned(err: graphdsl.GraphError) -> None:
    text = err.render()
    assert "error:" in text and "Traceback" not in text
    if err.span is not None:
        assert err.line >= 1 and err.column >= 1


def _bindings(prog) -> dict:
    """A value for every input and param: its default, or a small random array of its shape."""
    rng = np.random.default_rng(0)
    values = {}
    defaults = prog.defaults()
    for name in prog.inputs + prog.params:
        shape = prog.graph.nodes[name]["shape"]
        if name in defaults:
            values[name] = defaults[name]
        elif shape is None or any(not isinstance(d, int) for d in shape) or np.prod(shape) > 100:
            values[name] = 0.5
        else:
            values[name] = rng.uniform(0.1, 1.0, size=shape)
    return values


@budget(250)
@given(mutated())
def test_mutated_examples_load_or_fail_with_a_positioned_error(text):
    exercise(text)


@budget(150)
@given(st.text(max_size=200))
def test_random_text_loads_or_fails_with_a_positioned_error(text):
    exercise(text)


@budget(60)
@given(st.lists(st.sampled_from(TOKENS + ["x", "y", "1", "2"]), max_size=40).map(" ".join))
def test_token_soup_loads_or_fails_with_a_positioned_error(text):
    exercise(text)


@budget(40)
@given(st.binary(max_size=300))
def test_random_bytes_in_a_file_load_or_fail_with_a_positioned_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "model.graph"
    path.write_bytes(data)
    try:
        graphdsl.load(path)
    except graphdsl.GraphError as err:
        _positioned(err)


# ---------------------------------------------------------------- valid programs compute the right thing
@budget(120)
@given(programs())
def test_random_programs_with_compound_gates_compute_what_they_say(case):
    text, inputs, expected = case
    prog = graphdsl.loads(text)
    result = prog.run(**inputs)
    for name, value in expected.items():
        np.testing.assert_allclose(result.outputs[name], value, rtol=1e-12, atol=1e-12, err_msg=text)
    report = prog.check_gradients(**inputs)
    assert report.ok and not report.rules, f"{report}\n{text}"
    assert report.modes is None or report.modes.ok, f"{report.modes}\n{text}"


# ---------------------------------------------------------------- the command line
FLAGS = ["--inputs", "--inputs-file", "--params", "--batch", "--of", "--no-grad", "--json", "--explain",
         "--check", "--check-finite", "--dot", "--render", "--max-nodes", "--version", "--help",
         "--bogus", "-", "--", "train", "--epochs", "--lr", "--data", "--optimizer", "--save"]
VALUES = ["x=1", "x=[1,2", "x=1,x=2", "W=[[1,2],[3]]", "=3", "x=nan", "y=-inf", "0", "-1", "3",
          "f", "nope", "out.dot", "-", "pic.svg", "pic.bmp", "data.json", "data.npz", "rows.csv",
          "missing.json", "model.graph", "", "\x01", "é", "1e400", "[]", "sgd"]


@st.composite
def command_lines(draw):
    model = draw(st.sampled_from(["model.graph", "broken.graph", "missing.graph", ".", "-"]))
    argv = [model] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 5))):
        argv.append(draw(st.sampled_from(FLAGS)))
        if draw(st.booleans()):
            argv.append(draw(st.one_of(st.sampled_from(VALUES), st.text(max_size=6))))
    if draw(st.booleans()):
        draw(st.randoms()).shuffle(argv)
    return argv


def _workspace(path: Path) -> None:
    (path / "model.graph").write_text("input x = 1, W: [2, 2] = [[1, 2], [3, 4]]\n"
                                      "output f = sum(W @ [x, 2]) * x, g = log(x)\n")
    (path / "broken.graph").write_text("input x\noutput f = x +\n")
    (path / "data.json").write_text('{"x": 2}')
    (path / "data.npz").write_bytes(b"PK\x03\x04 not really")
    (path / "rows.csv").write_text("x\n1\n2\nthree\n")


@contextlib.contextmanager
def _inside(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _cli_in_process(argv) -> tuple:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("error")
        status = cli.main(argv)
    return status, out.getvalue(), err.getvalue()


def assert_clean_exit(status, stderr, argv) -> None:
    assert status in (0, 1, 2), (argv, status, stderr)
    assert "Traceback" not in stderr and "internal error" not in stderr, (argv, stderr)
    if status:
        assert "error" in stderr, (argv, stderr)


@budget(150)
@given(command_lines())
def test_random_command_lines_exit_cleanly(tmp_path_factory, argv):
    path = tmp_path_factory.mktemp("cli")
    _workspace(path)
    with _inside(path):
        status, _, stderr = _cli_in_process(argv)
    assert_clean_exit(status, stderr, argv)


def test_random_command_lines_exit_cleanly_in_a_real_process(tmp_path):
    """A few of the same command lines through the installed graphrun: what a user sees."""
    _workspace(tmp_path)
    rng = random.Random(4)
    for _ in range(6):
        argv = ["model.graph"] + [rng.choice(FLAGS + VALUES) for _ in range(rng.randint(1, 4))]
        done = graphrun(*argv, cwd=tmp_path)
        assert_clean_exit(done.returncode, done.stderr, argv)
    done = graphrun("broken.graph", cwd=tmp_path)
    assert done.returncode == 1 and "broken.graph:2:" in done.stderr and "^" in done.stderr


@pytest.mark.parametrize("text", ["input x\x00\noutput x", "input " + "a" * 10_000 + " = 1\noutput b = a",
                                  "input x = 1e400\noutput x", "\ufeff\ufeffinput x = 1\noutput x",
                                  "input x = 1\r\routput x", "output y = " + "(" * 5000])
def test_hostile_files_through_graphrun(tmp_path, text):
    model = tmp_path / "hostile.graph"
    model.write_text(text, encoding="utf-8")
    done = graphrun(model)
    assert done.returncode == 1 and "hostile.graph:" in done.stderr and "Traceback" not in done.stderr

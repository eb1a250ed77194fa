"""No code execution from user text: names, comments, file names, bindings and data files
built to inject Python run nothing, and the numbers still come out right. Names that
collide with Python keywords, builtins, modules and the names a code generator would
pick (v12, g3, C0, np) are just names in a .graph file."""
from __future__ import annotations

import builtins
import math
import os
import subprocess

import numpy as np
import pytest

import graphdsl
from graphdsl.train.datafiles import DataFileError, read_data
from graphrun_subprocess import graphrun

SENTINEL = "graphdsl_was_injected"
PAYLOAD = f"__import__('os').system('touch {SENTINEL}')"
NAMES = ["__import__", "os", "exec", "eval", "compile", "open", "__class__", "__builtins__", "_", "__",
         "lambda", "def", "None", "True", "False", "print", "self", "math", "np", "numpy", "sys",
         "globals", "locals", "import", "class", "return_", "yield", "await", "v0", "v1", "g0", "t0",
         "C0", "K0", "F0", "O0", "S0", "UB", "SEED", "EXPORT", "values", "grads", "args", "step",
         "result", "out", "x", "__name__", "__file__", "__init__", "breakpoint", "input_"]


def hostile_program() -> tuple:
    """A model over every name above, with a comment, gates named like builtins, and the
    value it must compute."""
    lines = [f"# {PAYLOAD}", f"gate exec(a) {{ return a * 2 }}  # {PAYLOAD}",
             "gate __import__(a, b) { eval = a - b; return eval * eval }",
             "gate lambda(None) { print = None + 1; return print }",
             f"input {NAMES[0]} = 0.5"]
    value = 0.5
    for previous, name in zip(NAMES, NAMES[1:]):
        gate = ("exec", "lambda", "__import__")[len(lines) % 3]
        if gate == "__import__":
            lines.append(f"{name} = __import__({previous}, 0.25)")
            value = (value - 0.25) ** 2
        else:
            lines.append(f"{name} = {gate}({previous}) * 0.5")
            value = (value * 2 if gate == "exec" else value + 1) * 0.5
    lines.append(f"output {NAMES[-1]}")
    return "\n".join(lines), value


@pytest.fixture
def untouched(tmp_path, monkeypatch):
    """Run in an empty directory; afterwards no sentinel file and the same builtins."""
    monkeypatch.chdir(tmp_path)
    names = dict(vars(builtins))
    yield tmp_path
    assert not (tmp_path / SENTINEL).exists()
    assert dict(vars(builtins)) == names


@pytest.fixture
def no_processes(monkeypatch):
    """Fail the test if anything starts a process or a shell."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a process was started: {args}")
    for module, name in ((os, "system"), (os, "popen"), (os, "execv"), (os, "execve"),
                         (os, "spawnv"), (os, "posix_spawn"), (subprocess, "Popen")):
        if hasattr(module, name):
            monkeypatch.setattr(module, name, refuse)


def test_hostile_names_are_just_names(untouched, no_processes):
    text, expected = hostile_program()
    prog = graphdsl.loads(text, name=f"'); {PAYLOAD} #")
    assert prog.inputs == ("__import__",)
    result = prog.run()
    assert result.outputs["input_"] == pytest.approx(expected, rel=1e-12)
    for _ in range(3):  # and again, when a compiled fast path has had time to kick in
        assert prog.run(__import__=0.5).outputs["input_"] == pytest.approx(expected, rel=1e-12)
    outputs, tangents = prog.jvp({"__import__": 0.5}, {"__import__": 1.0})
    assert tangents["input_"] == pytest.approx(result.grads["__import__"], rel=1e-9)
    assert prog.check_gradients().ok
    batch = prog.run_batch(__import__=np.array([0.5, 0.5]))
    np.testing.assert_allclose(batch.outputs["input_"], [expected, expected], rtol=1e-12)


@pytest.mark.parametrize("constant", ["1e308", "1.7976931348623157e308", "5e-324", "0.1", "0.0",
                                      "123456789012345678901234567890", ".1e-10", "1e-400"])
def test_extreme_constants_are_the_floats_they_spell(untouched, no_processes, constant):
    prog = graphdsl.loads(f"input x = 1\noutput y = x * {constant}, z = -{constant} * x")
    for _ in range(3):
        result = prog.run()
        assert result.outputs["y"] == float(constant) and result.grads["x"] == float(constant)
        assert math.copysign(1, result.outputs["z"]) == -1


def test_hostile_command_lines_run_nothing(untouched):
    model = untouched / "m.graph"
    model.write_text(f"# {PAYLOAD}\ninput x = 1\noutput y = x * 2\n")
    for args in [["--inputs", f"x={PAYLOAD}"], ["--inputs", f"{PAYLOAD}=1"],
                 ["--inputs", f"x=[{PAYLOAD}]"], ["--of", PAYLOAD], ["--inputs", "x=1", "--dot", "-"],
                 ["--inputs-file", f"{PAYLOAD}.json"]]:
        done = graphrun(model, *args, cwd=untouched)
        assert done.returncode in (0, 1, 2) and "Traceback" not in done.stderr, (args, done.stderr)
    assert not (untouched / SENTINEL).exists()


class _Booby:
    """Unpickling this would create the sentinel file."""

    def __reduce__(self):
        return (open, (SENTINEL, "w"))


def test_a_pickle_inside_an_npz_is_refused_not_loaded(untouched):
    path = untouched / "data.npz"
    np.savez(path, x=np.array([_Booby()], dtype=object))
    assert not (untouched / SENTINEL).exists()
    with pytest.raises(DataFileError, match="not a readable .npz archive"):
        read_data(path)
    done = graphrun(untouched / "m.graph", "--inputs-file", path, cwd=untouched)
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_graphdsl_never_calls_eval_or_exec_on_user_text(untouched, no_processes, monkeypatch):
    seen = []

    def spy(real):
        def wrapped(source, *args, **kwargs):
            seen.append(source if isinstance(source, str) else repr(source))
            return real(source, *args, **kwargs)
        return wrapped

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, spy(getattr(builtins, name)))
    text, _ = hostile_program()
    prog = graphdsl.loads(text)
    for _ in range(3):
        prog.run()
    prog.jvp({"__import__": 0.5}, {"__import__": 1.0})
    monkeypatch.undo()
    for source in seen:  # a code generator may compile code, but of its own names only
        assert not any(word in source for word in ("touch", SENTINEL, "__import__", "breakpoint",
                                                   "input_", "return_")), source


def test_control_characters_in_a_file_never_reach_the_terminal(untouched):
    model = untouched / "m.graph"
    model.write_bytes(b"input x = 1  # \x1b]0;owned\x07\x1b[2J\noutput y = x \x1b[31m\n")
    done = graphrun(model, cwd=untouched)
    assert done.returncode == 1 and "\x1b" not in done.stderr and "\x07" not in done.stderr
    assert done.stderr.startswith(f"{model}:2:14: error: unexpected character '\\x1b'\n")
    head, line, caret = done.stderr.rstrip("\n").split("\n")
    assert line == "    output y = x \ufffd[31m" and caret == " " * 17 + "^"


def test_a_file_that_never_ends_is_refused(untouched):
    done = graphrun("/dev/zero", cwd=untouched)
    assert done.returncode == 1 and "the file is larger than 1,073,741,824 bytes" in done.stderr


def test_a_deeply_nested_inputs_array_is_a_usage_error(untouched):
    model = untouched / "m.graph"
    model.write_text("input x\noutput y = sum(x)\n")
    done = graphrun(model, "--inputs", "x=" + "[" * 30_000 + "1" + "]" * 30_000, cwd=untouched)
    assert done.returncode == 2 and "nests too deeply" in done.stderr and "internal error" not in done.stderr


@pytest.mark.parametrize("digit", ["\u0663", "\uff13", "\U0001d7d1"])  # Arabic-Indic, fullwidth, bold 3
@pytest.mark.parametrize("line", ["output y = x * {}", "y = x * {}", "y = sin({})"])
def test_digits_of_other_scripts_are_not_numbers(digit, line):
    with pytest.raises(graphdsl.GraphSyntaxError) as caught:
        graphdsl.loads(f"input x = 1\n{line.format(digit)}\noutput z = 1")
    assert (caught.value.line, caught.value.column) == (2, line.index("{") + 1)
    assert caught.value.message == f"unexpected character '{digit}': numbers use the digits 0-9"

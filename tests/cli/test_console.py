"""console: --inputs parsing, error reports and statuses, reading the model."""
from __future__ import annotations

import io

import numpy as np
import pytest

from graphdsl.cli import console
from graphdsl.cli.console import CommandError, UsageError, guarded, parse_inputs
from graphdsl.errors import BindingError, GraphSyntaxError, Span


def test_parse_inputs_numbers_and_arrays():
    bindings = parse_inputs(["x=-2, y=.5,z=1e-3", "W=[[1, 2], [3, 4]], v=[-1.5], n=nan, i=-inf"])
    assert bindings["x"] == -2.0 and bindings["y"] == 0.5 and bindings["z"] == 0.001
    assert bindings["W"].tolist() == [[1, 2], [3, 4]] and bindings["v"].tolist() == [-1.5]
    assert np.isnan(bindings["n"]) and bindings["i"] == -np.inf
    assert parse_inputs(None) == {} and parse_inputs(["", " , "]) == {}


def test_arrays_accept_the_nonfinite_words_of_scalars():
    w = parse_inputs(["w=[1, nan, inf, -inf, -Infinity, NaN, INF]"])["w"]
    assert str(w.tolist()) == "[1.0, nan, inf, -inf, -inf, nan, inf]"
    with pytest.raises(UsageError, match="must hold numbers only"):
        parse_inputs(['w=["nan"]'])
    with pytest.raises(UsageError, match="is not a JSON array: Expecting value at character 5 of '\\[1, nanx\\]'"):
        parse_inputs(["w=[1, nanx]"])


@pytest.mark.parametrize("text", ["x=", "x=abc", "=3", "x=[1,2", "x=]1[", "x=1,x=2", "x=__import__('os')",
                                  "x=[true]", "x=1+1"])
def test_parse_inputs_refuses_bad_text(text):
    with pytest.raises(UsageError):
        parse_inputs([text])


def test_guarded_turns_errors_into_statuses(capsys):
    def raising(error):
        def command():
            raise error
        return command

    span = Span("m.graph", 2, 5, "q = x ^ 2")
    assert guarded(raising(GraphSyntaxError("bad", span)), "m.graph") == 1
    assert capsys.readouterr().err == "m.graph:2:5: error: bad\n    q = x ^ 2\n        ^\n"
    assert guarded(raising(BindingError("unknown input 'w'")), "m.graph") == 1
    assert capsys.readouterr().err == "m.graph: error: unknown input 'w'\n"
    assert guarded(raising(UsageError("no")), "m.graph") == 2
    assert capsys.readouterr().err == "graphrun: error: no\n"
    assert guarded(raising(CommandError("cannot")), prog="graphrun train") == 1
    assert capsys.readouterr().err == "graphrun train: error: cannot\n"
    assert guarded(raising(KeyboardInterrupt())) == 130
    assert guarded(lambda: 0) == 0


def test_guarded_reports_a_failing_write_as_an_error_not_a_bug(capsys):
    # graphrun > /dev/full: print raises OSError(ENOSPC); not "internal error ... a bug"
    def full_disk():
        raise OSError(28, "No space left on device")

    def unwritable():
        raise PermissionError(13, "Permission denied", "out.svg")

    assert guarded(full_disk) == 1
    assert capsys.readouterr().err == "graphrun: error: No space left on device\n"
    assert guarded(unwritable, prog="graphrun train") == 1
    assert capsys.readouterr().err == "graphrun train: error: out.svg: Permission denied\n"


def test_load_model_reports_file_system_problems(tmp_path, monkeypatch):
    with pytest.raises(CommandError, match="no such file"):
        console.load_model(str(tmp_path / "none.graph"))
    with pytest.raises(CommandError, match="is a directory"):
        console.load_model(str(tmp_path))

    def denied(*args, **kwargs):  # the tests may run as root, who can read anything
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("pathlib.Path.open", denied)
    with pytest.raises(CommandError, match="permission denied"):
        console.load_model(str(tmp_path / "secret.graph"))


def test_load_model_reads_standard_input_for_a_dash(monkeypatch):
    model = "input x = 3\noutput y = x * x\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(model.encode())))
    assert console.load_model("-").run().grads["x"] == 6.0
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"output y = x ^ 2\n")))
    with pytest.raises(GraphSyntaxError) as caught:
        console.load_model("-")
    assert caught.value.file == "<stdin>" and caught.value.column == 14
    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(CommandError, match="no standard input"):
        console.load_model("-")
    assert console.model_name("-") == "<stdin>" and console.model_name("m.graph") == "m.graph"


def test_command_errors_and_usage_errors_are_bounded(capsys):
    name = "n" * 20_000
    assert len(CommandError(f"--of {name}: not an output").message) < 200

    def huge():
        raise UsageError(f"'{name}' given twice")

    assert guarded(huge) == 2
    assert len(capsys.readouterr().err) < 200
    parser = console.ArgumentParser(prog="graphrun")
    parser.add_argument("--optimizer", choices=["sgd"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--optimizer", name])
    err = capsys.readouterr().err
    assert "invalid choice" in err and len(err) < 500


@pytest.mark.parametrize("text", ["x=1e999", "x=-1e999", "x=[1, 1e999]", "x=[" + "9" * 400 + "]", "x=" + "9" * 400])
def test_parse_inputs_refuses_numbers_beyond_float64(text):
    with pytest.raises(UsageError, match="beyond float64's range"):
        parse_inputs([text])

"""console: --inputs parsing, error reports and statuses, atomic writes."""
from __future__ import annotations

import os

import numpy as np
import pytest

from graphdsl.cli import console
from graphdsl.cli.console import CommandError, UsageError, guarded, parse_inputs, write_atomic
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


def test_write_atomic_replaces_whole_files_and_protects_inputs(tmp_path):
    target = tmp_path / "out.dot"
    write_atomic(target, "first")
    write_atomic(target, b"second")
    assert target.read_text() == "second"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    model = tmp_path / "m.graph"
    model.write_text("output f = 1")
    with pytest.raises(UsageError, match="refusing to overwrite"):
        write_atomic(tmp_path / "." / "m.graph", "oops", protect=[str(model)])
    assert model.read_text() == "output f = 1"
    assert sorted(os.listdir(tmp_path)) == ["m.graph", "out.dot"]


def test_write_atomic_leaves_nothing_behind_on_failure(tmp_path):
    (tmp_path / "dir.svg").mkdir()  # renaming a file onto a directory fails
    with pytest.raises(CommandError, match="cannot write"):
        write_atomic(tmp_path / "dir.svg", "data")
    assert os.listdir(tmp_path) == ["dir.svg"]
    with pytest.raises(CommandError, match="cannot write"):
        write_atomic(tmp_path / "missing" / "x.svg", "data")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("text", ["x=1e999", "x=-1e999", "x=[1, 1e999]", "x=[" + "9" * 400 + "]", "x=" + "9" * 400])
def test_parse_inputs_refuses_numbers_beyond_float64(text):
    with pytest.raises(UsageError, match="beyond float64's range"):
        parse_inputs([text])

"""graphrun fmt: in place and atomic, --check, --diff, '-' for stdin/stdout; a file
with an error is reported as graphrun reports it and never touched."""
from __future__ import annotations

import io
import os
import stat
import sys

import pytest

from graphdsl.cli import graphrun as cli
from graphrun_subprocess import graphrun

MESSY = "output f=(x+y)*z  # f\ninput x=-2,y=5,z=-4\n"
CANONICAL = "input x = -2, y = 5, z = -4\noutput f = (x + y) * z  # f\n"


def fmt(capsys, *argv, stdin: bytes | None = None):
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        status = cli.main(["fmt", *map(str, argv)])
    finally:
        sys.stdin = sys.__stdin__
    out, err = capsys.readouterr()
    return status, out, err


def test_rewrites_files_in_place(capsys, tmp_path):
    model = tmp_path / "m.graph"
    model.write_text(MESSY)
    status, out, err = fmt(capsys, model)
    assert (status, out) == (0, "") and err == f"reformatted {model}\n"
    assert model.read_text() == CANONICAL
    assert os.listdir(tmp_path) == ["m.graph"]  # no temporary file left behind


def test_a_canonical_file_is_not_rewritten(capsys, tmp_path):
    model = tmp_path / "m.graph"
    model.write_text(CANONICAL)
    before = os.stat(model)
    assert fmt(capsys, model) == (0, "", "")
    after = os.stat(model)
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_permissions_and_symlinks_survive(capsys, tmp_path):
    model, link = tmp_path / "m.graph", tmp_path / "link.graph"
    model.write_text(MESSY)
    model.chmod(0o640)
    link.symlink_to(model)
    assert fmt(capsys, link)[0] == 0
    assert link.is_symlink() and model.read_text() == CANONICAL
    assert stat.S_IMODE(model.stat().st_mode) == 0o640


def test_check_lists_the_files_that_would_change_and_writes_nothing(capsys, tmp_path):
    messy, tidy = tmp_path / "a.graph", tmp_path / "b.graph"
    messy.write_text(MESSY)
    tidy.write_text(CANONICAL)
    assert fmt(capsys, "--check", messy, tidy) == (1, f"{messy}\n", "")
    assert messy.read_text() == MESSY
    assert fmt(capsys, "--check", tidy) == (0, "", "")


def test_diff_prints_a_unified_diff_and_writes_nothing(capsys, tmp_path):
    model = tmp_path / "m.graph"
    model.write_text(MESSY.rstrip("\n"))
    status, out, err = fmt(capsys, "--diff", model)
    assert (status, err) == (0, "") and model.read_text() == MESSY.rstrip("\n")
    assert out.startswith(f"--- {model}\n+++ {model}\n@@ ")
    assert f"+{CANONICAL.splitlines()[0]}\n" in out and "-input x=-2,y=5,z=-4\n\\ No newline at end of file\n" in out
    assert fmt(capsys, "--diff", "--check", model)[0] == 1


def test_a_folder_formats_every_graph_file_in_it_but_not_in_hidden_folders(capsys, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".venv").mkdir()
    for name in ("a.graph", "sub/b.graph", ".venv/c.graph"):
        (tmp_path / name).write_text(MESSY)
    (tmp_path / "notes.txt").write_text("x=1")
    assert fmt(capsys, "--check", tmp_path)[1] == f"{tmp_path / 'a.graph'}\n{tmp_path / 'sub' / 'b.graph'}\n"


def test_a_byte_order_mark_is_dropped(capsys, tmp_path):
    model = tmp_path / "m.graph"
    model.write_bytes(b"\xef\xbb\xbf" + CANONICAL.encode())
    assert fmt(capsys, "--check", model)[0] == 1
    assert fmt(capsys, model)[0] == 0 and model.read_bytes() == CANONICAL.encode()


def test_dash_reads_stdin_and_writes_stdout(capsys):
    assert fmt(capsys, "-", stdin=MESSY.encode()) == (0, CANONICAL, "")
    assert fmt(capsys, "--check", "-", stdin=MESSY.encode()) == (1, "<stdin>\n", "")


@pytest.mark.parametrize("text", [
    "input x\noutput y = (x +\n",
    "input x\noutput y = x + zz\n",
    "a = b\nb = a\noutput a\n",
    "gate g(a) { return a }\ninput x\noutput y = g(x, x)\n",
])
def test_a_file_with_an_error_is_reported_as_graphrun_does_and_left_untouched(capsys, tmp_path, text):
    model, other = tmp_path / "m.graph", tmp_path / "other.graph"
    model.write_bytes(text.encode())
    other.write_text(MESSY)
    assert cli.main([str(model)]) == 1
    expected = capsys.readouterr().err
    status, out, err = fmt(capsys, model, other)
    assert status == 1 and model.read_bytes() == text.encode()
    assert err == expected + f"reformatted {other}\n" and f"{model}:" in expected and "^" in expected
    assert other.read_text() == CANONICAL  # the other file is still formatted


def test_unreadable_input_and_usage_errors(capsys, tmp_path):
    assert fmt(capsys, tmp_path / "missing.graph") == (1, "", f"graphrun: error: {tmp_path / 'missing.graph'}: no such file\n")
    bad = tmp_path / "latin1.graph"
    bad.write_bytes(b"input x # caf\xe9\noutput x\n")
    status, _, err = fmt(capsys, bad)
    assert status == 1 and "not UTF-8" in err and bad.read_bytes() == b"input x # caf\xe9\noutput x\n"
    status, _, err = fmt(capsys)
    assert status == 2 and "usage: graphrun fmt" in err


def test_the_installed_command_formats_a_deeply_nested_file(tmp_path):
    model = tmp_path / "deep.graph"
    model.write_text("input x = 1\r\n# deep\r\noutput y = " + "(" * 100_000 + "x" + ")" * 100_000)
    done = graphrun("fmt", model)
    assert done.returncode == 0, done.stderr
    assert model.read_text() == "input x = 1\n# deep\noutput y = x\n"
    assert graphrun(model).stdout.startswith("y = 1\n")

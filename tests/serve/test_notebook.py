"""Jupyter: ``%load_ext graphdsl`` and ``%%graph NAME`` in IPython, and the example
notebook executed by a real kernel, with and without the widget's extra."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "notebook.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def shell():
    interactive = pytest.importorskip("IPython.core.interactiveshell",
                                      reason="IPython is not installed (pip install -e '.[test]')")
    ipython = interactive.InteractiveShell.instance()
    ipython.run_cell("%load_ext graphdsl")
    return ipython


def test_graph_magic_binds_a_program(shell):
    shell.run_cell("%%graph f\ninput x = 3\noutput y = x * x\n")
    program = shell.user_ns["f"]
    assert program.run().grads["x"] == 6.0
    assert program.file == "<cell f>"


def test_a_mistake_shows_its_positioned_error_and_no_traceback(shell, capsys):
    shell.run_cell("%%graph g\ninput x = 3\noutput y = x * x\n")
    capsys.readouterr()
    result = shell.run_cell("%%graph g\ninput x = 1\noutput y = x ^ 2\n")
    out, err = capsys.readouterr()
    assert result.success and "Traceback" not in out + err
    assert err == ("<cell g>:2:14: error: '^' is not an operator here: write powers as 'x ** 2'\n"
                   "    output y = x ^ 2\n                 ^\n")
    assert shell.user_ns["g"].run().outputs["y"] == 9.0  # the old program stays


@pytest.mark.parametrize("line, words", [("", "usage: %%graph NAME"), ("1abc", "not a Python name"),
                                         ("class", "not a Python name"), ("a b", "not a Python name")])
def test_the_magic_needs_a_name(shell, capsys, line, words):
    result = shell.run_cell(f"%%graph {line}\ninput x\noutput y = x\n")
    err = capsys.readouterr().err
    assert result.success and words in err and "Traceback" not in err


def execute(monkeypatch, tmp_path, block_anywidget: bool):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install -e '.[test]')")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (pip install -e '.[test]')")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (pip install -e '.[test]')")
    if block_anywidget:  # the kernel finds this 'anywidget' first, and cannot import it
        (tmp_path / "anywidget.py").write_text("raise ImportError('anywidget is blocked for this test')\n")
        monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    # A kernel of this very Python (where graphdsl is installed), whatever other kernels exist.
    spec = tmp_path / "jupyter" / "kernels" / "graphdsl-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "graphdsl tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="graphdsl-test",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    return notebook


def outputs(notebook, starts):
    cell = next(c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(starts))
    return cell.outputs


def check_common(notebook):
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", output
    results = outputs(notebook, "res = mul_add.run")
    assert "{'f': -12.0}" in results[0]["data"]["text/plain"]
    typo = outputs(notebook, "%%graph typo")
    assert [o.name for o in typo] == ["stderr"]
    assert typo[0].text.startswith("<cell typo>:2:14: error: '^' is not an operator here")
    assert "Traceback" not in typo[0].text


def test_the_notebook_runs_with_the_widget(monkeypatch, tmp_path):
    pytest.importorskip("anywidget", reason="anywidget is not installed (pip install -e '.[test]')")
    notebook = execute(monkeypatch, tmp_path, block_anywidget=False)
    check_common(notebook)
    for starts in ("graphdsl.widget(mul_add)", "neuron = graphdsl.load"):
        assert WIDGET in outputs(notebook, starts)[0]["data"]


def test_the_notebook_runs_without_the_widgets_extra(monkeypatch, tmp_path):
    notebook = execute(monkeypatch, tmp_path, block_anywidget=True)
    check_common(notebook)
    shown = outputs(notebook, "graphdsl.widget(mul_add)")[0]["data"]
    assert WIDGET not in shown
    assert "pip install 'graphdsl[widget]'" in shown["text/html"]

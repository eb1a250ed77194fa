"""The README and the committed pictures tell the truth about the current code."""
from __future__ import annotations

import doctest
import importlib.util
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest

from graphdsl.inspect.render import render
from graphrun_subprocess import ROOT, graphrun
from optional import needs_dot

README = ROOT / "README.md"
SVG_TEXT = "{http://www.w3.org/2000/svg}text"


def make_figures():
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "docs" / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def svg_texts(data) -> list:
    return sorted(t.text or "" for t in ET.fromstring(data).iter(SVG_TEXT))


@pytest.mark.parametrize("example", make_figures().EXAMPLES)
def test_committed_dot_sources_are_current(example):
    source = make_figures().figure_dot(example)
    committed = ROOT / "docs" / "figures" / f"{example}.dot"
    assert committed.read_text(encoding="utf-8") == source, "run: python docs/make_figures.py"


@needs_dot
@pytest.mark.parametrize("example", make_figures().EXAMPLES)
def test_committed_figures_are_current(example):
    source = make_figures().figure_dot(example)
    committed = ROOT / "docs" / "figures" / f"{example}.svg"
    # Layout coordinates vary with the Graphviz version; the words drawn do not.
    assert svg_texts(committed.read_bytes()) == svg_texts(render(source, "svg"))


def test_the_tests_that_need_graphviz_skip_without_it(tmp_path):
    """The README's test command passes on a machine without Graphviz: every test that
    draws with dot skips, saying why, instead of failing (here dot is hidden from PATH)."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    environment["PATH"] = str(tmp_path)  # an empty folder: no dot on it
    tests = ["tests/inspect/test_render.py", "tests/test_docs.py::test_committed_figures_are_current",
             "tests/cli/test_cli.py::test_dot_and_render_write_files_atomically",
             "tests/cli/test_cli.py::test_dpi_sets_the_resolution_of_a_png",
             "tests/cli/test_cli.py::test_render_without_graphviz_prints_the_numbers_then_says_how_to_install_it",
             "tests/inspect/test_dot_layout.py"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *tests],
                          cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and " skipped" in summary and "failed" not in summary, summary
    assert "needs Graphviz's 'dot' program, which is not on PATH" in done.stdout


def console_blocks():
    """(command, expected output) for every ``$ graphrun`` line of a console block."""
    text = README.read_text(encoding="utf-8")
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        command, *output = block.rstrip("\n").split("\n")
        assert command.startswith("$ graphrun ")
        yield shlex.split(command[2:])[1:], output


def test_readme_shows_real_output():
    blocks = list(console_blocks())
    assert len(blocks) >= 6
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(lambda block: graphrun(*block[0]), blocks))
    for (args, expected), done in zip(blocks, runs):
        assert done.returncode == 0, (args, done.stderr)
        got = done.stdout.rstrip("\n").split("\n")
        assert len(got) == len(expected), (args, got)
        for want, line in zip(expected, got):
            prefix, dots, _ = want.partition("...")
            assert (line.startswith(prefix) if dots else line == want), (args, line)


def test_readme_python_examples(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = doctest.testfile(str(README), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0


def test_readme_starts_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    run = ('python3 -m venv .venv && . .venv/bin/activate && pip install -e . && '
           'graphrun examples/mul_add.graph --inputs x=-2,y=5,z=-4')
    test = ('python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && '
            'python -m pytest -q')
    assert text.index(run) < text.index(test) < text.index("## A tour")

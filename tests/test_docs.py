"""The README and the committed pictures tell the truth about the current code."""
from __future__ import annotations

import doctest
import importlib.util
import re
import shlex
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest

from graphdsl.inspect.render import render
from graphrun_subprocess import ROOT, graphrun

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
def test_committed_figures_are_current(example):
    source = make_figures().figure_dot(example)
    committed = ROOT / "docs" / "figures" / example
    assert committed.with_suffix(".dot").read_text(encoding="utf-8") == source, \
        "run: python docs/make_figures.py"
    # Layout coordinates vary with the Graphviz version; the words drawn do not.
    assert svg_texts(committed.with_suffix(".svg").read_bytes()) == svg_texts(render(source, "svg"))


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

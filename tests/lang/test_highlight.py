"""Syntax highlighting: the Pygments lexer (registered as ``graph`` for ``*.graph``) and
the TextMate grammar of editors/ cover every character of every example and of random
valid programs, and mark keywords, gate names, numbers, comments and operators."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import budget
from graph_programs import program
from graphdsl.lang.canonical import format_text
from graphdsl.gates import GATES
from textmate import Grammar

pygments = pytest.importorskip("pygments", reason="pygments is the optional extra 'highlight'")
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename  # noqa: E402
from pygments.token import Comment, Error, Keyword, Name, Number, Operator  # noqa: E402

from graphdsl.lang.highlight import BUILTINS, GraphLexer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.graph"))
TEXTMATE = ROOT / "editors" / "graph.tmLanguage.json"
SAMPLE = """\
# a comment
gate logistic(l) {
    return 4 * l * (1 - l)  # the map
}
input x: [2] = [0.5, -1e-3], y = .5
param W: [2, 2] ~ normal(0, 0.01)
h = W @ x ** 2 / y - exp(x)
output f = sum(repeat(logistic, 3, h), axis=None)
output m = where(x >= 0, x[1:], x[::-1])
"""


def pygments_tokens(text: str) -> list:
    return [(kind, value) for kind, value in GraphLexer(stripnl=False).get_tokens(text)
            if value.strip()]


def marked(tokens, kind) -> set:
    return {value for token, value in tokens if token in kind}


def test_the_lexer_is_registered_by_name_and_file_pattern():
    assert isinstance(get_lexer_by_name("graph"), GraphLexer)
    # (Pygments' own Roboconf lexer claims *.graph too.)
    assert isinstance(get_lexer_for_filename("model.graph"), GraphLexer)
    assert isinstance(get_lexer_for_filename("model.graph", code=SAMPLE), GraphLexer)


def test_pygmentize_highlights_a_file(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pygments", "-l", "graph", "-f", "html",
                           str(ROOT / "examples" / "mul_add.graph")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert '<span class="k">input</span>' in done.stdout and '<span class="c1">' in done.stdout


def test_the_lexer_marks_keywords_gates_numbers_comments_and_operators():
    tokens = pygments_tokens(SAMPLE)
    assert marked(tokens, Keyword) >= {"gate", "return", "input", "param", "output"}
    assert marked(tokens, Name.Builtin) >= {"exp", "sum", "repeat", "normal", "where"}
    assert marked(tokens, Name.Function) == {"logistic"}  # where it is defined and where it is called
    assert marked(tokens, Number) >= {"4", "1", "0.5", "1e-3", ".5", "0.01", "3"}
    assert marked(tokens, Comment) == {"# a comment", "# the map"}
    assert marked(tokens, Operator) >= {"*", "-", "@", "**", "/", "=", "~", ">="}
    assert marked(tokens, Name.Attribute) == {"axis"}
    assert marked(tokens, Name.Variable) >= {"x", "y", "W", "h", "f", "m"}


def test_every_gate_of_the_table_is_a_builtin_of_both_highlighters():
    assert set(GATES) <= set(BUILTINS)
    rule = json.loads(TEXTMATE.read_text())["repository"]["builtin-call"]["begin"]
    assert set(re.search(r"\(([a-z_|]+)\)", rule).group(1).split("|")) == set(BUILTINS) - {"repeat"}


def no_error_tokens(text: str) -> None:
    tokens = list(GraphLexer(stripnl=False, ensurenl=False).get_tokens(text))
    assert "".join(value for _, value in tokens) == text.replace("\r\n", "\n")  # (as Pygments reads it)
    assert [value for kind, value in tokens if kind in Error] == [], text


def textmate_covers(grammar: Grammar, text: str) -> None:
    """Every character but whitespace is matched by some rule of the grammar."""
    for line, scopes in zip(text.split("\n"), grammar.scopes(text)):
        for char, scope in zip(line, scopes):
            named = [s for s in scope[1:] if not s.startswith("meta.")]
            assert char.isspace() or named, (line, char, scope)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_every_example_is_highlighted_without_errors(path):
    text = path.read_text(encoding="utf-8")
    no_error_tokens(text)
    textmate_covers(Grammar(TEXTMATE), text)


@budget(300)
@given(st.integers(0, 2**32 - 1))
def test_random_valid_programs_are_highlighted_without_errors(seed):
    text, _ = program(seed)
    grammar = Grammar(TEXTMATE)
    for each in (text, format_text(text)):
        no_error_tokens(each)
        textmate_covers(grammar, each.replace("\r", ""))


def scope_of(grammar: Grammar, text: str, word: str, occurrence: int = 0) -> str:
    lines = text.split("\n")
    found = [(i, m.start()) for i, line in enumerate(lines) for m in re.finditer(re.escape(word), line)]
    line, column = found[occurrence]
    return " ".join(grammar.scopes(text)[line][column])


@pytest.mark.parametrize("word, occurrence, scope", [
    ("gate", 0, "keyword.control.gate"), ("return", 0, "keyword.control.return"),
    ("input", 0, "keyword.control.input"), ("output", 0, "keyword.control.output"),
    ("logistic", 0, "entity.name.function.graph"), ("logistic", 1, "entity.name.function.call"),
    ("exp", 0, "support.function.builtin"), ("where", 0, "support.function.builtin"),
    ("normal", 0, "support.function.builtin"), ("1e-3", 0, "constant.numeric.float"),
    ("4", 0, "constant.numeric.integer"), ("# the map", 0, "comment.line.number-sign"),
    ("**", 0, "keyword.operator.arithmetic"), ("@", 0, "keyword.operator.matrix"),
    (">=", 0, "keyword.operator.comparison"), ("axis", 0, "variable.parameter.option"),
    ("h =", 0, "variable.other.definition"),
])
def test_the_textmate_grammar_marks_keywords_gates_numbers_comments_and_operators(word, occurrence, scope):
    assert scope in scope_of(Grammar(TEXTMATE), SAMPLE, word, occurrence)


def test_the_textmate_tokenizer_here_agrees_with_vscode_textmate():
    """tests/textmate.py against VS Code's own tokenizer, where node and the npm packages
    vscode-textmate and vscode-oniguruma are installed."""
    node = shutil.which("node")
    check = subprocess.run([node, "-e", "require('vscode-textmate'); require('vscode-oniguruma')"],
                           capture_output=True) if node else None
    if check is None or check.returncode != 0:
        pytest.skip("needs node with the npm packages vscode-textmate and vscode-oniguruma (NODE_PATH)")
    texts = [path.read_text(encoding="utf-8") for path in EXAMPLES] + [SAMPLE]
    texts += [program(seed)[0].replace("\r", "") for seed in range(20)]
    grammar = Grammar(TEXTMATE)
    for text in texts:
        done = subprocess.run([node, str(Path(__file__).resolve().parents[1] / "textmate_tokenize.js"), str(TEXTMATE)],
                              input=text, capture_output=True, text=True, env=dict(os.environ), check=True)
        assert [[list(s) for s in line] for line in grammar.scopes(text)] == json.loads(done.stdout)

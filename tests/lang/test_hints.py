"""hints: what students type gets a positioned error that says what to write instead."""
from __future__ import annotations

import pytest

import graphdsl
from graphdsl.lang import hints
from graphrun_subprocess import graphrun


def error(text: str) -> graphdsl.GraphSyntaxError:
    with pytest.raises(graphdsl.GraphSyntaxError) as caught:
        graphdsl.loads(text, "student.graph")
    return caught.value


@pytest.mark.parametrize("text,where,words", [
    # indexing: an entry cannot be assigned; an index needs an item
    ("input x: [3]\nx[0] = 1\noutput x", (2, 2), ["'x[...] = ...' cannot change entries", "where(c, a, b)"]),
    ("input x: [3]\noutput y = x[]", (2, 14), ["an index needs at least one item", "x[1:3]"]),
    ("input x: [3]\noutput x[0]", (2, 9), ["an output is a name", "'output first = x[...]'"]),
    ("input x: [3]\noutput x, x[0]", (2, 12), ["an output is a name"]),
    # comparisons do not chain; Unicode ones have their ASCII spelling
    ("input x\noutput y = x < 1 < 2", (2, 18), ["comparisons do not chain", "(a < b) * (b < c)"]),
    ("input x\noutput y = 0 <= x <= 1", (2, 19), ["comparisons do not chain"]),
    ("input x\noutput y = x == 1 != 0", (2, 19), ["comparisons do not chain"]),
    ("input x\noutput y = sum([x > 0, x >= 1 > 0])", (2, 31), ["comparisons do not chain"]),
    ("input x\nx == 3\noutput x", (2, 3), ["an expression on its own is not a statement"]),
    ("input x\noutput y = x ≤ 1", (2, 14), ["'≤' is not an operator here: write '<='"]),
    ("input x\noutput y = x ≥ 1", (2, 14), ["write '>='"]),
    ("input x\noutput y = x ≠ 1", (2, 14), ["write '!='"]),
    ("input x\noutput y = x ! 1", (2, 14), ["'!' is not an operator", "'a != b'", "1 - c"]),
    # a function written as in mathematics
    ("input x\nf(x) = x * 2\noutput y = f(x)", (2, 1),
     ["a gate is not defined with '='", "write 'gate f(x) { return x * 2 }'"]),
    ("input x\ng(a, b) = a * b  # product\noutput y = g(x, x)", (2, 1), ["'gate g(a, b) { return a * b }'"]),
    ("gate outer(a) {\n  inner(b) = b\n  return a\n}\noutput y = outer(1)", (2, 3), ["'gate inner(b) { return b }'"]),
    ("input x\ndef f(x):\n    return x * 2", (2, 1), ["'def' is not a keyword", "gate f(x) { return ... }"]),
    ("input x\nf(x)\noutput x", (2, 1), ["a call on its own is not a statement", "'y = f(x)'"]),
    ("input x\nx += 1\noutput x", (2, 3), ["'+=' is not supported", "x2 = x + 1"]),
    ("input x\nx * 2\noutput x", (2, 3), ["an expression on its own is not a statement"]),
    # misspelt keywords
    ("inptu x\noutput y = x * 2", (1, 1), ["'inptu' is not a keyword: did you mean 'input'?"]),
    ("input x\nouput y = x", (2, 1), ["did you mean 'output'?"]),
    ("paramm w = 1\noutput y = w", (1, 1), ["did you mean 'param'?"]),
    ("gat f(a) { return a }", (1, 1), ["did you mean 'gate'?"]),
    ("gate f(a) {\n  retrun a\n}\noutput y = f(1)", (2, 3), ["did you mean 'return'?"]),
    ("Input x\noutput y = x", (1, 1), ["keywords are lower case: write 'input'"]),
    # Unicode operators
    ("input x\noutput y = x × 3", (2, 14), ["'×' is not an operator here: write '*' for multiplication"]),
    ("input x\noutput y = x · 3", (2, 14), ["write '*'"]),
    ("input x\noutput y = x ⊙ x", (2, 14), ["write '*'"]),
    ("input x\noutput y = x − 1", (2, 14), ["'−' is not an operator here: write '-' for subtraction"]),
    ("input x\noutput y = −x", (2, 12), ["write '-'"]),
    ("input x\noutput y = x – 1", (2, 14), ["write '-'"]),
    ("input x\noutput y = x ÷ 2", (2, 14), ["'÷' is not an operator here: write '/' for division"]),
    ("input x\noutput y = x²", (2, 13), ["write powers with '**', e.g. x ** 2"]),
    ("input x\noutput y = (x + 1)³", (2, 19), ["e.g. (...) ** 3"]),
    ("input x\noutput y = x⁻¹", (2, 13), ["e.g. x ** -1"]),
    ("input x\noutput y = √x", (2, 12), ["write square roots as sqrt(x)"]),
    ("input x\noutput y = 2 * π * x", (2, 16), ["write the number 3.141592653589793"]),
    ("input x\noutput y ≔ x", (2, 10), ["write '=' for assignment"]),
    ("input x: [3]\noutput y = x.sum()", (2, 13), ["'.sum' is not part of the language", "sum(x) for x.sum"]),
    ("input x: [2, 2]\noutput y = sum(x.T)", (2, 17), ["transpose(x) for x.T"]),
    ("input x\noutput y = x\u00a0+ 1", (2, 13), ["a Unicode space (U+00A0, no-break space)"]),
    ("input x\noutput y = x\u200b+ 1", (2, 13), ["an invisible character (U+200B, zero width space)"]),
])
def test_what_students_type_gets_a_hint_at_the_right_place(text, where, words):
    err = error(text)
    assert (err.line, err.column) == where, err.message
    for word in words:
        assert word in err.message


def test_plain_mistakes_keep_their_plain_messages():
    assert error("input x\nfoo bar\noutput x").message == "expected '=', found 'bar'"
    assert error("input x [3]\noutput x").message.startswith("expected")  # a shape needs ':'
    assert error("y = x $ 2").message == "unexpected character '$'"
    assert error("y = = 3\noutput y").message.startswith("missing operand")  # not a comparison
    assert error("input x: [3 < 4]\noutput x").message.startswith("expected")  # not a chained comparison
    assert error("input x\noutput y = f(x, < 1)").message.startswith("missing operand")


def test_comparisons_and_indexing_are_the_language_now():
    prog = graphdsl.loads("input x: [3] = [1, 2, 3]\noutput y = x[0] + (x[-1] > 2) + sum(x[1:] == 2)")
    assert prog.run().outputs["y"] == 3.0
    assert not hasattr(hints, "NOT_YET")


def test_graphrun_shows_the_hint_with_the_line_and_a_caret(tmp_path):
    model = tmp_path / "student.graph"
    model.write_text("input x = 2\noutput y = x × 3\n", encoding="utf-8")
    done = graphrun(model)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"{model}:2:14: error: '×' is not an operator here: write '*' for multiplication",
        "    output y = x × 3",
        "                 ^"]

"""The canonical form (SPEC §5): parentheses, spacing, order, comments, blank lines,
hostile layouts, deep nesting, and Program.to_text's round trip."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import graphdsl
from graphdsl.lang import syntax as S
from graphdsl.lang.canonical import check, format_text
from graphdsl.lang.parse import parse

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.graph"))


def canonical(text: str) -> str:
    """The formatted text, checked to be a fixed point and to parse to the same tree."""
    out = format_text(text)
    assert format_text(out) == out, out
    text = text.removeprefix("\ufeff")  # (format_text drops a byte-order mark as loads does)
    check(parse(text), text, out)
    return out


def expr(text: str) -> str:
    return canonical(f"input a, b, c, x, y, z\noutput q = {text}\n").split("output q = ")[1][:-1]


@pytest.mark.parametrize("written, printed", [
    ("(a + b) + c", "a + b + c"),
    ("a + (b + c)", "a + (b + c)"),
    ("(a - b) - c", "a - b - c"),
    ("a - (b - c)", "a - (b - c)"),
    ("a - (b + c)", "a - (b + c)"),
    ("(a / b) * c", "a / b * c"),
    ("a / (b * c)", "a / (b * c)"),
    ("a * (b / c)", "a * (b / c)"),
    ("(a * b) + (c * x)", "a * b + c * x"),
    ("(a + b) * c", "(a + b) * c"),
    ("(a @ b) @ c", "a @ b @ c"),
    ("a @ (b @ c)", "a @ (b @ c)"),
    ("-x**2", "-x ** 2"),
    ("-(x ** 2)", "-x ** 2"),
    ("(-x) ** 2", "(-x) ** 2"),
    ("x ** (y ** z)", "x ** y ** z"),
    ("(x ** y) ** z", "(x ** y) ** z"),
    ("x ** (-y)", "x ** -y"),
    ("x**-y**z", "x ** -y ** z"),
    ("(a * b) ** 2", "(a * b) ** 2"),
    ("(exp(x)) ** 2", "exp(x) ** 2"),
    ("([1, 2]) ** 2", "[1, 2] ** 2"),
    ("-(a + b)", "-(a + b)"),
    ("-(a * b)", "-(a * b)"),
    ("(-a) * b", "-a * b"),
    ("a * (-b)", "a * -b"),
    ("a + (-b)", "a + -b"),
    ("-(-x)", "--x"),
    ("((((x))))", "x"),
    ("exp((-(x)))", "exp(-x)"),
    ("sum((x), axis=(-1))", "sum(x, axis=-1)"),
    ("mean(x,axis = None)", "mean(x, axis=None)"),
    ("add( a ,b , )", "add(a, b)"),
    ("[ (1), -(2), ]", "[1, -2]"),
    # comparisons: the lowest level, and they do not chain
    ("(a + b) < (c * d)", "a + b < c * d"),
    ("a + (b < c)", "a + (b < c)"),
    ("(a < b) == (c>=d)", "(a < b) == (c >= d)"),
    ("((a != b)) * 2", "(a != b) * 2"),
    ("-(a <= b)", "-(a <= b)"),
    ("where((x>0),x,0)", "where(x > 0, x, 0)"),
    ("(a ** b) > -c", "a ** b > -c"),
    # indexing binds as tightly as a call
    ("x[ 1 : 3 , : ,::2 ]", "x[1:3, :, ::2]"),
    ("x[1,]", "x[1]"),
    ("x[1:3:]", "x[1:3]"),
    ("(x)[0]", "x[0]"),
    ("(x[0])", "x[0]"),
    ("-(x[0])", "-x[0]"),
    ("(-x)[0]", "(-x)[0]"),
    ("(x ** 2)[0]", "(x ** 2)[0]"),
    ("(x[0]) ** 2", "x[0] ** 2"),
    ("x ** (y[0])", "x ** y[0]"),
    ("(a + b)[-1]", "(a + b)[-1]"),
    ("(a < b)[0]", "(a < b)[0]"),
    ("(f(x))[0][ -1 ]", "f(x)[0][-1]"),
    ("([1, 2])[0]", "[1, 2][0]"),
    ("(-2)[0]", "(-2)[0]"),
    ("-2[0]", "-2[0]"),
    ("reshape(x,shape = [ 2,-1 ])", "reshape(x, shape=[2, -1])"),
    ("concat( a,b ,c, axis = 1 , )", "concat(a, b, c, axis=1)"),
])
def test_the_fewest_parentheses_that_keep_the_tree(written, printed):
    assert expr(written) == printed


@pytest.mark.parametrize("written, printed", [
    ("2.50 + 1E-3", "2.50 + 1E-3"),
    (".5 * 4.", ".5 * 4."),
    ("0.25e1 - 007", "0.25e1 - 007"),
    ("x - - 2", "x - -2"),
    ("-(1.5)", "-1.5"),
    ("- (\n -(3))", "--3"),
    ("(-2) ** 2", "(-2) ** 2"),
    ("-(2) ** 2", "-2 ** 2"),
    ("x * -(# a comment inside\n 2)", "x * -2"),
    ("x[ 01 : 2.0e0 : - 1 ]", "x[01:2.0e0:-1]"),
])
def test_numbers_stay_as_written(written, printed):
    assert expr(written).split("  #")[0] == printed


def test_the_seed_example_is_already_canonical():
    text = "# f(x, y, z) = (x + y) * z\ninput x = -2, y = 5, z = -4\nq = x + y\nf = q * z\noutput f\n"
    assert canonical(text) == text


def test_one_statement_per_line_with_one_space_around_operators_and_after_commas():
    text = "input x=1,y = 2;param w:[ 2 ,n]~normal( 0,0.5 )\nq=x*y ; output f=sum(w+q),q"
    assert canonical(text) == ("input x = 1, y = 2\nparam w: [2, n] ~ normal(0, 0.5)\nq = x * y\n"
                               "output f = sum(w + q), q\n")


def test_statements_spanning_lines_are_joined():
    text = "input W: [2,\n 2] = [[1, 0],\n\n  [0, 1]]\noutput f = sum(\n  W\n  @ W\n)\n"
    assert canonical(text) == "input W: [2, 2] = [[1, 0], [0, 1]]\noutput f = sum(W @ W)\n"


def test_inputs_and_params_come_first_and_the_rest_keeps_its_order():
    text = "f = q * z\ninput x\ngate g(a) { return a }\nq = g(x) + y\nparam z = 1\noutput f\ninput y\n"
    assert canonical(text) == ("input x\nparam z = 1\ninput y\nf = q * z\ngate g(a) {\n    return a\n}\n"
                               "q = g(x) + y\noutput f\n")


def test_gate_bodies_are_indented_four_spaces():
    text = "gate g(a,b)\n{\n\t\tt = a*b ;  return t+1 }\ninput x\noutput y = g(x, x)"
    assert canonical(text) == "input x\ngate g(a, b) {\n    t = a * b\n    return t + 1\n}\noutput y = g(x, x)\n"


def test_every_comment_stays_on_its_statement():
    text = ("# the file\n\n# about q\nq = x + 1  # q's end\n"
            "output f = add(q,  # inside\n    q)  # f's end\n"
            "input x # the input\n# the end\n")
    assert canonical(text) == ("# the file\n\ninput x  # the input\n# about q\nq = x + 1  # q's end\n"
                               "# inside\noutput f = add(q, q)  # f's end\n# the end\n")


def test_comments_in_gate_bodies_keep_their_places():
    text = ("gate g(a)  # above the gate\n{  # after the brace\n  # about t\n  t = a * 2 ; # t's end\n"
            "  return t   # return's end\n  # before the brace\n}  # after the gate\ninput x\noutput y = g(x)\n")
    assert canonical(text) == ("input x\n# above the gate\ngate g(a) {  # after the brace\n"
                               "    # about t\n    t = a * 2  # t's end\n    return t  # return's end\n"
                               "    # before the brace\n}  # after the gate\noutput y = g(x)\n")


def test_a_comment_after_a_semicolon_belongs_to_the_last_statement_of_its_line():
    assert canonical("input x; output x  # both\n") == "input x\noutput x  # both\n"
    assert canonical("input x;   # after x\noutput x\n") == "input x  # after x\noutput x\n"


def test_blank_lines_are_kept_one_in_a_row_and_not_at_the_edges():
    text = "\n\n\ninput x\n\n\n\n# about q\n\nq = x\n\n\ngate g(a) {\n\n  t = a\n\n\n  return t\n\n}\noutput q\n\n\n"
    assert canonical(text) == ("input x\n\n# about q\n\nq = x\n\ngate g(a) {\n    t = a\n\n"
                               "    return t\n}\noutput q\n")


def test_a_blank_line_left_behind_by_a_moved_input_stays_between_the_others():
    text = "gate g(a) {\n    return a\n}\n\ninput x = 0.3\nf = g(x)\noutput f\n"
    assert canonical(text) == "input x = 0.3\ngate g(a) {\n    return a\n}\n\nf = g(x)\noutput f\n"


def test_crlf_tabs_form_feeds_trailing_spaces_and_no_final_newline():
    text = "\ufeffinput\tx = 1 \r\n\f\r\n\tq\t=\tx*2\t# tab\t\r\noutput q \t"
    assert canonical(text) == "input x = 1\n\nq = x * 2  # tab\noutput q\n"


def test_text_that_does_not_parse_is_refused_with_its_place():
    with pytest.raises(graphdsl.GraphSyntaxError) as caught:
        format_text("input x\noutput y = (x +\n", "bad.graph")
    assert (caught.value.file, caught.value.line) == ("bad.graph", 2)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_examples_keep_their_numbers_bit_for_bit(path):
    text = path.read_text(encoding="utf-8")
    out = canonical(text)
    assert _same_numbers(graphdsl.loads(text).run(), graphdsl.loads(out).run())


N = 100_000


@pytest.mark.parametrize("name, body, printed", [
    ("parentheses", "(" * N + "x" + ")" * N, "x"),
    ("unary minus", "-" * N + "x", "-" * N + "x"),
    ("right-nested subtraction", "x - (" * N + "x" + ")" * N, "x - (" * (N - 1) + "x - x" + ")" * (N - 1)),
])
def test_100000_deep_nesting_formats_without_recursion(name, body, printed):
    out = format_text(f"input x = 1\noutput y = {body}  # deep\n")
    assert out == f"input x = 1\noutput y = {printed}  # deep\n", name


# ---------------------------------------------------------------- Program.to_text
def test_to_text_is_the_canonical_form_of_the_source():
    text = "output f = (x*y)  # f\ninput x=2, y=3\n"
    prog = graphdsl.loads(text)
    assert prog.to_text() == format_text(text) == "input x = 2, y = 3\noutput f = x * y  # f\n"


TRICKY = [0.1, 1 / 3, -0.0, 5e-324, 1.7976931348623157e308, 1e22, -2.5e-300, 123456789.125]


def test_to_text_writes_params_set_by_with_params_exactly():
    prog = graphdsl.loads("input x = 1\nparam w = 0, V: [2, 4] = [[1,2,3,4],[5,6,7,8]], u\n"
                          "output f = sum(V * w * x) + u")
    values = {"w": TRICKY[0], "V": np.array(TRICKY).reshape(2, 4), "u": -0.0}
    trained = prog.with_params(values)
    again = graphdsl.loads(trained.to_text())
    for name, value in values.items():
        assert np.asarray(again.defaults()[name]).tobytes() == np.asarray(value, dtype=float).tobytes()
    assert _same_numbers(trained.run(), again.run())
    assert "[[0.1, 0.3333333333333333, -0.0, 5e-324]" in trained.to_text()


def test_to_text_keeps_random_draws_that_loads_draws_again():
    text = "param W: [2, 3] ~ normal(0, 1)\nparam b: [3] ~ uniform(-1, 1)\ninput x: [2] = [1, 2]\noutput f = sum(x @ W + b)"
    prog = graphdsl.loads(text)
    assert "~ normal(0, 1)" in prog.to_text() and "~ uniform(-1, 1)" in prog.to_text()
    assert _same_numbers(prog.run(), graphdsl.loads(prog.to_text()).run())


@pytest.mark.parametrize("make", [
    lambda p: graphdsl.loads(p, seed=7),  # another seed draws other numbers
    lambda p: graphdsl.loads(p).with_params({"W": np.ones((2, 3))}),  # and b's draw would shift
])
def test_to_text_writes_the_values_of_draws_loads_would_not_repeat(make):
    text = "param W: [2, 3] ~ normal(0, 1)\nparam b: [3] ~ normal(0, 1)\ninput x: [2] = [1, 2]\noutput f = sum(x @ W + b)"
    prog = make(text)
    written = prog.to_text()
    assert "~" not in written
    again = graphdsl.loads(written)
    for name in ("W", "b"):
        assert np.asarray(again.defaults()[name]).tobytes() == np.asarray(prog.defaults()[name]).tobytes()


@pytest.mark.parametrize("value, message", [
    (np.float32(0.5), "float32 numbers"),
    (np.array([1.0, np.nan]), "NaN or infinite"),
    (np.zeros((0, 3)), "empty axis before the last"),
])
def test_to_text_refuses_values_the_language_cannot_write(value, message):
    prog = graphdsl.loads("param w\noutput f = sum(w)").with_params({"w": value})
    with pytest.raises(ValueError, match=message):
        prog.to_text()


def _same_numbers(first, second) -> bool:
    for a, b in ((first.outputs, second.outputs), (first.grads, second.grads)):
        if a.keys() != b.keys():
            return False
        for name in a:
            if np.asarray(a[name]).tobytes() != np.asarray(b[name]).tobytes():
                return False
    return True


def test_same_tree_ignores_places_and_tells_negative_zero_apart():
    assert S.same_tree(parse("y = x + 1").statements, parse("\n\ny  =  x+1").statements)
    assert not S.same_tree(parse("y = -0.0").statements, parse("y = 0.0").statements)
    assert not S.same_tree(parse("y = a - (b - c)").statements, parse("y = a - b - c").statements)


def test_a_comment_inside_a_subscript_leads_its_statement():
    text = "input x: [3]\ny = x[1:  # from one\n  ]  # end\noutput f = x[0] <\t(y[0])"
    assert format_text(text) == "input x: [3]\n# from one\ny = x[1:]  # end\noutput f = x[0] < y[0]\n"
    prog = graphdsl.loads(text)
    assert prog.to_text() == format_text(text) and graphdsl.loads(prog.to_text()).run(x=[3, 1, 2]).outputs == \
        prog.run(x=[3, 1, 2]).outputs == {"f": 0.0}

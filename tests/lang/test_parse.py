"""The grammar: lexical rules, precedence, statements, and syntax errors with positions."""
import pytest

import graphdsl
from graphdsl.lang import syntax as S
from graphdsl.lang.parse import parse


def expr_of(text):
    return parse(f"y = {text}").statements[0].expr


def shape(node):
    """A compact prefix form of an expression, for asserting structure."""
    if isinstance(node, S.Number):
        return node.value
    if isinstance(node, S.Name):
        return node.id
    if isinstance(node, S.Array):
        return [shape(i) for i in node.items]
    if isinstance(node, S.Slice):
        return slice(*[None if part is None else shape(part) for part in (node.start, node.stop, node.step)])
    if node.symbol == "[":
        return ("index", shape(node.args[0]), *[shape(item) for item in node.options[0].value.items])
    return (node.gate, *[shape(a) for a in node.args])


@pytest.mark.parametrize("text,tree", [
    ("a + b * c", ("add", "a", ("mul", "b", "c"))),
    ("a - b - c", ("sub", ("sub", "a", "b"), "c")),
    ("a / b * c", ("mul", ("div", "a", "b"), "c")),
    ("a @ b + c", ("add", ("matmul", "a", "b"), "c")),
    ("-x ** 2", ("neg", ("pow", "x", 2.0))),
    ("x ** -2", ("pow", "x", -2.0)),
    ("a ** b ** c", ("pow", "a", ("pow", "b", "c"))),
    ("-a * b", ("mul", ("neg", "a"), "b")),
    ("(a + b) * c", ("mul", ("add", "a", "b"), "c")),
    ("2 ** -x ** 2", ("pow", 2.0, ("neg", ("pow", "x", 2.0)))),
    ("--a", ("neg", ("neg", "a"))),
    ("max(a, b + 1)", ("max", "a", ("add", "b", 1.0))),
    ("add(a, b)", ("add", "a", "b")),
    # comparisons: below + -, not chained
    ("a + b < c * d", ("less", ("add", "a", "b"), ("mul", "c", "d"))),
    ("a <= -b", ("less_equal", "a", ("neg", "b"))),
    ("(a > b) == (c >= d)", ("equal", ("greater", "a", "b"), ("greater_equal", "c", "d"))),
    ("a != b ** 2", ("not_equal", "a", ("pow", "b", 2.0))),
    ("where(x > 0, x, 0)", ("where", ("greater", "x", 0.0), "x", 0.0)),
    ("f(a < b, c)", ("f", ("less", "a", "b"), "c")),
    # indexing: as tightly as a call
    ("x[1]", ("index", "x", 1.0)),
    ("x[-1]", ("index", "x", -1.0)),
    ("x[1:3]", ("index", "x", slice(1.0, 3.0, None))),
    ("x[:, 0]", ("index", "x", slice(None, None, None), 0.0)),
    ("x[::2]", ("index", "x", slice(None, None, 2.0))),
    ("x[1:]", ("index", "x", slice(1.0, None, None))),
    ("x[:-1:-1,]", ("index", "x", slice(None, -1.0, -1.0))),
    ("-x[0] ** 2", ("neg", ("pow", ("index", "x", 0.0), 2.0))),
    ("x ** y[0]", ("pow", "x", ("index", "y", 0.0))),
    ("x[0][1]", ("index", ("index", "x", 0.0), 1.0)),
    ("f(x)[0] * (a + b)[1]", ("mul", ("index", ("f", "x"), 0.0), ("index", ("add", "a", "b"), 1.0))),
    ("[1, 2, 3][1:]", ("index", [1.0, 2.0, 3.0], slice(1.0, None, None))),
    ("x[\n 1,\n 2 ]", ("index", "x", 1.0, 2.0)),
])
def test_precedence_and_associativity(text, tree):
    assert shape(expr_of(text)) == tree


@pytest.mark.parametrize("text,value", [("3", 3.0), ("-2", -2.0), ("0.5", 0.5), (".5", 0.5), ("1e-3", 1e-3),
                                        ("2.5E+4", 2.5e4), ("7.", 7.0)])
def test_numbers(text, value):
    assert expr_of(text).value == value


def test_array_literals_and_options():
    call = expr_of("sum([[1, 2], [3, -4]], axis=0)")
    assert shape(call.args[0]) == [[1.0, 2.0], [3.0, -4.0]]
    assert [(o.name, o.value.value) for o in call.options] == [("axis", 0.0)]


def test_statements_end_at_newlines_and_semicolons_but_not_inside_brackets():
    module = parse("a = 1; b = 2\n\n# comment\nc = max(a,\n   b) # trailing\nW = [[1, 2],\n     [3, 4]]\n")
    assert [s.name for s in module.statements] == ["a", "b", "c", "W"]


def test_declarations_outputs_and_gates():
    module = parse("input x = -2, W: [n, 4]\nparam b: [4] = [0, 0, 0, 0]\nparam v ~ normal(0, 0.1)\n"
                   "output f, g = x * 2\ngate sq(a) { t = a * a; return t }")
    kinds = [type(s).__name__ for s in module.statements]
    assert kinds == ["Leaf", "Leaf", "Leaf", "Leaf", "Output", "Assign", "Output", "GateDef"]
    x, W, b, v = module.statements[:4]
    assert (x.kind, x.default.value, x.shape) == ("input", -2.0, None)
    assert [d.value for d in W.shape] == ["n", 4]
    assert b.kind == "param" and v.init.gate == "normal"
    gate = module.statements[-1]
    assert gate.name == "sq" and [p.id for p in gate.params] == ["a"]


def test_positions_are_one_based_and_point_at_the_operator():
    expr = parse("\n  f = q * z").statements[0].expr
    assert (expr.span.line, expr.span.column) == (2, 9)


def test_keyword_prefix_is_a_name():
    assert parse("inputs = 3; output_value = inputs").statements[1].name == "output_value"


def error(text):
    with pytest.raises(graphdsl.GraphSyntaxError) as info:
        graphdsl.loads(text, name="m.graph")
    return info.value


@pytest.mark.parametrize("text,line,column,words", [
    ("x = 2 ^ 3\noutput x", 1, 7, "**"),
    ("input = 3", 1, 1, "keyword"),
    ("output = 3", 1, 1, "keyword"),
    ("y = gate + 1", 1, 5, "keyword"),
    ("y = 3 +\noutput y", 1, 8, "missing operand"),
    ("y = (1 + 2\noutput y", 1, 5, "never closed"),
    ("y = [1, 2\noutput y", 1, 5, "never closed"),
    ("y = 1 + 2)\noutput y", 1, 10, "unmatched"),
    ("y = (1 + 2]\noutput y", 1, 11, "does not match"),
    ("y = 3 4\noutput y", 1, 7, "expected"),
    ("y = x $ 2", 1, 7, "unexpected character"),
    ("gate g(a) { return a\noutput y", 2, 1, "'}' of the '{' at line 1 missing"),
    ("gate g(a) { return a", 1, 11, "never closed"),
    ("y = f(a=1, b)", 1, 12, "positional"),
    ("y = 1e400", 1, 5, "too large"),
    ("x + 1 = 3", 1, 3, "an expression on its own is not a statement"),
    ("y = é", 1, 5, "ASCII"),
    ("input x = 1\noutput\n", 2, 7, "expected a name after 'output', found a new line"),
    ("input\noutput y = 1", 1, 6, "expected a name after 'input', found a new line"),
    ("output; output y = 1", 1, 7, "expected a name after 'output', found ';'"),
    ("param", 1, 6, "expected a name after 'param', found the end of the file"),
])
def test_syntax_errors_have_positions_and_plain_words(text, line, column, words):
    err = error(text)
    assert (err.line, err.column) == (line, column)
    assert words in err.message
    rendered = err.render()
    assert rendered.startswith(f"m.graph:{line}:{column}: error: ")
    assert rendered.splitlines()[-1].index("^") - 4 == column - 1


def test_an_index_is_an_index_call_whose_option_is_the_subscript():
    call = expr_of("x[1:3, 0]")
    assert (call.gate, call.symbol) == ("index", "[")
    (option,) = call.options
    assert option.name == "at" and isinstance(option.value, S.Subscript)
    first, second = option.value.items
    assert isinstance(first, S.Slice) and first.start.value == 1.0 and first.step is None
    assert (call.span.column, first.span.column, second.span.column) == (6, 7, 12)
    assert expr_of("x[:3]").options[0].value.items[0].span.column == 7  # the ':' of a slice with no start


@pytest.mark.parametrize("text,line,column,words", [
    ("input x\noutput y = x < 1 < 2", 2, 18, "comparisons do not chain"),
    ("input x\noutput y = x[]", 2, 14, "an index needs at least one item"),
    ("input x\noutput y = x[1:2:3:4]", 2, 19, "expected ',' or ']', found ':'"),
    ("input x\noutput y = x[1", 2, 13, "'[' is never closed"),
    ("input x\noutput y = x[1)", 2, 15, "')' does not match '['"),
    ("input x\noutput y = x <", 2, 15, "missing operand"),
    ("input x\noutput y = x =< 1", 2, 14, "'=<' is not an operator: write '<='"),
    ("input x\ny =>1\noutput y", 2, 3, "'=>' is not an operator: write '>='"),
    ("input x\noutput y = f(x, axis=>1)", 2, 21, "'=>' is not an operator"),
])
def test_syntax_errors_of_comparisons_and_indexing(text, line, column, words):
    err = error(text)
    assert (err.line, err.column) == (line, column), err.message
    assert words in err.message


def test_return_outside_a_gate():
    assert "only allowed inside a gate" in error("return 3").message


def test_a_gate_body_may_open_on_the_next_line():
    module = parse("gate sq(a)\n{\n  return a * a\n}\n\ngate cube(a)\n\n# the body\n{ return a * sq(a) }")
    assert [(s.name, s.span.line) for s in module.statements] == [("sq", 1), ("cube", 6)]
    with pytest.raises(graphdsl.GraphSyntaxError, match="expected '{'") as caught:
        parse("gate sq(a)\ninput x")
    assert (caught.value.line, caught.value.column) == (2, 1)

"""Syntax -> DAG: node ids and data, scoping, expansion, and every definition error with its place."""
import time

import networkx as nx
import pytest

import graphdsl
from graphdsl import GraphDefinitionError, GraphLimitError


def graph(text):
    return graphdsl.loads(text, name="m.graph").graph


def error(text, cls=GraphDefinitionError):
    with pytest.raises(cls) as info:
        graphdsl.loads(text, name="m.graph")
    return info.value


def test_one_node_per_leaf_constant_and_gate_with_deterministic_anonymous_ids():
    g = graph("input x, y\nf = 2 * (x * y + max(x, 3))\noutput f")
    kinds = {n: g.nodes[n]["kind"] for n in g.nodes}
    assert kinds == {"x": "input", "y": "input", "f#1": "const", "f#2": "gate", "f#3": "const",
                     "f#4": "gate", "f#5": "gate", "f": "gate"}
    assert g.nodes["f#5"]["gate"] == "add" and g.nodes["f#5"]["args"] == ("f#2", "f#4")
    assert g.nodes["f"]["args"] == ("f#1", "f#5")
    assert set(g.edges) == {("f#1", "f"), ("f#5", "f"), ("f#2", "f#5"), ("f#4", "f#5"), ("x", "f#2"),
                            ("y", "f#2"), ("x", "f#4"), ("f#3", "f#4")}
    assert nx.is_directed_acyclic_graph(g)


def test_repeated_operand_keeps_both_arguments():
    g = graph("input x\noutput f = x * x")
    assert g.nodes["f"]["args"] == ("x", "x")


def test_top_level_is_order_independent():
    forward = graphdsl.loads("input x = 1, y = 2\nq = x + y\nf = q * 3\noutput f")
    backward = graphdsl.loads("output f\nf = q * 3\nq = x + y\ninput x = 1, y = 2")
    assert forward.run().outputs == backward.run().outputs == {"f": 9.0}
    assert backward.forward_order.index("q") < backward.forward_order.index("f")


def test_alias_and_constant_definitions_are_nodes():
    g = graph("input x = 2\nc = 3\ny = x\noutput f = y * c")
    assert g.nodes["c"]["kind"] == "const" and g.nodes["c"]["value"] == 3.0
    assert g.nodes["y"]["gate"] == "identity"


def test_compound_gate_is_expanded_inline_with_its_scope():
    g = graph("gate sq(a) { t = a * a; return t + 1 }\ninput x\noutput f = sq(x) * 2")
    call = "f#1"
    assert g.nodes[f"{call}/t"]["gate"] == "mul"
    assert g.nodes[call]["gate"] == "add"
    assert g.nodes[call]["scope"] == (("sq", call, g.nodes[call]["scope"][0][2]),)
    assert g.nodes[call]["scope"][0][2].line == 3
    assert g.nodes["f"]["scope"] == ()


def test_nested_compound_gates_nest_their_scopes():
    g = graph("gate inner(a) { return a * 2 }\ngate outer(b) { c = inner(b); return c + 1 }\n"
              "input x\noutput y = outer(x)")
    assert [frame[:2] for frame in g.nodes["y/c"]["scope"]] == [("outer", "y"), ("inner", "y/c")]


def test_gate_bodies_are_order_independent_and_see_only_their_names():
    prog = graphdsl.loads("gate g(a) { return c * 2; }".replace("return c * 2; ", "c = b + 1; b = a * a; return c * 2 ")
                          + "\ninput x = 3\noutput y = g(x)")
    assert prog.run().outputs["y"] == 20.0
    err = error("input x\ngate g(a) { return a + x }\noutput y = g(x)")
    assert (err.line, err.column) == (2, 24) and "'x' is not defined" in err.message


def test_user_gates_may_shadow_builtins():
    prog = graphdsl.loads("gate sigmoid(x) { return 2 * x }\ninput x = 3\noutput y = sigmoid(x)")
    assert prog.run().outputs["y"] == 6.0


def test_operators_keep_their_builtin_meaning_when_a_gate_shadows_its_name():
    text = ("gate add(a, b) { return a * b }\ngate neg(a) { return 10 * a }\n"
            "input x = 2, y = 3\noutput f = x + y - -x\noutput g = add(x, y) + neg(x)")
    res = graphdsl.loads(text).run()
    assert res.outputs == {"f": 7.0, "g": 26.0}
    assert res.grads == {"x": 2.0, "y": 1.0}
    inner = graphdsl.loads("gate add(a, b) { return a + b }\ninput x = 2, y = 3\noutput f = add(x, y)")
    assert inner.run().outputs["f"] == 5.0  # the body's '+' is the built-in, not a recursive call
    fast = graphdsl.loads("gate add(a, b) { return a * b }\ninput x = 2, y = 3\nf = x + y\ng = add(x, y)\noutput f, g")
    assert fast.run().outputs == {"f": 5.0, "g": 6.0}  # lines read by quickparse, too


def test_repeat_unrolls_and_names_iterations():
    g = graph("gate logistic(l) { return 4 * l * (1 - l) }\ninput x\noutput l = repeat(logistic, 3, x)")
    assert {"l@1", "l@2", "l"} <= set(g.nodes)
    assert g.nodes["l"]["scope"][0][:2] == ("logistic", "l")
    prog = graphdsl.loads("input x = 0.5\noutput y = repeat(sin, 2, x)")
    assert prog.run().outputs["y"] == pytest.approx(__import__("math").sin(__import__("math").sin(0.5)))
    zero = graphdsl.loads("input x = 0.5\noutput y = repeat(sin, 0, x)")
    assert zero.run().outputs["y"] == 0.5 and zero.run().grads["x"] == 1.0


def test_repeat_is_linear_in_n():
    text = "gate logistic(l) {{ return 4 * l * (1 - l) }}\ninput x = 0.3\noutput l = repeat(logistic, {n}, x)"
    timings = []
    for n in (2_000, 20_000):
        start = time.perf_counter()
        graphdsl.loads(text.format(n=n))
        timings.append(time.perf_counter() - start)
    assert timings[1] < 25 * timings[0]


def test_a_100000_node_chain_loads_runs_and_differentiates():
    lines = ["input x0 = 1.0"] + [f"x{i} = x{i - 1} * 1.00001" for i in range(1, 100_000)] + ["output x99999"]
    prog = graphdsl.loads("\n".join(lines))
    res = prog.run()
    assert res.outputs["x99999"] == pytest.approx(1.00001 ** 99_999, rel=1e-9)
    assert res.grads["x0"] == pytest.approx(1.00001 ** 99_999, rel=1e-9)
    assert len(prog.backward_order) == 99_999


def test_deeply_nested_expression_builds_without_recursion():
    depth = 20_000
    prog = graphdsl.loads("input x = 1\noutput y = " + "(" * depth + "x" + " + 1)" * depth)
    assert prog.run().outputs["y"] == depth + 1


@pytest.mark.parametrize("text,line,column,words", [
    ("input x\nx = 3\noutput x", 2, 1, "'x' is already defined (at line 1, column 7)"),
    ("input x\ny = 1\ny = 2\noutput y", 3, 1, "already defined"),
    ("x = 3\ninput x\noutput f = x", 2, 7, "'x' is already defined (at line 1, column 1)"),
    ("output f = x\nparam x = 1\nx = 2", 3, 1, "'x' is already defined (at line 2, column 7)"),
    ("input x\noutput y = x + z", 2, 16, "'z' is not defined"),
    ("input alpha\noutput y = alpah * 2", 2, 12, "did you mean 'alpha'"),
    ("input x\noutput y = sigmod(x)", 2, 12, "unknown gate 'sigmod'; did you mean 'sigmoid'"),
    ("input x\noutput y = max(x)", 2, 12, "gate 'max' takes 2 arguments, got 1"),
    ("input x\noutput y = exp(x, x)", 2, 12, "takes 1 argument, got 2"),
    ("input x\noutput y = sum(x, axes=0)", 2, 19, "no option 'axes'"),
    ("input x\noutput y = sum(x, axis=0.5)", 2, 24, "must be a whole number"),
    ("input x\noutput y = exp(x, axis=0)", 2, 19, "no option 'axis'"),
    ("gate g(a) { return a }\ninput x\noutput y = g(x, x)", 3, 12, "takes 1 argument, got 2"),
    ("input x\noutput y = repeat(exp, -1, x)", 2, 24, "whole number >= 0"),
    ("input x\noutput y = repeat(max, 2, x)", 2, 19, "one-argument gate"),
    ("input x\noutput y = repeat(nope, 2, x)", 2, 19, "unknown gate"),
    ("input x\noutput y = [x, 1]", 2, 13, "numbers only"),
    ("input x\noutput y = [[1, 2], [3]]", 2, 12, "not rectangular"),
    ("input x = y\noutput x", 1, 11, "must be a number"),
    ("input x: [2] = [1, 2, 3]\noutput x", 1, 16, "should have shape [2]"),
    ("input x\noutput z", 2, 8, "output 'z' is not defined"),
    ("input x\noutput x, x", 2, 11, "already an output"),
    ("input x\ny = x", 2, 1, "no output"),
    ("gate g(a) { b = a }\ninput x\noutput y = g(x)", 1, 6, "has no 'return'"),
    ("gate g(a) { return a; b = a }\ninput x\noutput y = g(x)", 1, 13, "must be the last"),
    ("gate g(a, a) { return a }\ninput x\noutput y = g(x)", 1, 11, "already defined"),
    ("gate g(a) { return a }\ngate g(b) { return b }\ninput x\noutput y = g(x)", 2, 6, "defined twice"),
    ("input x\noutput y = x(2)", 2, 12, "unknown gate 'x'"),
    ("input x\noutput y = exp + x", 2, 12, "'exp' is a gate"),
    ("param W: [n] ~ normal(0, 1)\noutput W", 1, 11, "needs numbers"),
    ("param W: [2] ~ gauss(0, 1)\noutput W", 1, 16, "unknown initializer"),
    ("input W: [2] ~ zeros()\noutput W", 1, 16, "only a param"),
])
def test_definition_errors_have_positions(text, line, column, words):
    err = error(text)
    assert (err.line, err.column) == (line, column), err.render()
    assert words in err.message
    assert err.render().startswith(f"m.graph:{line}:{column}: error: ")


def test_cycles_are_spelled_out_with_each_line():
    err = error("input x\na = b + x\nb = c * 2\nc = a - 1\noutput a")
    assert "cycle: a -> b -> c -> a" in err.message
    assert "'a' at line 2, 'b' at line 3, 'c' at line 4" in err.message
    assert (err.line, err.column) == (2, 1)
    self_loop = error("input x\na = a + x\noutput a")
    assert "cycle: a -> a" in self_loop.message


def test_cycles_inside_a_gate_body():
    err = error("gate g(x) { a = b; b = a; return a }\ninput x\noutput y = g(x)")
    assert "cycle: a -> b -> a" in err.message


def test_recursive_gates_are_rejected():
    err = error("gate f(x) { return g(x) }\ngate g(x) { return f(x) + 1 }\ninput x\noutput y = f(x)")
    assert "recursive gates: f -> g -> f" in err.message
    assert (err.line, err.column) == (1, 20)
    assert "recursive gates: h -> h" in error("gate h(x) { return h(x) }\ninput x\noutput y = x").message


def test_node_limit_is_checked_before_building():
    start = time.perf_counter()
    err = error("gate g(x) { return x * 2 }\ninput x\noutput y = repeat(g, 1000000000000, x)", GraphLimitError)
    assert time.perf_counter() - start < 1
    assert "--max-nodes" in err.message and "max_nodes" in err.message
    blowup = "\n".join(f"gate g{i}(x) {{ return g{i - 1}(x) + g{i - 1}(x) }}" for i in range(1, 60))
    err = error("gate g0(x) { return x * 2 }\n" + blowup + "\ninput x\noutput y = g59(x)", GraphLimitError)
    assert "nodes" in err.message
    small = graphdsl.loads("input x\noutput y = x + 1", max_nodes=10)
    assert small.run(x=1).outputs["y"] == 2.0
    with pytest.raises(GraphLimitError):
        graphdsl.loads("input x\noutput y = x + 1 + 2 + 3", max_nodes=4)

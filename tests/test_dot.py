"""dot: the picture's DOT text, read back with pydot."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pydot
import pytest

import graphdsl
from graphdsl.inspect.dot import to_dot

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "docs" / "figures" / "mul_add.dot"  # regenerate: python docs/make_figures.py


def parsed(program, result=None, **options):
    return pydot.graph_from_dot_data(to_dot(program, result, **options))[0]


def numbers(label: str, color: str) -> list:
    """The texts written in one color in an HTML label."""
    return re.findall(rf'<font color="{color}">([^<]*)</font>', label or "")


def node(graph, name: str):
    (found,) = graph.get_node(f'"{name}"')
    return found


def edges(graph) -> list:
    return [(e.get_source().strip('"'), e.get_destination().strip('"'), e.get_label())
            for e in graph.get_edges()]


def test_golden_dot_of_mul_add():
    prog = graphdsl.load(ROOT / "examples" / "mul_add.graph")
    assert to_dot(prog, prog.run()) == GOLDEN.read_text(encoding="utf-8")


def test_every_edge_carries_its_value_and_gradient():
    prog = graphdsl.loads("input x = -2, y = 5, z = -4\nq = x + y\nf = q * z\noutput f")
    found = {(a, b): (numbers(label, "darkgreen"), numbers(label, "red3"))
             for a, b, label in edges(parsed(prog, prog.run()))}
    assert found == {("x", "q"): (["-2"], ["-4"]), ("y", "q"): (["5"], ["-4"]),
                     ("q", "f"): (["3"], ["-4"]), ("z", "f"): (["-4"], ["3"]),
                     ("f", "output f"): (["-12"], ["1"])}


def test_a_value_used_twice_gets_two_edges_whose_gradients_add_up():
    prog = graphdsl.loads("input x = 3\ny = x * x\noutput f = y + sin(x)")
    graph = parsed(prog, prog.run())
    shares = [float(numbers(label, "red3")[0]) for a, _, label in edges(graph) if a == "x"]
    assert sorted(shares) == pytest.approx(sorted([3.0, 3.0, np.cos(3.0)]), abs=1e-5)
    box = node(graph, "x").get("label")
    assert numbers(box, "red3") == [f"df/dx = {6 + np.cos(3.0):.6g}"]


def test_gates_show_symbols_leaves_are_boxes_constants_small():
    prog = graphdsl.loads("param w = 2\ninput x = 1\ns = sigmoid(w * x + 1)\noutput f = exp(max(s, 0.5))")
    graph = parsed(prog, prog.run())
    symbols = {n.get("label").strip('"') for n in graph.get_nodes() if n.get("shape") in ("circle", "ellipse")}
    assert symbols == {"*", "+", "σ", "max", "exp"}
    assert node(graph, "w").get("style").strip('"') == "rounded,filled"  # params are shaded
    assert node(graph, "x").get("shape") == "box"
    assert {n.get("label").strip('"') for n in graph.get_nodes() if n.get("shape") == "plaintext"} == {"1", "0.5"}
    assert node(graph, "output f").get("style") == "bold"


def test_compound_gate_calls_are_nested_labelled_clusters():
    prog = graphdsl.loads("gate sq(a) { return a * a }\ngate quad(a) { return sq(sq(a)) }\n"
                          "input x = 2\noutput y = quad(x)")
    graph = parsed(prog, prog.run())
    (outer,) = graph.get_subgraphs()
    assert outer.get_name() == "cluster_call0" and outer.get("label") == '"quad"'
    inner = outer.get_subgraphs()
    assert [c.get("label") for c in inner] == ['"sq"', '"sq"']
    assert all(len(c.get_nodes()) == 1 for c in inner)


def test_without_a_result_edges_are_bare_and_leaves_show_their_shape():
    prog = graphdsl.loads("input W: [2, 3], x: [3]\noutput f = sum(W @ x)")
    graph = parsed(prog)
    assert all(label is None for _, _, label in edges(graph))
    assert node(graph, "W").get("label") == "<<b>W</b>: [2, 3]>"


def test_arrays_show_values_when_small_and_shapes_when_large():
    prog = graphdsl.loads("input v = [1, 2], M = [[1, 2, 3], [4, 5, 6]]\noutput f = sum(M * 2) + sum(v)")
    graph = parsed(prog, prog.run())
    labels = {a: label for a, _, label in edges(graph)}
    assert numbers(labels["v"], "darkgreen") == ["[1, 2]"]
    assert numbers(labels["M"], "darkgreen") == ["shape [2, 3]"]


def test_names_that_are_dot_keywords_stay_nodes():
    prog = graphdsl.loads("input graph = 1, edge = 2\nnode = graph + edge\noutput strict = node * 2")
    graph = parsed(prog, prog.run())
    named = {n.get_name() for n in graph.get_nodes()} - {"node", "edge"}  # minus the defaults
    assert named == {'"graph"', '"edge"', '"node"', '"strict"', '"strict#1"', '"output strict"'}
    assert ("graph", "node", '<<font color="darkgreen">1</font><br/><font color="red3">2</font>>') \
        in edges(graph)


def test_no_gradients_option_and_determinism():
    prog = graphdsl.load(ROOT / "examples" / "sigmoid_gate.graph")
    result = prog.run()
    assert to_dot(prog, result) == to_dot(prog, prog.run())
    bare = to_dot(prog, result, gradients=False)
    assert "red3" not in bare and "darkgreen" in bare


def test_only_the_differentiated_output_gets_the_seed():
    prog = graphdsl.loads("input x = 2\noutput f = x * 3, g = x + 1")
    labels = {(a, b): label for a, b, label in edges(parsed(prog, prog.run(of="g")))}
    assert numbers(labels[("g", "output g")], "red3") == ["1"]
    assert numbers(labels[("f", "output f")], "red3") == []

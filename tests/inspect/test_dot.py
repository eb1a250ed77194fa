"""dot: the picture's DOT text, read back with pydot."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pydot
import pytest

import graphdsl
from graphdsl.inspect.dot import to_dot

ROOT = Path(__file__).resolve().parents[2]
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


def text(label: str) -> str:
    """What a label shows, its markup dropped and its lines and cells joined by spaces."""
    label = label or ""
    if label.startswith("<") and label.endswith(">"):
        label = label[1:-1]
    label = re.sub(r"<br/>|</td>", " ", label.strip('"'))
    return " ".join(re.sub(r"<[^>]*>", "", label).split())


def shown(graph) -> list:
    """Every label, tooltip and title of a parsed picture, nodes', edges' and clusters'."""
    found, pending = [graph.get("label")], [graph]
    while pending:
        part = pending.pop()
        for item in part.get_nodes() + part.get_edges() + part.get_subgraphs():
            found += [item.get(key) for key in ("label", "tooltip", "xlabel")]
        pending += part.get_subgraphs()
    return [text(words) for words in found if words]


def test_gates_show_symbols_leaves_are_boxes_constants_small_boxes():
    prog = graphdsl.loads("param w = 2\ninput x = 1\ns = sigmoid(w * x + 1)\noutput f = exp(max(s, 0.5))")
    graph = parsed(prog, prog.run())
    gates = {text(n.get("label")) for n in graph.get_nodes() if n.get("class") == "gate"}
    assert gates == {"*", "+", "σ s", "a max(a, b) b", "exp"}  # s: the gate's name, under its symbol
    assert node(graph, "w").get("style").strip('"') == "rounded,filled"  # params are shaded
    assert node(graph, "x").get("shape") == "box"
    constants = [n for n in graph.get_nodes() if n.get("class") == "const"]
    assert {text(n.get("label")) for n in constants} == {"1", "0.5"}
    assert all(n.get("shape") == "box" and n.get("fontsize") == "10" for n in constants)
    assert node(graph, "output f").get("style") == "bold"


def test_a_constant_is_a_box_and_its_number_is_not_repeated_on_its_edge():
    prog = graphdsl.loads("input x = 3\noutput f = 4 * x")
    graph = parsed(prog, prog.run())
    labels = {a: label for a, _, label in edges(graph)}
    assert text(node(graph, "f#1").get("label")) == "4"
    assert labels["f#1"] is None  # the constant's edge carries no number: its box shows it
    assert numbers(labels["x"], "darkgreen") == ["3"] and numbers(labels["x"], "red3") == ["4"]


@pytest.mark.parametrize("source,gate,shown,roles", [
    ("input x = 5, y = 2\noutput f = x - y", "f", "a − b", ("a", "b")),
    ("input x = 5, y = 2\noutput f = x / y", "f", "a / b", ("a", "b")),
    ("input x = 5, y = 2\noutput f = x ** y", "f", "aᵇ", ("a", "b")),
    ("input x = 5, y = 5\noutput f = max(x, y)", "f", "max(a, b)", ("a", "b")),
    ("input x = 5, y = 5\noutput f = min(x, y)", "f", "min(a, b)", ("a", "b")),
    ("input A = [[1, 2], [3, 4]], v = [1, 0]\noutput f = sum(A @ v)", "f#1", "a @ b", ("a", "b")),
    ("input s = [[1, 2]], y = [0]\noutput f = softmax_cross_entropy(s, y)", "f", "CE", ("scores", "labels")),
])
def test_operand_order_shows_where_it_matters(source, gate, shown, roles):
    prog = graphdsl.loads(source)
    graph = parsed(prog, prog.run())
    label = text(node(graph, gate).get("label"))
    assert label == " ".join((roles[0], shown, *roles[1:]))  # the pins, top to bottom, and the gate
    first, second = prog.graph.nodes[gate]["args"]
    ports = {(e.get_source().strip('"'), e.get("headport").strip('"')) for e in graph.get_edges()
             if e.get_destination().strip('"') == gate}
    assert ports == {(first, "p0:w"), (second, "p1:w")}
    assert node(graph, gate).get("ordering") == "in"
    assert "operands, in order" in text(graph.get("label"))  # the legend says what a and b are


def test_the_same_value_on_both_pins_gets_two_edges():
    prog = graphdsl.loads("input x = 3\noutput f = x - x")
    graph = parsed(prog, prog.run())
    ports = sorted(e.get("headport").strip('"') for e in graph.get_edges() if e.get("headport"))
    assert ports == ["p0:w", "p1:w"]
    assert sorted(numbers(label, "red3") for a, _, label in edges(graph) if a == "x") == [["-1"], ["1"]]


def test_commutative_gates_have_no_pins():
    prog = graphdsl.loads("input x = 3, y = 2\noutput f = x * y + x")
    graph = parsed(prog, prog.run())
    assert not any(e.get("headport") for e in graph.get_edges())
    assert "operands" not in text(graph.get("label"))


def test_every_picture_has_a_legend():
    prog = graphdsl.loads("input x = 3\noutput f = x * x")
    with_gradients = text(parsed(prog, prog.run()).get("label"))
    assert "green, above: the value (forward pass)" in with_gradients
    assert "red, below: the gradient df/d… (backward pass)" in with_gradients
    values_only = text(parsed(prog, prog.run(), gradients=False).get("label"))
    assert "green, above: the value" in values_only and "no gradients" in values_only
    bare = text(parsed(prog).get("label"))
    assert "inputs and params" in bare and "run the model" in bare
    legend = parsed(prog, prog.run()).get("label")
    assert 'color="darkgreen"' in legend and 'color="red3"' in legend  # in the colours it explains


def test_compound_gate_calls_are_nested_labelled_clusters():
    prog = graphdsl.loads("gate sq(a) { return a * a }\ngate quad(a) { return sq(sq(a)) }\n"
                          "input x = 2\noutput y = quad(x)")
    graph = parsed(prog, prog.run())
    clusters = [g for g in graph.get_subgraphs() if g.get_name().startswith("cluster")]
    (outer,) = clusters
    assert outer.get_name() == "cluster_call0" and outer.get("label") == '"quad → y"'
    inner = outer.get_subgraphs()
    assert [c.get("label") for c in inner] == ['"sq"', '"sq → y"']  # the outer sq computes y
    assert all(len([n for n in c.get_nodes() if n.get("class") == "gate"]) == 1 for c in inner)


def test_a_value_enters_a_call_through_a_port_carrying_the_calls_gradient():
    prog = graphdsl.loads("gate sq(a) { return a * a }\ninput x = 3\noutput y = sq(x)")
    graph = parsed(prog, prog.run())
    (cluster,) = [g for g in graph.get_subgraphs() if g.get_name().startswith("cluster")]
    (port,) = [n for n in cluster.get_nodes() if n.get("class") == "port"]
    assert text(port.get("label")) == "x"
    name = port.get_name().strip('"')
    into = [label for a, b, label in edges(graph) if (a, b) == ("x", name)]
    shares = [label for a, b, label in edges(graph) if a == name]
    assert [numbers(label, "red3") for label in into] == [["6"]]  # d(x*x)/dx, the whole call's
    assert sorted(numbers(label, "red3") for label in shares) == [["3"], ["3"]]  # one share per use
    assert all(numbers(label, "darkgreen") == ["3"] for label in into + shares)


def test_a_repeat_shows_its_steps_and_no_internal_ids():
    prog = graphdsl.load(ROOT / "examples" / "logistic_map.graph")
    graph = parsed(prog, prog.run())
    titles = [g.get("label") for g in graph.get_subgraphs() if g.get_name().startswith("cluster")]
    assert titles == ['"logistic → f₁   (step 1 of 3)"', '"logistic → f₂   (step 2 of 3)"',
                      '"logistic → f   (step 3 of 3)"']
    primitive = graphdsl.loads("input x = 1\noutput f = repeat(sin, 3, x) + (x - 2) * (x - 3)")
    for program in (prog, primitive):
        words = shown(parsed(program, program.run()))
        assert len(words) > 20 and not [w for w in words if re.search(r"[@#]|/return", w)]


def test_large_arrays_show_their_shape_first_entries_min_and_max():
    prog = graphdsl.loads("input M: [3, 100]\noutput f = sum(M * 2)")
    M = np.arange(300.0).reshape(3, 100) / 8 - 4
    graph = parsed(prog, prog.run(M=M))
    labels = {a: label for a, _, label in edges(graph)}
    assert numbers(labels["M"], "darkgreen") == ["[3, 100]: -4, -3.88, -3.75, …", "min -4, max 33.4"]
    assert numbers(labels["M"], "red3") == ["[3, 100]: 2, 2, 2, …", "min 2, max 2"]
    assert text(node(graph, "M").get("label")).startswith("M = [3, 100]: -4, -3.88, -3.75, … min -4, max 33.4")


def test_without_a_result_edges_are_bare_and_leaves_show_their_shape():
    prog = graphdsl.loads("input W: [2, 3], x: [3]\noutput f = sum(W @ x)")
    graph = parsed(prog)
    assert all(label is None for _, _, label in edges(graph))
    assert node(graph, "W").get("label") == "<<b>W</b>: [2, 3]>"


def test_small_arrays_are_written_out():
    prog = graphdsl.loads("input v = [1, 2], M = [[0.123456, 2], [3, 4]]\noutput f = sum(M * 2) + sum(v)")
    graph = parsed(prog, prog.run())
    labels = {a: label for a, _, label in edges(graph)}
    assert numbers(labels["v"], "darkgreen") == ["[1, 2]"]
    assert numbers(labels["M"], "darkgreen") == ["[[0.1235, 2], [3, 4]]"]


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


def test_every_node_and_edge_has_a_stable_id_and_a_class():
    prog = graphdsl.loads("gate sq(a) { return a * a }\nparam w = 2\ninput x = 3\n"
                          "output f = sq(w * x) - 1")
    graph = parsed(prog, prog.run())
    pending, nodes_, edges_ = [graph], {}, []
    while pending:
        part = pending.pop()
        nodes_.update({n.get_name().strip('"'): n for n in part.get_nodes() if n.get("id")})
        edges_ += part.get_edges()
        pending += part.get_subgraphs()
    for name, data in prog.graph.nodes(data=True):  # the ids of Program.graph, unchanged
        assert nodes_[name].get("id") == f'"node:{name}"' and nodes_[name].get("class") == data["kind"]
    assert nodes_["output f"].get("id") == '"output:f"' and nodes_["output f"].get("class") == "output"
    ids = [e.get("id").strip('"') for e in edges_ if e.get("id")]
    assert len(ids) == len(set(ids)) == len(edges_)
    for name in prog.graph.nodes:
        for index, arg in enumerate(prog.graph.nodes[name].get("args", ())):
            assert f"edge:{arg}->{name}:{index}" in ids
    ports = [n for n in nodes_.values() if n.get("class") == "port"]
    assert [p.get("id") for p in ports] == ['"port:f#2:f#1"']  # w * x (f#1) entering sq's call (f#2)
    assert {e.get("class") for e in edges_} == {"operand", "port", "output"}
    assert to_dot(prog, prog.run()) == to_dot(prog, prog.run())  # stable from run to run


def test_an_index_shows_its_subscript_and_a_join_pins_its_operands_in_order():
    prog = graphdsl.loads("input x = [1, 2, 3]\noutput f = sum(concat(x[1:], x, x[::-1] * 2, axis=0) > 1)")
    graph = parsed(prog, prog.run())
    assert text(node(graph, "f#1").get("label")) == "[1:]"
    assert text(node(graph, "f#2").get("label")) == "[::-1]"
    concat = next(n for n, data in prog.graph.nodes(data=True) if data.get("gate") == "concat")
    assert text(node(graph, concat).get("label")) == "a concat b c"  # a pin per operand
    assert text(node(graph, "f").get("label")).startswith("Σ")
    assert "&gt;" in [text(node(graph, n).get("label")) for n in prog.graph if n.startswith("f#")]  # ">"

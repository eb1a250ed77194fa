"""The page's picture: Graphviz's SVG of --render, with data attributes on nodes and
edges and every changing number in a slot the page can rewrite."""
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import graphdsl
from graphdsl.inspect.explain import explain
from graphdsl.inspect.numbers import format_compact
from graphdsl.inspect.render import find_dot
from graphdsl.serve import picture
from graphdsl.serve.picture import PictureUnavailable, annotate, draw

needs_dot = pytest.mark.skipif(find_dot() is None, reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"
EXAMPLES = ["mul_add", "sin_product", "sigmoid_neuron", "sigmoid_gate", "backward_patterns",
            "vector_norm", "logistic_map", "logistic_regression", "softmax_classifier", "two_layer_net"]


def drawn(program, **bindings):
    result = program.run(**bindings)
    steps = explain(result)
    svg, complete = draw(program, result, steps)
    return ET.fromstring(svg), complete, result, steps


def slots(root):
    found = {}
    for span in root.iter(f"{SVG}tspan"):
        found.setdefault(span.get("data-slot"), []).append(span.text)
    return found


@needs_dot
@pytest.mark.parametrize("name", EXAMPLES)
def test_every_node_and_edge_is_marked_and_every_number_found(name):
    program = graphdsl.load(f"examples/{name}.graph")
    root, complete, result, steps = drawn(program)
    assert complete
    marked = {g.get("data-node") for g in root.iter(f"{SVG}g") if g.get("data-node")}
    assert marked == set(program.forward_order)
    edges = [g for g in root.iter(f"{SVG}g") if g.get("data-from")]
    gate_edges = sum(len(program.graph.nodes[n].get("args", ())) for n in program.forward_order)
    assert len(edges) == gate_edges + len(program.outputs)
    values = result.values
    for key, texts in slots(root).items():
        kind, _, rest = key.partition(":")
        if kind == "v":
            expected = values[rest]
        elif kind == "g":
            expected = result.node_grads[rest]
        else:
            node, _, operand = rest.rpartition(":")
            expected = next(s.gradient for s in steps if s.node == node and s.operand == int(operand))
        shown = format_compact(expected, np.size(expected))
        assert set(texts) == {shown}, key


@needs_dot
def test_the_slots_of_the_lecture_example():
    root, complete, _, _ = drawn(graphdsl.load("examples/mul_add.graph"))
    found = slots(root)
    assert found["v:x"] == ["-2", "-2"]  # the box of x and the edge x -> q
    assert found["g:x"] == ["-4"] and found["g:z"] == ["3"]
    assert found["e:f:0"] == ["-4"] and found["e:f:1"] == ["3"]
    assert found["v:f"] == ["-12"]
    edge = next(g for g in root.iter(f"{SVG}g") if g.get("data-from") == "z")
    assert (edge.get("data-to"), edge.get("data-operand")) == ("f", "1")


@needs_dot
def test_a_value_used_twice_by_one_gate_has_one_edge_per_operand():
    root, complete, _, _ = drawn(graphdsl.loads("input x = 2\noutput f = x ** x"))
    assert complete
    found = slots(root)
    assert found["e:f:0"] == ["4"] and found["e:f:1"] == ["2.77259"]  # x·x^(x-1) and ln(x)·x^x
    edges = [g for g in root.iter(f"{SVG}g") if g.get("data-from") == "x" and g.get("data-to") == "f"]
    assert sorted(g.get("data-operand") for g in edges) == ["0", "1"]
    for edge in edges:
        spans = {s.get("data-slot") for s in edge.iter(f"{SVG}tspan")}
        assert spans == {"v:x", f"e:f:{edge.get('data-operand')}"}


@needs_dot
def test_names_that_look_like_numbers_are_not_taken_for_them():
    root, complete, _, _ = drawn(graphdsl.loads("input x1 = 1, x2 = 1\noutput f = x1 * x2"))
    assert complete
    box = next(g for g in root.iter(f"{SVG}g") if g.get("data-node") == "x1")
    texts = ["".join(t.itertext()) for t in box.iter(f"{SVG}text")]
    assert texts == ["x1", " = 1", "df/dx1 = 1"]
    assert [s.get("data-slot") for s in box.iter(f"{SVG}tspan")] == ["v:x1", "g:x1"]


def test_a_picture_whose_numbers_cannot_be_found_is_incomplete():
    program = graphdsl.load("examples/mul_add.graph")
    result = program.run()
    steps = explain(result)
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><g class="edge" id="edge1"><title>x-&gt;q</title>'
           '<text>x is minus two</text></g><g class="node"><title>x</title><text>x</text></g></svg>')
    text, complete = annotate(svg.encode(), program, result, steps)
    assert not complete
    assert 'data-node="x"' in text and 'data-from="x"' in text and 'data-to="q"' in text
    assert text.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and "ns0:" not in text


def test_without_graphviz_or_for_huge_graphs_there_is_no_picture(monkeypatch):
    program = graphdsl.load("examples/mul_add.graph")
    result = program.run()
    monkeypatch.setattr(picture, "find_dot", lambda: None)
    with pytest.raises(PictureUnavailable, match="Graphviz"):
        draw(program, result, explain(result))
    big = graphdsl.loads("input x = 1\n" + "".join(f"a{i} = x * {i}\n" for i in range(2100)) + "output f = x")
    with pytest.raises(PictureUnavailable, match="2,000"):
        draw(big, big.run(), [])


@needs_dot
def test_the_picture_is_the_one_of_render():
    program = graphdsl.load("examples/sigmoid_gate.graph")
    root, _, result, _ = drawn(program)
    plain = re.sub(r"\s+", " ", "".join(root.itertext()))
    from graphdsl.inspect.render import render
    reference = ET.fromstring(render(program.to_dot(result), "svg"))
    assert plain == re.sub(r"\s+", " ", "".join(reference.itertext()))

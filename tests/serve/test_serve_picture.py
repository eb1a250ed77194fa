"""The page's picture: Graphviz's SVG of --render, its nodes and edges found by the stable
ids dot.py gives them, and every number a run changes in a slot whose text the server
sends with each run (picture.labels)."""
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import graphdsl
from graphdsl.inspect.dot import edge_id, port_edge_id, port_id
from graphdsl.inspect.explain import explain
from graphdsl.inspect.picture_text import value_lines
from graphdsl.inspect.render import find_dot
from graphdsl.serve import picture
from graphdsl.serve.picture import PictureUnavailable, annotate, draw, labels

needs_dot = pytest.mark.skipif(find_dot() is None, reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"
EXAMPLES = ["mul_add", "sin_product", "sigmoid_neuron", "sigmoid_gate", "backward_patterns",
            "vector_norm", "logistic_map", "logistic_regression", "softmax_classifier", "two_layer_net",
            "svm_classifier"]
EVERY_OUTPUT = [(name, of) for name in EXAMPLES for of in graphdsl.load(f"examples/{name}.graph").outputs]


def drawn(program, of=None, **bindings):
    result = program.run(of=of, **bindings)
    steps = explain(result)
    svg, complete = draw(program, result, steps)
    return ET.fromstring(svg), complete, result, steps


def slots(root):
    """``{slot: [its texts, in the picture's order]}``; each text ``(line, text)``."""
    found = {}
    for span in root.iter(f"{SVG}tspan"):
        found.setdefault(span.get("data-slot"), []).append((int(span.get("data-line")), span.text))
    return found


def firsts(root):
    """``{slot: [the texts of its first line]}``: the numbers as a person reads them."""
    return {slot: [text for line, text in texts if line == 0] for slot, texts in slots(root).items()}


def group(root, element):
    return next(g for g in root.iter(f"{SVG}g") if g.get("id") == element)


def texts_of(element):
    return ["".join(t.itertext()) for t in element.iter(f"{SVG}text")]


@needs_dot
@pytest.mark.parametrize("name, of", EVERY_OUTPUT)
def test_every_node_and_edge_is_marked_and_every_number_is_a_slot(name, of):
    program = graphdsl.load(f"examples/{name}.graph")
    root, complete, result, steps = drawn(program, of)
    assert complete
    marked = {g.get("data-node") for g in root.iter(f"{SVG}g") if g.get("data-node")}
    assert marked == set(program.forward_order)
    edges = [g for g in root.iter(f"{SVG}g") if g.get("data-from")]
    gate_edges = sum(len(program.graph.nodes[n].get("args", ())) for n in program.forward_order)
    assert len(edges) == gate_edges + len(program.outputs)
    for edge in edges:
        operand = edge.get("data-operand")
        assert edge.get("id") == edge_id(edge.get("data-from"), edge.get("data-to"), int(operand or 0))
    # Each slot holds the lines the server sends for it, and every line it sends is shown.
    sent = labels(program, result, steps)
    found = slots(root)
    assert set(found) == set(sent)
    for slot, texts in found.items():
        assert {text for _, text in texts} <= set(sent[slot])
        assert {line for line, _ in texts} == set(range(len(sent[slot])))
        for line, text in texts:
            assert text == sent[slot][line], slot
    assert sent == labels(program, result)  # with or without the explain steps at hand


@needs_dot
def test_the_slots_of_the_lecture_example():
    root, complete, _, _ = drawn(graphdsl.load("examples/mul_add.graph"))
    found = firsts(root)
    assert found["v:x"] == ["-2", "-2"]  # the box of x and the edge x -> q
    assert found["g:x"] == ["-4"] and found["g:z"] == ["3"]
    assert found["e:f:0"] == ["-4"] and found["e:f:1"] == ["3"]
    assert found["v:f"] == ["-12"]  # on the edge into the output's box
    assert texts_of(group(root, "node:z")) == ["z", " = -4", "df/dz = 3"]
    edge = group(root, edge_id("z", "f", 1))
    assert (edge.get("data-from"), edge.get("data-to"), edge.get("data-operand")) == ("z", "f", "1")
    output = group(root, edge_id("f", "output f", 0))
    assert (output.get("data-from"), output.get("data-to"), output.get("data-operand")) == ("f", "output f", None)
    assert texts_of(output) == ["-12", "1"]  # the seed is always 1: no slot
    assert [s.get("data-slot") for s in output.iter(f"{SVG}tspan")] == ["v:f"]


@needs_dot
def test_a_value_used_twice_by_one_gate_has_one_edge_per_operand():
    root, complete, _, _ = drawn(graphdsl.loads("input x = 2\noutput f = x ** x"))
    assert complete
    found = firsts(root)
    assert found["e:f:0"] == ["4"] and found["e:f:1"] == ["2.77259"]  # x·x^(x-1) and ln(x)·x^x
    for operand in (0, 1):
        edge = group(root, edge_id("x", "f", operand))
        assert (edge.get("data-from"), edge.get("data-to"), edge.get("data-operand")) == ("x", "f", str(operand))
        assert [s.get("data-slot") for s in edge.iter(f"{SVG}tspan")] == ["v:x", f"e:f:{operand}"]


@needs_dot
def test_names_that_look_like_numbers_are_not_taken_for_them():
    root, complete, _, _ = drawn(graphdsl.loads("input x1 = 1, x2 = 1\noutput f = x1 * x2"))
    assert complete
    box = group(root, "node:x1")
    assert box.get("data-node") == "x1"
    assert texts_of(box) == ["x1", " = 1", "df/dx1 = 1"]
    assert [s.get("data-slot") for s in box.iter(f"{SVG}tspan")] == ["v:x1", "g:x1"]


SUMMARY = "input x = [1, 2, 3, 4, 5, 6]\noutput f = sum(x * x)"


@needs_dot
def test_a_large_array_is_a_slot_of_two_lines_its_summary():
    program = graphdsl.loads(SUMMARY)
    root, complete, result, steps = drawn(program)
    assert complete
    assert texts_of(group(root, "node:x")) == ["x", " = [6]: 1, 2, 3, …", "min 1, max 6",
                                                "df/dx = [6]: 2, 4, 6, …", "min 2, max 12"]
    assert slots(root)["g:x"] == [(0, "[6]: 2, 4, 6, …"), (1, "min 2, max 12")]
    # Another run of the same shape: the same slots, other lines, written as the picture writes them.
    other = program.run(x=np.array([-3.0, 0.5, 2, 2, 2, 7]))
    sent = labels(program, other)
    assert sent["v:x"] == ["[6]: -3, 0.5, 2, …", "min -3, max 7"] == value_lines(other.values["x"])
    assert sent["g:x"] == value_lines(other.node_grads["x"])
    assert set(sent) == set(slots(root)) and all(len(sent[s]) == 2 for s in ("v:x", "g:x"))


@needs_dot
def test_a_value_entering_a_call_passes_through_its_port():
    program = graphdsl.load("examples/logistic_map.graph")
    root, complete, result, steps = drawn(program)
    assert complete
    feeder = group(root, port_edge_id("f@1", "x"))
    assert feeder.get("data-from") is None  # not an edge of the graph: no step lights it alone
    assert [s.get("data-slot") for s in feeder.iter(f"{SVG}tspan")] == ["v:x", "p:f@1:x"]
    # x enters only the first call: all of its gradient flows back through that port.
    assert labels(program, result)["p:f@1:x"] == value_lines(result.node_grads["x"])
    inside = [g for g in root.iter(f"{SVG}g") if g.get("data-from") == "x"]
    assert {g.get("data-to") for g in inside} == {"f@1/#2", "f@1/#4"}
    for edge in inside:
        assert json.loads(edge.get("data-via")) == [port_edge_id("f@1", "x"), port_id("f@1", "x")]


def test_a_picture_whose_numbers_cannot_be_found_is_incomplete():
    program = graphdsl.load("examples/mul_add.graph")
    result = program.run()
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><g class="edge" id="edge:x-&gt;q:0"><title>x-&gt;q</title>'
           '<text>x is minus two</text></g><g class="node" id="node:x"><title>x</title><text>x</text></g></svg>')
    text, complete = annotate(svg.encode(), program, result)
    assert not complete
    assert 'data-node="x"' in text and 'data-from="x"' in text and 'data-to="q"' in text
    assert 'data-operand="0"' in text
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

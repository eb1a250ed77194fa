"""The picture of a graph as Graphviz DOT, built explicitly with pydot.

Leaves are boxes (params shaded), constants small grey boxes, gates circles showing
their symbol (and their name, when they have one), outputs end in a bold box. With
a Result, every edge carries the value flowing forward (green, on top) and the
gradient flowing back along it (red, underneath), as in the lecture's (x+y)z figure;
a value used twice has two edges, each with its own share of the gradient, and the
leaf's box shows their sum. A gate whose operands are not interchangeable
(``a − b``, ``max(a, b)``...) has a pin per operand, where its edge ends. A call of
a compound gate is a labelled cluster; a value passed into it enters through a
small rounded box (its *port*), whose incoming edge carries the gradient of the
whole call and whose outgoing edges the shares. A legend says what colours mean.

Every node and edge has a stable ``id`` (see :func:`node_id`, :func:`edge_id`...)
and a ``class`` naming its kind, which Graphviz copies into the SVG, so that a page
can find them. Nodes and edges are emitted in forward order: the text is deterministic.
"""
from __future__ import annotations

from html import escape

import numpy as np
import pydot

from .explain import NodeNames, edge_gradients, is_anonymous, pretty
from .numbers import shape_text
from .picture_text import (GRADIENT_COLOR, roles, call_title, colored,
                           edge_label, gate_label, legend, repeat_lengths, shown_name,
                           value_lines)

PARAM_FILL, CONST_COLOR = "#fff2cc", "gray45"
_LEAVES = ("input", "param")
_TOOLTIP_BUDGET = 64  # characters of a gate's expression spelled out in its tooltip


def to_dot(program, result=None, gradients: bool = True) -> str:
    """DOT source of ``program``; with ``result``, values and gradients label the edges.

    >>> import graphdsl
    >>> prog = graphdsl.loads("input x = 3\\noutput y = x * x")
    >>> "->" in to_dot(prog, prog.run())
    True
    """
    return _Picture(program, result, gradients).build().to_string()


def node_id(node: str) -> str:
    """The SVG ``id`` of a node of ``Program.graph``."""
    return f"node:{node}"


def output_id(name: str) -> str:
    """The SVG ``id`` of an output's bold box."""
    return f"output:{name}"


def port_id(call: str, source: str) -> str:
    """The SVG ``id`` of the port through which ``source`` enters the call ``call``."""
    return f"port:{call}:{source}"


def edge_id(source: str, target: str, index: int) -> str:
    """The SVG ``id`` of the edge carrying ``source`` to operand ``index`` of ``target``
    (``target`` may be ``output NAME``: the edge into an output's box)."""
    return f"edge:{source}->{target}:{index}"


def port_edge_id(call: str, source: str) -> str:
    """The SVG ``id`` of the edge feeding the port of ``source`` into the call ``call``."""
    return f"edge:{source}->{port_id(call, source)}"


def edge_grads_of(result) -> dict:
    """The gradient flowing back along each operand edge: ``{(gate, index): gradient}``,
    in backward order."""
    return {(edge.step.node, edge.index): edge.gradient for edge in edge_gradients(result)}


def gradient_sums(program, edge_grads: dict) -> tuple:
    """``(totals, ports)``: the gradients the picture writes besides each edge's share
    (``edge_grads``, from :func:`edge_grads_of`): each node's sum of its shares, and each
    port's, ``{(call, source): gradient}`` (None where no gradient passes)."""
    graph, totals, ports = program.graph, {}, {}
    for (node, index), gradient in edge_grads.items():
        target = graph.nodes[node]["args"][index]
        totals[target] = _plus(totals.get(target), gradient)
    for node in program.forward_order:
        for index, arg in enumerate(graph.nodes[node].get("args", ())):
            for scope in entered_calls(graph, node, arg):
                key = (scope[-1][1], arg)
                ports[key] = _plus(ports.get(key), edge_grads.get((node, index)))
    return totals, ports


def entered_calls(graph, node: str, arg: str) -> list:
    """The calls that the edge from ``arg`` to ``node`` enters, outermost first (each
    as the scope up to it): ``node`` sits in them and ``arg`` does not."""
    inner, outer = graph.nodes[node]["scope"], graph.nodes[arg]["scope"]
    return [inner[:depth + 1] for depth in range(_common_prefix(inner, outer), len(inner))]


class _Picture:
    def __init__(self, program, result, gradients: bool):
        self.program, self.graph = program, program.graph
        self.names = NodeNames(self.graph, _TOOLTIP_BUDGET)
        self.values = result.values if result is not None else {}
        self.of = result.of if result is not None and gradients else None
        self.edge_grads = edge_grads_of(result) if self.of is not None else {}
        self.totals, self.port_grads = gradient_sums(program, self.edge_grads)
        self.dot = pydot.Dot("graphdsl", graph_type="digraph", rankdir="LR", fontname="Helvetica",
                             fontsize="11", nodesep="0.45", ranksep="0.5")
        self.dot.set_node_defaults(fontname="Helvetica", fontsize="12")
        self.dot.set_edge_defaults(fontname="Helvetica", fontsize="10", arrowsize="0.7")
        self.clusters: dict = {}
        self.repeats = repeat_lengths(self.graph)
        self.ports: dict = {}  # (call, source) -> the edge that feeds the port
        self.roles_shown = False

    def build(self) -> pydot.Dot:
        for node in self.program.forward_order:
            self._container(self.graph.nodes[node]["scope"]).add_node(self._node(node))
        for node in self.program.forward_order:
            for index, arg in enumerate(self.graph.nodes[node].get("args", ())):
                self._edge(node, index, arg)
        for key, (feeder, port, attrs) in self.ports.items():
            if self._labelled(key[1]):
                attrs["label"] = edge_label(self.values[key[1]], self.port_grads.get(key))
            self.dot.add_edge(pydot.Edge(feeder, port, **attrs))
        for name in self.program.outputs:
            self._output(name)
        # Inputs and params line up on the left, as in the lecture's figures.
        leaves = pydot.Subgraph(rank="min")
        for leaf in self.program.inputs + self.program.params:
            leaves.add_node(pydot.Node(_id(leaf)))
        self.dot.add_subgraph(leaves)
        self.dot.set("label", legend(self.of, bool(self.values), self.roles_shown, bool(self.ports)))
        self.dot.set("labelloc", "b")
        self.dot.set("labeljust", "l")
        return self.dot

    def _output(self, name: str) -> None:
        box = _id(f"output {name}")
        self.dot.add_node(pydot.Node(box, shape="box", style="bold", label=f"<<b>{escape(name)}</b>>",
                                     tooltip=_quoted(f"output {name}"), id=_quoted(output_id(name)),
                                     **{"class": "output"}))
        attrs = {"label": edge_label(self.values[name], self._seed(name))} if self.values else {}
        self.dot.add_edge(pydot.Edge(_id(name), box, id=_quoted(edge_id(name, f"output {name}", 0)),
                                     **{"class": "output"}, **attrs))

    def _seed(self, output: str):
        """The gradient of the differentiated output with respect to itself: ones."""
        if output != self.of:
            return None
        value = self.values[output]
        return np.ones_like(value) if isinstance(value, np.ndarray) else 1.0

    def _node(self, node: str) -> pydot.Node:
        data = self.graph.nodes[node]
        kind = data["kind"]
        if kind in _LEAVES:
            attrs = _leaf(self, node, data)
        elif kind == "const":
            attrs = {"shape": "box", "fontsize": "10", "color": CONST_COLOR, "width": "0.3",
                     "height": "0.25", "margin": "0.05,0.03", "tooltip": f"constant, line {_line(data)}",
                     "label": "<" + "<br/>".join(escape(line) for line in value_lines(data["value"])) + ">"}
        else:
            attrs = _gate(self, node, data)
        return pydot.Node(_id(node), id=_quoted(node_id(node)), **{"class": kind}, **attrs)

    def _container(self, scope: tuple):
        """The (nested) cluster of a compound-gate call, created on first use."""
        parent = self.dot
        for depth in range(len(scope)):
            key = tuple(call for _, call, _ in scope[:depth + 1])
            if key not in self.clusters:
                gate, call, span = scope[depth]
                cluster = pydot.Cluster(f"call{len(self.clusters)}", label=_quoted(call_title(gate, call, self.repeats)),
                                        style="rounded,dashed", color="gray40", fontname="Helvetica",
                                        fontsize="11", labelloc="b", labeljust="l", id=_quoted(f"call:{call}"),
                                        tooltip=_quoted(f"{gate} called at line {span.line}"))
                cluster.set("class", "call")
                parent.add_subgraph(cluster)
                self.clusters[key] = cluster
            parent = self.clusters[key]
        return parent

    # ------------------------------------------------------------ edges
    def _edge(self, node: str, index: int, arg: str) -> None:
        """The edge from ``arg`` to operand ``index`` of ``node``, through a port for
        every call that ``node`` sits in and ``arg`` does not."""
        gradient = self.edge_grads.get((node, index))
        source = _id(arg)
        for scope in entered_calls(self.graph, node, arg):
            source = self._port(scope, arg, source)
        attrs = {"id": _quoted(edge_id(arg, node, index))}
        if roles(self.graph.nodes[node].get("gate")):
            attrs["headport"] = f"p{index}:w"
            self.roles_shown = True
        if self._labelled(arg):
            attrs["label"] = edge_label(self.values[arg], gradient)
        self.dot.add_edge(pydot.Edge(source, _id(node), **{"class": "operand"}, **attrs))

    def _port(self, scope: tuple, arg: str, feeder: str) -> str:
        """The port of ``arg`` into the innermost call of ``scope`` (made on first use)."""
        call = scope[-1][1]
        key = (call, arg)
        if key not in self.ports:
            port = _id(port_id(call, arg))
            self._container(scope).add_node(pydot.Node(
                port, shape="box", style="rounded", color=CONST_COLOR, fontsize="10", height="0.25",
                margin="0.05,0.03", label=f"<{escape(self._port_name(arg))}>", id=_quoted(port_id(call, arg)),
                tooltip=_quoted(f"{self.names.display(arg)} passed into {scope[-1][0]}"), **{"class": "port"}))
            self.ports[key] = (feeder, port, {"id": _quoted(port_edge_id(call, arg)), "class": "port"})
        return self.ports[key][1]

    def _port_name(self, arg: str) -> str:
        data = self.graph.nodes[arg]
        if data["kind"] == "const":
            return value_lines(data["value"])[0]
        if not is_anonymous(arg):
            return pretty(arg).rsplit(".", 1)[-1]
        text = self.names.expression(arg)
        return text if len(text) <= 24 and text != pretty(arg) else "…"

    def _labelled(self, source: str) -> bool:
        """Edges carry numbers when there are values, except from a constant (its box shows it)."""
        return bool(self.values) and self.graph.nodes[source]["kind"] != "const"


# ---------------------------------------------------------------- nodes
def _gate(picture, node: str, data: dict) -> dict:
    scope = data["scope"]
    name = None if node in picture.program.outputs else shown_name(node, scope[-1][1] if scope else None)
    label, round_ = gate_label(data["gate"], data.get("symbol"), name, len(data["args"]))
    statement = picture.names.statement(node)
    if is_anonymous(node) and statement == pretty(node):  # too long to spell out
        statement = f"a {data['gate']} gate"
    attrs = {"shape": "circle" if round_ else "ellipse", "margin": "0.04,0.02", "label": label,
             "tooltip": _quoted(f"{statement}   (line {_line(data)})")}
    if roles(data["gate"]) or all(picture.graph.nodes[a]["kind"] in _LEAVES for a in data["args"]):
        # Operands arrive in their order, top to bottom: a above b at the pins, and
        # x above y in x + y, as written (and as the lecture draws them).
        attrs["ordering"] = "in"
    return attrs


def _leaf(picture, node: str, data: dict) -> dict:
    rows = [f"<b>{escape(node)}</b>" + _leaf_value(picture, node, data)]
    if node in picture.totals:
        first, *rest = value_lines(picture.totals[node])
        rows.append(colored([f"d{picture.of}/d{node} = {first}", *rest], GRADIENT_COLOR))
    attrs = {"shape": "box", "label": "<" + "<br/>".join(rows) + ">",
             "tooltip": f"{data['kind']} {node}, line {_line(data)}"}
    if data["kind"] == "param":
        attrs.update(style="rounded,filled", fillcolor=PARAM_FILL)
    return attrs


def _leaf_value(picture, node: str, data: dict) -> str:
    if node in picture.values:
        first, *rest = value_lines(picture.values[node])
        return escape(f" = {first}") + "".join(f"<br/>{escape(line)}" for line in rest)
    if data.get("shape") is not None:
        return ": " + escape(shape_text(data["shape"]))
    return ""


def _common_prefix(inner: tuple, outer: tuple) -> int:
    """How many enclosing calls two nodes share."""
    shared = 0
    for a, b in zip(inner, outer):
        if a[1] != b[1]:
            break
        shared += 1
    return shared


def _plus(total, gradient):
    if gradient is None:
        return total
    with np.errstate(all="ignore"):  # inf + -inf is NaN here as in the backward pass
        return gradient if total is None else total + gradient


def _id(node: str) -> str:
    # Always quoted: a model may name a value 'node', 'edge' or 'graph', which are DOT keywords.
    return f'"{node}"'


def _quoted(text: str) -> str:
    """A DOT string: pydot leaves quoting to us for text with quotes or backslashes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _line(data: dict):
    span = data.get("span")
    return span.line if span else "?"

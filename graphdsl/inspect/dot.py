"""The picture of a graph as Graphviz DOT, built explicitly with pydot.

Leaves are boxes (params shaded), gates are circles showing their symbol,
constants are small plain numbers, outputs end in a bold box. With a Result,
every edge carries the value flowing forward (green, on top) and the gradient
flowing back along it (red, underneath), as in the lecture's (x+y)z figure; a
value used twice has two edges, each with its own share of the gradient, and
the leaf's box shows their sum. Calls of compound gates are labelled clusters.
Nodes and edges are emitted in forward order, so the text is deterministic.
"""
from __future__ import annotations

from html import escape

import numpy as np
import pydot

from .explain import NodeNames, edge_gradients, is_anonymous
from .numbers import format_compact, shape_text

VALUE_COLOR, GRADIENT_COLOR, PARAM_FILL = "darkgreen", "red3", "#fff2cc"
_LABEL_ENTRIES = 4  # arrays with more entries are labelled by their shape


def to_dot(program, result=None, gradients: bool = True) -> str:
    """DOT source of ``program``; with ``result``, values and gradients label the edges.

    >>> import graphdsl
    >>> prog = graphdsl.loads("input x = 3\\noutput y = x * x")
    >>> "->" in to_dot(prog, prog.run())
    True
    """
    return _Picture(program, result, gradients).build().to_string()


class _Picture:
    def __init__(self, program, result, gradients: bool):
        self.program, self.graph = program, program.graph
        self.names = NodeNames(self.graph)
        self.values = (dict(zip(program.forward_order, result._values)) if result is not None else {})
        self.of = result.of if result is not None and gradients else None
        self.edge_grads, self.totals = {}, {}
        if self.of is not None:
            for edge in edge_gradients(result):
                target = self.graph.nodes[edge.step.node]["args"][edge.index]
                self.edge_grads[(edge.step.node, edge.index)] = edge.gradient
                old = self.totals.get(target)
                self.totals[target] = edge.gradient if old is None else old + edge.gradient
        self.dot = pydot.Dot("graphdsl", graph_type="digraph", rankdir="LR", forcelabels="true",
                             fontname="Helvetica", nodesep="0.3", ranksep="0.6")
        self.dot.set_node_defaults(fontname="Helvetica", fontsize="12")
        self.dot.set_edge_defaults(fontname="Helvetica", fontsize="10", arrowsize="0.7")
        self.clusters: dict = {}

    def build(self) -> pydot.Dot:
        for node in self.program.forward_order:
            self._container(self.graph.nodes[node]["scope"]).add_node(self._node(node))
        for node in self.program.forward_order:
            for index, arg in enumerate(self.graph.nodes[node].get("args", ())):
                self.dot.add_edge(pydot.Edge(_id(arg), _id(node), **self._edge_style(node, index, arg)))
        for name in self.program.outputs:
            self.dot.add_node(pydot.Node(_id(f"output {name}"), shape="box", style="bold",
                                         label=f"<<b>{escape(name)}</b>>", tooltip=f"output {name}"))
            attrs = {"label": self._edge_label(name, self._seed(name))} if self.values else {}
            self.dot.add_edge(pydot.Edge(_id(name), _id(f"output {name}"), **attrs))
        return self.dot

    def _seed(self, output: str):
        """The gradient of the differentiated output with respect to itself: ones."""
        if output != self.of:
            return None
        value = self.values[output]
        return np.ones_like(value) if isinstance(value, np.ndarray) else 1.0

    # ------------------------------------------------------------ nodes
    def _node(self, node: str) -> pydot.Node:
        data = self.graph.nodes[node]
        kind = data["kind"]
        if kind in ("input", "param"):
            return self._leaf(node, data)
        if kind == "const":
            return pydot.Node(_id(node), shape="plaintext", fontsize="10", label=_quoted(format_compact(
                data["value"], _LABEL_ENTRIES)), tooltip=f"constant, line {_line(data)}")
        symbol = data.get("symbol") or data["gate"]
        attrs = {"shape": "circle" if len(symbol) <= 3 else "ellipse", "label": _quoted(symbol),
                 "tooltip": _quoted(f"{self.names.statement(node)}   (line {_line(data)})")}
        if not is_anonymous(node) and node not in self.program.outputs:
            attrs["xlabel"] = _quoted(node.rsplit("/", 1)[-1])  # inside a cluster: the local name
        return pydot.Node(_id(node), **attrs)

    def _leaf(self, node: str, data: dict) -> pydot.Node:
        rows = [f"<b>{escape(node)}</b>" + self._leaf_value(node, data)]
        if node in self.totals:
            rows.append(_colored(f"d{self.of}/d{node} = {format_compact(self.totals[node], _LABEL_ENTRIES)}",
                                 GRADIENT_COLOR))
        attrs = {"shape": "box", "label": "<" + "<br/>".join(rows) + ">",
                 "tooltip": f"{data['kind']} {node}, line {_line(data)}"}
        if data["kind"] == "param":
            attrs.update(style="rounded,filled", fillcolor=PARAM_FILL)
        return pydot.Node(_id(node), **attrs)

    def _leaf_value(self, node: str, data: dict) -> str:
        if node in self.values:
            return " = " + escape(format_compact(self.values[node], _LABEL_ENTRIES))
        if data.get("shape") is not None:
            return ": " + escape(shape_text(data["shape"]))
        return ""

    def _container(self, scope: tuple):
        """The (nested) cluster of a compound-gate call, created on first use."""
        parent = self.dot
        for depth in range(len(scope)):
            key = tuple(call for _, call, _ in scope[:depth + 1])
            if key not in self.clusters:
                gate, call, span = scope[depth]
                cluster = pydot.Cluster(f"call{len(self.clusters)}", label=_quoted(gate),
                                        style="rounded,dashed", color="gray40", fontname="Helvetica",
                                        fontsize="11", tooltip=_quoted(f"{gate} called at line {span.line}"))
                parent.add_subgraph(cluster)
                self.clusters[key] = cluster
            parent = self.clusters[key]
        return parent

    # ------------------------------------------------------------ edges
    def _edge_style(self, node: str, index: int, arg: str) -> dict:
        if not self.values:
            return {}
        return {"label": self._edge_label(arg, self.edge_grads.get((node, index)))}

    def _edge_label(self, source: str, gradient) -> str:
        rows = [_colored(format_compact(self.values[source], _LABEL_ENTRIES), VALUE_COLOR)]
        if gradient is not None:
            rows.append(_colored(format_compact(gradient, _LABEL_ENTRIES), GRADIENT_COLOR))
        return "<" + "<br/>".join(rows) + ">"


def _id(node: str) -> str:
    # Always quoted: a model may name a value 'node', 'edge' or 'graph', which are DOT keywords.
    return f'"{node}"'


def _colored(text: str, color: str) -> str:
    return f'<font color="{color}">{escape(text)}</font>'


def _quoted(text: str) -> str:
    """A DOT string: pydot leaves quoting to us for text with quotes or backslashes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _line(data: dict):
    span = data.get("span")
    return span.line if span else "?"

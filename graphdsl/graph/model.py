"""The checked, expanded model: its leaves, its schedule and, on first use, its
networkx graph (the node data is the contract between build, schedule and dot)."""
from __future__ import annotations

import contextlib
import gc
import threading

import networkx as nx

from .schedule import schedule

_GRAPH_LOCK = threading.Lock()


@contextlib.contextmanager
def paused_gc():
    """Building a large graph creates millions of objects and no garbage cycles; CPython's
    cyclic collector would rescan all of them again and again (half of the load time of a
    10,000-gate file). Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Model:
    """A checked, expanded model: its leaves, its schedule, and its networkx graph, made
    on first use of ``graph()``. A networkx graph costs ~10 µs and ~2 kB a node to make,
    more than the rest of loading, and most programs never ask for it; the schedule holds
    everything the graph shows but the leaves' data and the constants' places, so the
    expanded ops are not kept (one object a node fewer for the cyclic GC to scan)."""

    # Whose bits ``forward``'s float code gives: the interpreter's (numpy's functions), or
    # ``run``'s (math's), for a derivative program, whose numbers are run's gradients.
    run_bits = False

    def __init__(self, file: str, leaves: list, ops: list, outputs: tuple):
        self.file = file
        self.leaves = leaves  # of (name, node data)
        self.outputs = outputs
        self.inputs = tuple(name for name, data in leaves if data["kind"] == "input")
        self.params = tuple(name for name, data in leaves if data["kind"] == "param")
        self.schedule = schedule(leaves, ops, outputs)
        self.constants = {len(leaves) + i: op for i, op in enumerate(ops) if op.kind == "const"}
        self._graph = None

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _graph=None)  # made again on first use, as after loading

    def graph(self) -> nx.DiGraph:
        """The frozen networkx graph: a node per slot with its data, edges from operand to gate."""
        with _GRAPH_LOCK:  # threads asking at once get one graph
            if self._graph is None:
                with paused_gc():  # as when loading: many objects, no garbage cycles
                    self._graph = self._make_graph()
            return self._graph

    def _make_graph(self) -> nx.DiGraph:
        sched = self.schedule
        ids = sched.ids
        graph = nx.DiGraph(file=self.file, outputs=self.outputs, inputs=self.inputs,
                           params=self.params)
        nodes = list(self.leaves)
        for slot, op in self.constants.items():
            nodes.append((op.suffix, {"kind": "const", "value": op.value, "span": op.span,
                                      "order": slot, "scope": op.scope, "args": ()}))
        edges = []
        for step in sched.steps:
            args = tuple([ids[a] for a in step.args])
            nodes.append((step.node, {"kind": "gate", "gate": step.gate.name, "args": args,
                                      "options": step.options, "symbol": step.symbol,
                                      "span": step.span, "order": step.slot, "scope": step.scope}))
            edges.extend((a, step.node) for a in args)
        nodes.sort(key=lambda node: node[1]["order"])  # nodes in forward order, as ever
        graph.add_nodes_from(nodes)
        graph.add_edges_from(edges)
        return nx.freeze(graph)


def find_cycle(graph: nx.DiGraph) -> list:
    """The edges of one cycle of ``graph``, or [] when it has none, in linear time.

    ``nx.find_cycle`` without a source restarts its search from every node, which
    takes quadratic time on a long chain. Inside a strongly connected component
    every node has a successor in the component, so following them from any node
    must come back to a node already met: that closes a cycle.
    """
    cyclic = [c for c in nx.strongly_connected_components(graph)
              if len(c) > 1 or any(graph.has_edge(n, n) for n in c)]
    if not cyclic:
        return []
    position = {node: i for i, node in enumerate(graph)}  # report the cycle met first
    node = min((node for c in cyclic for node in c), key=position.__getitem__)
    component = next(c for c in cyclic if node in c)
    path, met = [], {}
    while node not in met:
        met[node] = len(path)
        path.append(node)
        node = next(n for n in graph.successors(node) if n in component)
    cycle = path[met[node]:]
    return list(zip(cycle, cycle[1:] + cycle[:1]))

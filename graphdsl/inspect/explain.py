"""The backward pass in the lecture's words: at every gate, for every operand,
local gradient × upstream gradient = the gradient flowing back along that edge.

``edge_gradients`` yields those per-edge numbers (the picture writes them on the
edges); ``explain`` turns them into steps that ``graphrun --explain`` prints, one
line each, or hands out as JSON.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from ..run.interpret import seed_like
from ..gates import GATES
from ..gates.lower import prose_call, rule_text
from ..run import interpret
from .numbers import format_compact, shape_text, to_json

_STEP = re.compile(r"(?:/return)?@([0-9]+)")  # ids of a repeat's steps: f@2, s/return@2
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_BUDGET = 48  # longest sub-expression spelled out; longer ones go by their node id


@dataclass(frozen=True)
class EdgeGradient:
    """The gradient flowing back from gate ``step`` to its operand number ``index``."""

    step: object  # schedule.Step
    index: int
    upstream: object  # d(of)/d(gate output), complete when the gate is reached
    gradient: object  # unbroadcast(vjp_index(upstream, ...)): this edge's contribution
    local: object  # ∂ output / ∂ operand for elementwise gates, else None


def edge_gradients(result) -> list:
    """Every edge's gradient contribution, in backward order: the interpreter's backward
    pass over the run's values, told of each edge (its ``on_edge`` hook)."""
    sched = result.program.schedule
    values = [result.values[node] for node in sched.ids]
    edges = []

    def on_edge(step, i, upstream, contribution):
        local = None
        if step.gate.elementwise:
            local = step.gate.local(i, values[step.slot], *[values[a] for a in step.args])
        edges.append(EdgeGradient(step, i, upstream, contribution, local))

    with np.errstate(all="ignore"):
        interpret.backward(sched, result.of, values, on_edge=on_edge)
    return edges


@dataclass(frozen=True)
class Explanation:
    """One line of the backward pass: ``d(of)/d(target) = formula = gradient``."""

    of: str
    node: str | None  # the gate whose rule is applied (None for the seed)
    target: str  # the node receiving the gradient
    operand: int | None
    gate: str | None
    expression: str  # what the gate computes, e.g. "q = x + y"
    line: int | None
    local: object  # elementwise gates: the local derivative; else None
    rule: str | None  # other gates: the rule in symbols, e.g. "df/dq @ xᵀ"
    upstream: object
    gradient: object  # this step's contribution
    total: object  # d(of)/d(target) once this contribution is added
    shares: int  # how many contributions the target receives in all
    text: str

    def as_dict(self) -> dict:
        """Plain JSON data (NaN and infinities as strings, arrays as lists)."""
        data = {key: getattr(self, key) for key in ("of", "node", "target", "operand", "gate",
                                                    "expression", "line", "rule", "shares", "text")}
        for key in ("local", "upstream", "gradient", "total"):
            value = getattr(self, key)
            data[key] = None if value is None else to_json(value)
        return data


def explain(result) -> list:
    """The backward pass of ``result.of`` as a list of :class:`Explanation`, seed first."""
    graph, of = result.program.graph, result.of
    names = NodeNames(graph)
    seed_value = result.values[result.program.schedule.ids[result.program.schedule.plans[of].seed]]
    seed = seed_like(seed_value)
    steps = [Explanation(of, None, of, None, None, names.statement(of), _line(graph, of), None, None,
                         seed, seed, seed, 1, _seed_text(of, seed))]
    edges = edge_gradients(result)
    shares = Counter(graph.nodes[e.step.node]["args"][e.index] for e in edges)
    totals: dict = {}
    seen: Counter = Counter()
    for edge in edges:
        node = edge.step.node
        target = graph.nodes[node]["args"][edge.index]
        with np.errstate(all="ignore"):  # inf + -inf is NaN here as in the backward pass: no warning
            totals[target] = edge.gradient if target not in totals else totals[target] + edge.gradient
        seen[target] += 1
        rule = None if edge.local is not None else _rule(edge, names, of)
        explanation = Explanation(of, node, target, edge.index, edge.step.gate.name,
                                  names.statement(node), _line(graph, node), edge.local, rule,
                                  edge.upstream, edge.gradient, totals[target], shares[target], "")
        steps.append(_with_text(explanation, names, seen[target] == shares[target]))
    return steps


def _seed_text(of: str, seed) -> str:
    what = "1" if not isinstance(seed, np.ndarray) else f"ones of shape {shape_text(seed.shape)}"
    return f"d{of}/d{of} = {what}   (the seed: the gradient of {of} with respect to itself)"


def _with_text(e: Explanation, names: "NodeNames", last: bool) -> Explanation:
    of, target, node = e.of, names.display(e.target), names.display(e.node)
    lhs = f"d{of}/d{target} {'+=' if e.shares > 1 else '='}"
    where = f"{e.expression}, line {e.line}" if e.line else e.expression
    if e.local is not None:
        formula = f"{format_compact(e.local)} × {format_compact(e.upstream)}"
        notes = [f"local ∂{node}/∂{target} of {where}", f"× upstream d{of}/d{node}"]
        if np.shape(e.gradient) != np.shape(e.upstream):
            shape = np.shape(e.gradient)
            notes[-1] += f", summed back to shape {shape_text(shape)}" if shape else ", summed to one number"
    else:
        formula = e.rule
        notes = [f"{e.gate} rule of {where}", f"upstream d{of}/d{node} = {format_compact(e.upstream)}"]
    if e.shares > 1:
        notes[-1] += (f"; d{of}/d{target} {'in all' if last else 'so far'}: "
                      f"{format_compact(e.total)}")
    text = f"{lhs} {formula} = {format_compact(e.gradient)}   ({', '.join(notes)})"
    return replace(e, text=text)


def _rule(edge: EdgeGradient, names: "NodeNames", of: str) -> str:
    """The rule of a non-elementwise gate, in symbols, for one operand: the record's words
    for it, or else the rule's own expression."""
    step, i = edge.step, edge.index
    args = [names.display(a) for a in names.graph.nodes[step.node]["args"]]
    up, out = f"d{of}/d{names.display(step.node)}", names.display(step.node)
    if step.gate.explain is not None:
        return step.gate.explain[i].format(*args, g=up, out=out)
    return rule_text(step.gate, i, {"g": up, "out": out, **{f"x{k}": a for k, a in enumerate(args)}},
                     [np.ndim(a) for a in args] if step.gate.by_rank else None, step.options)


def _line(graph, node) -> int | None:
    span = graph.nodes[node].get("span")
    return span.line if span else None


class NodeNames:
    """How a node is called in explanations: its name, or the expression it stands for."""

    def __init__(self, graph, budget: int = _BUDGET):
        self.graph, self.budget = graph, budget

    def display(self, node: str) -> str:
        if not is_anonymous(node):
            return pretty(node)
        text = self.expression(node)
        return f"({text})" if text != pretty(node) else text

    def statement(self, node: str) -> str:
        if self.graph.nodes[node]["kind"] != "gate":
            return pretty(node)
        text = self.expression(node, top=True)
        return text if is_anonymous(node) else f"{pretty(node)} = {text}"

    def expression(self, node: str, top: bool = False) -> str:
        """Spell a gate out from its operands, anonymous operands recursively, within a budget."""
        text = self._spell(node, self.budget, top)
        return text if text is not None else pretty(node)

    def _spell(self, node, budget, top=False):
        data = self.graph.nodes[node]
        if data["kind"] == "const":
            return format_compact(data["value"])
        if data["kind"] != "gate" or (not top and not is_anonymous(node)):
            return pretty(node)
        if budget <= 0:
            return None
        parts = []
        for arg in data["args"]:
            part = self._spell(arg, budget - 4)
            if part is None:
                return None
            parts.append((part, _precedence(self.graph, arg)))
        text = _combine(data["gate"], data.get("options"), parts)
        return text if len(text) <= budget else None


def pretty(node: str) -> str:
    """A node id for prose: ``s/e`` (the local ``e`` of the call ``s``) reads ``s.e``, so that
    it cannot be mistaken for a derivative such as ``df/ds``; step k of ``f = repeat(...)``
    (the id ``f@k``) reads ``fₖ``, as the lecture writes the steps of the logistic map."""
    if "@" in node:
        node = _STEP.sub(lambda found: found.group(1).translate(_SUBSCRIPTS), node)
    return node.replace("/", ".")


def is_anonymous(node: str) -> bool:
    """Nodes the builder named after their parent (``f#1``, ``s/#2``) rather than the user."""
    return "#" in node.rsplit("/", 1)[-1]


def _precedence(graph, node) -> int:
    data = graph.nodes[node]
    if data["kind"] != "gate" or not is_anonymous(node):
        return 9
    return prose_call(GATES[data["gate"]], [("x", 9)] * len(data["args"]), data.get("options"))[1]


def _combine(gate: str, options: dict | None, parts: list) -> str:
    return prose_call(GATES[gate], parts, options)[0]

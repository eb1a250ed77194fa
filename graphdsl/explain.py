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

from .execute import seed_like, unbroadcast
from .formatting import format_compact, shape_text, to_json

_INFIX = {"add": ("+", 1), "sub": ("-", 1), "mul": ("*", 2), "div": ("/", 2), "matmul": ("@", 2),
          "pow": ("**", 4)}
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


def edge_gradients(result):
    """Every edge's gradient contribution, in backward order (recomputed from the values)."""
    sched = result.program._schedule
    values = result._values
    plan = sched.plans[result.of]
    grads = [None] * len(values)
    seed = values[plan.seed]
    grads[plan.seed] = seed_like(seed)
    with np.errstate(all="ignore"):
        for back in plan.steps:
            step, g = back.step, grads[back.step.slot]
            if g is None:
                continue
            out, args = values[step.slot], [values[a] for a in step.args]
            for i, (a, need) in enumerate(zip(step.args, back.needs)):
                if not need:
                    continue
                ct = unbroadcast(step.gate.vjps[i](g, out, *args, **step.options), np.shape(args[i]))
                grads[a] = ct if grads[a] is None else grads[a] + ct
                local = step.gate.local(i, out, *args) if step.gate.elementwise else None
                yield EdgeGradient(step, i, g, ct, local)


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
    seed_value = result._values[result.program._schedule.plans[of].seed]
    seed = seed_like(seed_value)
    steps = [Explanation(of, None, of, None, None, names.statement(of), _line(graph, of), None, None,
                         seed, seed, seed, 1, _seed_text(of, seed))]
    edges = list(edge_gradients(result))
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
    """The rule of a non-elementwise gate, in symbols, for one operand."""
    step, i = edge.step, edge.index
    args = [names.display(a) for a in names.graph.nodes[step.node]["args"]]
    up = f"d{of}/d{names.display(step.node)}"
    gate = step.gate.name
    if gate in ("matmul", "dot"):
        return f"{up} @ {args[1]}ᵀ" if i == 0 else f"{args[0]}ᵀ @ {up}"
    if gate == "sum":
        return f"{up} copied to every entry of {args[0]}"
    if gate == "mean":
        return f"{up} / (entries averaged) copied to every entry of {args[0]}"
    if gate == "softmax":
        s = names.display(step.node)
        return f"{s} ⊙ ({up} − Σ {up} ⊙ {s})"
    if gate == "logsumexp":
        return f"{up} × softmax({args[0]})"
    if gate == "transpose":
        return f"({up})ᵀ"
    return f"the vector-Jacobian product of {gate} with {up}"


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
        text = _combine(data["gate"], data.get("symbol"), parts)
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
    if data["gate"] == "neg":
        return 3
    return _INFIX[data["gate"]][1] if data["gate"] in _INFIX else 9


def _combine(gate: str, symbol: str | None, parts: list) -> str:
    if gate in _INFIX and len(parts) == 2:
        op, level = _INFIX[gate]
        (left, lp), (right, rp) = parts
        left = f"({left})" if lp < level or (gate == "pow" and lp == level) else left
        right = f"({right})" if rp < level or (rp == level and gate != "pow") else right
        return f"{left} {op} {right}"
    if gate == "neg":
        (arg, prec), = parts
        return f"-({arg})" if prec < 4 else f"-{arg}"
    if gate == "identity":
        return parts[0][0]
    return f"{gate}({', '.join(p for p, _ in parts)})"

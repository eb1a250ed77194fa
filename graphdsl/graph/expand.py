"""Calls of compound gates, inlined: the scopes that build compiles become one list of
primitive ops, each with its final node id and the calls it sits in.

First :func:`check_limits` measures, bottom-up and each gate once, how many nodes one
call of each gate makes and how deep calls nest, and refuses a graph beyond the
limits before anything is built (``repeat(g, 10**12, x)`` costs nothing to refuse).
Then :func:`expand` copies every op once. Each call being expanded is a frame on an
explicit stack, so nesting costs no Python recursion, and the ops of one call share
one tuple of enclosing calls.

Ids inside a call ``s``: a local ``e`` is ``s/e``, a sub-expression ``s/#1``, the k-th
call of a ``repeat`` ``s@k``. A call that is its gate's result (``return f(a)``)
has that gate's id, so its inner nodes go under ``s/return``: ``return`` is a
keyword, which no local name can be, so no two nodes ever share an id.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import GraphLimitError, Span
from ..gates import ALIAS, GATES

# Each node records the calls it sits in, so nesting costs memory per node; no graph a
# person writes nests compound gates anywhere near this deep.
MAX_GATE_DEPTH = 100
RAISE_LIMIT = "raise it with --max-nodes N (or max_nodes=N in load/loads)"
_HUGE = 10**30  # node counts saturate here


class Op(NamedTuple):
    """One op of a scope, or a node of the expanded graph (a named tuple: one is made for
    every node, several times faster than a frozen dataclass)."""

    suffix: str  # node id relative to the enclosing call; "" is the call's own result
    kind: str  # "const" or "gate"; before expansion also "call" and "repeat"
    gate: str | None  # the gate (for call/repeat: the callee)
    args: tuple  # refs: >= 0 an earlier op of the scope, < 0 parameter -1-ref
    span: Span
    options: dict | None = None
    value: object = None  # a constant's value; repeat's count
    symbol: str | None = None
    scope: tuple = ()  # enclosing calls, outermost first: (gate, call id, call span)
    named: bool = False  # the root of an assignment: must own a node with this id


@dataclass
class Scope:
    """A compiled body: its parameters (or the file's leaves), ops and result."""

    name: str
    params: tuple
    ops: list
    root: int | None = None
    calls: tuple = ()  # (callee gate name, call span) of compound callees


def about(count: int) -> str:
    """A node count for a message (they can have hundreds of digits)."""
    return "more than 10^30" if count >= _HUGE else f"about {count:,}"


# ---------------------------------------------------------------- limits
def check_limits(scopes: dict, top: Scope, leaves: int, max_nodes: int, file: str) -> Span | None:
    """Refuse, with a GraphLimitError, calls nesting deeper than MAX_GATE_DEPTH or a
    graph that would expand to more than ``max_nodes`` nodes.

    Two measures bracket the true count: the work measure counts one more node per
    compound call (a call of a gate that makes no node still takes time), the lower one
    counts primitive ops only. Between them, and up to twice the limit of work, the
    expansion is cheap: the place to blame is returned for the caller to count the
    expanded ops exactly (see too_big)."""
    sizes, depths = _measure(scopes, top, per_call=1)
    if top.calls:
        callee, span = max(top.calls, key=lambda call: depths[call[0]])
        if depths[callee] > MAX_GATE_DEPTH:
            raise GraphLimitError(
                f"compound gates call each other {depths[callee]:,} levels deep "
                f"({_deepest_chain(scopes, callee, depths)}), more than the limit of "
                f"{MAX_GATE_DEPTH}", span)
    work = min(leaves + _ops_size(top.ops, sizes, 1), _HUGE)
    if work <= max_nodes:
        return None
    lower = min(leaves + _ops_size(top.ops, _measure(scopes, top, per_call=0)[0], 0), _HUGE)
    if work > 2 * max_nodes or lower > max_nodes:
        raise too_big(about(lower if lower > max_nodes else work), max_nodes,
                      _biggest_call(top, sizes, file))
    return _biggest_call(top, sizes, file)


def too_big(count: str, max_nodes: int, span: Span) -> GraphLimitError:
    return GraphLimitError(f"the graph would expand to {count} nodes, more than the limit of "
                           f"{max_nodes:,}; {RAISE_LIMIT}", span)


def _measure(scopes: dict, top: Scope, per_call: int) -> tuple:
    """For each compound gate the file calls: the nodes one call of it makes, and how many
    levels deep its calls nest (bottom-up, each gate once, no recursion)."""
    sizes: dict = {}
    depths: dict = {}
    stack = [callee for callee, _ in top.calls]
    while stack:
        current = stack[-1]
        if current in sizes:  # reached twice through different callers
            stack.pop()
            continue
        callees = [callee for callee, _ in scopes[current].calls]
        pending = [callee for callee in callees if callee not in sizes]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        sizes[current] = _ops_size(scopes[current].ops, sizes, per_call)
        depths[current] = 1 + max((depths[callee] for callee in callees), default=0)
    return sizes, depths


def _ops_size(ops, sizes, per_call: int) -> int:
    """Nodes the ops make, counting each call of a compound gate as ``per_call`` more:
    expanding ``repeat(g, 10**12, x)`` takes that long even when ``g`` makes no node."""
    total = 0
    for op in ops:
        if op.kind == "call":
            total += sizes[op.gate] + per_call
        elif op.kind == "repeat":  # a built-in makes one node a call; a 0-count repeat, one
            total += op.value * (sizes[op.gate] + per_call if op.gate in sizes else 1) + per_call
        else:
            total += 1
    return min(total, _HUGE)  # saturate: 10**12 repeats of 10**12 repeats... stay cheap


def _deepest_chain(scopes: dict, name: str, depths: dict) -> str:
    chain = [name]
    while scopes[chain[-1]].calls:
        chain.append(max((callee for callee, _ in scopes[chain[-1]].calls), key=depths.get))
    return " -> ".join(chain if len(chain) <= 5 else chain[:3] + ["..."] + chain[-1:])


def _biggest_call(top: Scope, sizes: dict, file: str) -> Span:
    def cost(op):
        if op.kind == "call":
            return sizes.get(op.gate, 1)
        return op.value * sizes.get(op.gate, 1) if op.kind == "repeat" else 1
    return max(top.ops, key=cost).span if top.ops else Span(file, 1, 1)


# ---------------------------------------------------------------- expansion
@dataclass
class _Frame:
    """A call being expanded: its scope, its operands and the ids of its nodes."""

    scope: Scope
    args: tuple  # refs of the values of the scope's parameters
    result_id: str  # the id of the call's result
    prefix: str  # the start of the ids of its other nodes
    calls: tuple  # (gate, call id, call span) of the enclosing calls, outermost first
    refs: list = field(default_factory=list)  # op index -> ref of its node
    value: int | None = None  # a repeat in progress: the ref it has reached,
    done: int = 0  # and how many calls have run

    def id(self, suffix: str) -> str:
        return self.prefix + suffix if suffix else self.result_id

    def ref(self, a: int) -> int:
        return self.refs[a] if a >= 0 else self.args[-1 - a]

    def call(self, scope: Scope, gate: str, suffix: str, span: Span, args: tuple) -> "_Frame":
        """The frame of a call made at ``suffix``; a call that is this frame's own result
        shares its id, and its other nodes go under "/return"."""
        result_id = self.id(suffix)
        return _Frame(scope, args, result_id, self.prefix + (suffix or "/return"),
                      self.calls + ((gate, result_id, span),))


def expand(scopes: dict, top: Scope, leaves: int) -> list:
    """The ops of the whole graph, every compound call inlined, outermost first. Refs < 0
    are the leaves; the ops' suffixes are their node ids."""
    if not any(op.kind in ("call", "repeat") for op in top.ops):
        return top.ops  # nothing to inline: the top level's ops are final as they are
    out: list = []
    stack = [_Frame(top, tuple(-1 - i for i in range(leaves)), "", "", ())]
    while stack:
        frame = stack[-1]
        if len(frame.refs) == len(frame.scope.ops):
            stack.pop()
            if stack:
                _returned(stack[-1], frame, out)
            continue
        op = frame.scope.ops[len(frame.refs)]
        args = tuple(frame.ref(a) for a in op.args)
        if op.kind == "call":
            stack.append(frame.call(scopes[op.gate], op.gate, op.suffix, op.span, args))
        elif op.kind == "repeat":
            _iterate(scopes, stack, frame, op, out)
        else:
            frame.refs.append(len(out))
            out.append(Op(frame.id(op.suffix), op.kind, op.gate, args, op.span, op.options,
                          op.value, op.symbol, frame.calls))
    return out


def _returned(frame: _Frame, callee: _Frame, out: list) -> None:
    """Hand a finished call's result to the op of ``frame`` that made the call."""
    op = frame.scope.ops[len(frame.refs)]
    result = callee.ref(callee.scope.root)
    if op.kind == "repeat":
        frame.value, frame.done = result, frame.done + 1
    else:
        frame.refs.append(_alias(result, callee.result_id, op.span, op.named, frame.calls, out))


def _iterate(scopes: dict, stack: list, frame: _Frame, op: Op, out: list) -> None:
    """Make the next call of ``repeat(g, n, x)``, or end it once all n have run."""
    if frame.value is None:
        frame.value, frame.done = frame.ref(op.args[0]), 0
    if frame.done == op.value:
        value, frame.value = frame.value, None
        frame.refs.append(_alias(value, frame.id(op.suffix), op.span, op.named, frame.calls, out))
        return
    # The last call is the repeat's result; the others are numbered (under "/return"
    # for a gate's result, whose own id "" is its caller's).
    last = frame.done + 1 == op.value
    suffix = op.suffix if last else f"{op.suffix or '/return'}@{frame.done + 1}"
    if op.gate in scopes:
        stack.append(frame.call(scopes[op.gate], op.gate, suffix, op.span, (frame.value,)))
        return
    gate = GATES[op.gate]
    out.append(Op(frame.id(suffix), "gate", op.gate, (frame.value,), op.span,
                  {k: o.default for k, o in gate.options.items()} or None, symbol=gate.symbol,
                  scope=frame.calls))
    frame.value, frame.done = len(out) - 1, frame.done + 1


def _alias(ref: int, node_id: str, span: Span, named: bool, calls: tuple, out: list) -> int:
    """The result of a call; a named call (``v = g(x)``) whose result is not already a node
    with its id (``g`` returns an operand, or a constant of a call inside it) gets an
    identity node with that id."""
    if not named or (ref >= 0 and out[ref].suffix == node_id):
        return ref
    out.append(Op(node_id, "gate", ALIAS, (ref,), span, symbol="=", scope=calls))
    return len(out) - 1

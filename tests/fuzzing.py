"""What the fuzz tests share: their budget, and random valid .graph programs with
compound gates together with an evaluator of their own.

The budget is a few hundred examples per property, derandomized so that a test
run is repeatable; GRAPHDSL_FUZZ_EXAMPLES=5000 (say) runs that many random ones.

A program is drawn as a small expression structure, written out as text (with its
statements shuffled: the language is declarative) and evaluated here directly,
without graphdsl's parser, builder or executor; so a program that loads but
computes something else (two nodes under one id, a call wired to the wrong
operand) shows up as a wrong number.

Gate bodies reuse the same local names (``e``, ``t``) and put calls and repeats
at their ``return``, the places where expanding calls is hardest. Only smooth,
bounded gates are used, so finite differences are meaningful everywhere.
"""
from __future__ import annotations

import math
import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

BUDGET = int(os.environ.get("GRAPHDSL_FUZZ_EXAMPLES", "0")) or None


def budget(default: int) -> settings:
    """Hypothesis settings: ``default`` examples, or GRAPHDSL_FUZZ_EXAMPLES random ones."""
    return settings(max_examples=BUDGET or default, deadline=None, derandomize=BUDGET is None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

UNARY = {  # name in the file -> what it computes
    "sin": np.sin, "tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
    "square": lambda v: v * v, "neg": lambda v: -v, "cos": np.cos,
}
BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply}
LOCALS = ("e", "t", "u")  # every gate picks from these, so names repeat across gates


def write(expr) -> str:
    kind = expr[0]
    if kind == "num":
        return repr(expr[1])
    if kind == "var":
        return expr[1]
    if kind == "un":
        return f"-({write(expr[2])})" if expr[1] == "neg" else f"{expr[1]}({write(expr[2])})"
    if kind == "bin":
        return f"({write(expr[2])} {expr[1]} {write(expr[3])})"
    if kind == "call":
        return f"{expr[1]}({', '.join(write(a) for a in expr[2])})"
    return f"repeat({expr[1]}, {expr[2]}, {write(expr[3])})"  # "rep"


def evaluate(expr, env: dict, gates: dict):
    kind = expr[0]
    if kind == "num":
        return expr[1]
    if kind == "var":
        return env[expr[1]]
    if kind == "un":
        return UNARY[expr[1]](evaluate(expr[2], env, gates))
    if kind == "bin":
        return BINARY[expr[1]](evaluate(expr[2], env, gates), evaluate(expr[3], env, gates))
    if kind == "call":
        return call(expr[1], [evaluate(a, env, gates) for a in expr[2]], gates)
    value = evaluate(expr[3], env, gates)
    for _ in range(expr[2]):
        value = call(expr[1], [value], gates)
    return value


def call(name: str, args: list, gates: dict):
    if name in UNARY:
        return UNARY[name](args[0])
    params, body, result = gates[name]
    env = dict(zip(params, args))
    for local, expr in body:
        env[local] = evaluate(expr, env, gates)
    return evaluate(result, env, gates)


@st.composite
def expressions(draw, names, callables, depth=0):
    """An expression over ``names``; ``callables`` maps a gate name to its arity."""
    choice = draw(st.integers(0, 9 if depth < 3 else 1))
    if choice == 0:
        return ("num", draw(st.sampled_from([0.5, 2.0, -1.5, 3.0])))
    if choice == 1:
        return ("var", draw(st.sampled_from(names)))
    sub = lambda: draw(expressions(names, callables, depth + 1))  # noqa: E731
    if choice <= 3:
        return ("un", draw(st.sampled_from(sorted(UNARY))), sub())
    if choice <= 5:
        return ("bin", draw(st.sampled_from(sorted(BINARY))), sub(), sub())
    return draw(calls(names, callables, depth, repeat=choice >= 8))


@st.composite
def calls(draw, names, callables, depth=0, repeat=None):
    """A call of one of ``callables``, or a ``repeat`` of a one-argument one."""
    sub = lambda: draw(expressions(names, callables, depth + 1))  # noqa: E731
    gate = draw(st.sampled_from(sorted(callables)))
    arity = callables[gate]
    if arity == 1 and (draw(st.booleans()) if repeat is None else repeat):
        return ("rep", gate, draw(st.integers(0, 3)), sub())
    return ("call", gate, [sub() for _ in range(arity)])


@st.composite
def programs(draw):
    """``(text, inputs, expected)``: a program, values for its inputs, and its outputs
    as computed by :func:`evaluate`."""
    gates: dict = {}
    callables = {name: 1 for name in ("sin", "tanh", "sigmoid")}
    lines = []
    for k in range(draw(st.integers(0, 4))):
        params = ["a", "b"][:draw(st.integers(1, 2))]
        names, body = list(params), []
        for local in draw(st.lists(st.sampled_from(LOCALS), unique=True, max_size=2)):
            body.append((local, draw(expressions(names, callables))))
            names.append(local)
        # A gate whose result is a call or a repeat (the hardest case to expand) half the time.
        if draw(st.booleans()):
            result = draw(calls(names, callables, depth=2))
        else:
            result = draw(expressions(names, callables))
        name = f"g{k}"
        gates[name] = (params, body, result)
        callables[name] = len(params)
        statements = [f"{local} = {write(expr)}" for local, expr in body]
        statements = draw(st.permutations(statements)) + [f"return {write(result)}"]
        lines.append(f"gate {name}({', '.join(params)}) {{ " + "; ".join(statements) + " }")
    shape = draw(st.sampled_from([(), (3,)]))
    inputs = {name: _values(draw, shape) for name in ("x", "y")}
    names, assigns = ["x", "y"], []
    for k in range(draw(st.integers(1, 4))):
        assigns.append((f"v{k}", draw(expressions(names, callables))))
        names.append(f"v{k}")
    # Without the outer parentheses, "v0 = x * y" and "v1 = sin(x)" lines take quickparse's lane.
    statements = [f"{name} = {write(expr)[1:-1] if expr[0] == 'bin' else write(expr)}"
                  for name, expr in assigns]
    statements.append("input x, y")
    outputs = [name for name, _ in assigns][-draw(st.integers(1, len(assigns))):]
    statements.append(f"output {', '.join(outputs)}")
    lines += draw(st.permutations(statements))
    env = dict(inputs)
    for name, expr in assigns:
        env[name] = evaluate(expr, env, gates)
    expected = {name: env[name] for name in outputs}
    return "\n".join(lines), inputs, expected


def _values(draw, shape):
    numbers = st.floats(-1.5, 1.5, allow_nan=False).filter(lambda v: abs(v) > 1e-3)
    if not shape:
        return draw(numbers)
    return np.array([draw(numbers) for _ in range(math.prod(shape))]).reshape(shape)

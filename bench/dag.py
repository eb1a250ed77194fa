"""The random scalar DAG of W6 and of the load-scaling rows, as .graph text and as the
hand-written floor (straight-line Python generated from the same description)."""
from __future__ import annotations

import math
import random

UNARY = ("tanh", "sin")
BINARY = ("+", "-", "*")


def describe(gates: int, inputs: int = 10, seed: int = 0) -> list:
    """Gate i reads gate i-1 (so every gate reaches the output) and one random earlier node."""
    rng = random.Random(seed)
    nodes = [f"x{i}" for i in range(inputs)]
    ops = []
    for i in range(gates):
        prev = nodes[-1]
        other = nodes[rng.randrange(len(nodes))]
        op = rng.choice(UNARY) if rng.random() < 0.4 else rng.choice(BINARY)
        ops.append((f"n{i}", op, prev, other))
        nodes.append(f"n{i}")
    return ops


def graph_text(ops: list, inputs: int = 10) -> str:
    lines = ["input " + ", ".join(f"x{i}" for i in range(inputs))]
    for name, op, a, b in ops:
        lines.append(f"{name} = {op}({a})" if op in UNARY else f"{name} = {a} {op} {b}")
    lines.append(f"output f = {ops[-1][0]}")
    return "\n".join(lines) + "\n"


def floor_source(ops: list, inputs: int = 10) -> str:
    """Forward and reverse mode of the DAG as one straight-line function of floats."""
    args = ", ".join(f"x{i}" for i in range(inputs))
    fwd, bwd = [], []
    for name, op, a, b in ops:
        fwd.append(f"    {name} = {'math.' + op + '(' + a + ')' if op in UNARY else a + ' ' + op + ' ' + b}")
    grads = {ops[-1][0]}
    bwd.append(f"    g_{ops[-1][0]} = 1.0")

    def add(target, term):
        if target in grads:
            bwd.append(f"    g_{target} = g_{target} + {term}")
        else:
            grads.add(target)
            bwd.append(f"    g_{target} = {term}")

    for name, op, a, b in reversed(ops):
        if name not in grads:
            continue
        g = f"g_{name}"
        if op == "tanh":
            add(a, f"{g} * (1.0 - {name} * {name})")
        elif op == "sin":
            add(a, f"{g} * math.cos({a})")
        elif op == "+":
            add(a, g), add(b, g)
        elif op == "-":
            add(a, g), add(b, f"-{g}")
        else:
            add(a, f"{g} * {b}"), add(b, f"{g} * {a}")
    result = ", ".join(f"'x{i}': g_x{i}" if f"x{i}" in grads else f"'x{i}': 0.0" for i in range(inputs))
    return (f"def floor({args}):\n" + "\n".join(fwd + bwd) +
            f"\n    return {ops[-1][0]}, {{{result}}}\n")


def floor_function(ops: list, inputs: int = 10):
    namespace = {"math": math}
    exec(compile(floor_source(ops, inputs), "<floor>", "exec"), namespace)
    return namespace["floor"]

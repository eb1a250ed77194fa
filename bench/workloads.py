"""The workloads of issue 5: graph text, bindings, and the hand-written floor.

Every workload is a ``Workload``: ``text`` (a .graph file), ``inputs`` (name -> value,
in the order gradients are reported), ``output`` and ``floor(**inputs) -> (value,
grads)``: plain Python floats and ``math`` for scalar graphs, called and answering
like ``Program.run`` (keyword arguments in, gradients by name out); numpy for arrays.
``kind`` tells the peers which of their builders apply; ``ops`` is the expression
tree the peers rebuild in their own API (see peers.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

import dag


@dataclass
class Workload:
    name: str
    text: str
    inputs: dict
    output: str
    floor: object
    kind: str  # "scalar" or "array"
    build: object = None  # peers: build(lib) -> the output from leaves (see peers.py)
    rtol: float = 1e-9
    goal: str = ""
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------- W1, W2
def _w1_floor(x, y, z):
    q = x + y
    return q * z, {"x": z, "y": z, "z": q}


def _w2_floor(x0, x1, w0, w1, b):
    z = w0 * x0 + w1 * x1 + b
    s = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    ds = s * (1.0 - s)
    return s, {"x0": w0 * ds, "x1": w1 * ds, "w0": x0 * ds, "w1": x1 * ds, "b": ds}


NEURON = "input x0, x1, w0, w1, b\noutput n = sigmoid(w0*x0 + w1*x1 + b)\n"


def w1():
    return Workload("W1 (x+y)*z", "input x, y, z\nq = x + y\noutput f = q * z\n",
                    {"x": -2.0, "y": 5.0, "z": -4.0}, "f", _w1_floor, "scalar",
                    lambda L, x, y, z: L.mul(L.add(x, y), z), goal="≤ 10×")


def w2():
    return Workload("W2 sigmoid neuron", NEURON,
                    {"x0": -1.0, "x1": -2.0, "w0": 2.0, "w1": -3.0, "b": -3.0}, "n", _w2_floor,
                    "scalar", lambda L, x0, x1, w0, w1, b: L.sigmoid(
                        L.add(L.add(L.mul(w0, x0), L.mul(w1, x1)), b)), goal="≤ 10×")


# ---------------------------------------------------------------- W3
LOGISTIC = "gate logistic(l) {{ return 4 * l * (1 - l) }}\ninput x\noutput l = repeat(logistic, {n}, x)\n"


def _logistic_unrolled(n):
    """Straight-line floor for a shallow map (the gradient in the graph's own order)."""
    lines = ["def floor(x):", "    l0 = x"]
    for k in range(n):
        lines.append(f"    l{k + 1} = 4.0 * l{k} * (1.0 - l{k})")
    lines.append("    g = 1.0")
    for k in reversed(range(n)):
        lines.append(f"    g = -(g * (4.0 * l{k})) + (g * (1.0 - l{k})) * 4.0")
    lines.append(f"    return l{n}, {{'x': g}}")
    namespace = {}
    exec("\n".join(lines), namespace)
    return namespace["floor"]


def _logistic_loop(n):
    def floor(x):
        trajectory = [x]
        l = x
        for _ in range(n):
            l = 4.0 * l * (1.0 - l)
            trajectory.append(l)
        g = 1.0
        for l in reversed(trajectory[:-1]):
            g = -(g * (4.0 * l)) + (g * (1.0 - l)) * 4.0
        return trajectory[-1], {"x": g}
    return floor


def w3(n):
    floor = _logistic_unrolled(n) if n <= 10 else _logistic_loop(n)

    def build(L, x):
        for _ in range(n):
            x = L.mul(L.mul(L.const(4.0), x), L.sub(L.const(1.0), x))
        return x
    return Workload(f"W3 logistic map, depth {n:,}", LOGISTIC.format(n=n), {"x": 0.3}, "l", floor,
                    "scalar", build, rtol=1e-9 if n <= 100 else 0.0, goal="≤ 3×")


# ---------------------------------------------------------------- W4, W5
def _w4_floor(W, x):
    y = W @ x
    s = float(np.sum(y ** 2))
    gy = 2.0 * y
    return s, (np.outer(gy, x), W.T @ gy)


def w4(n):
    rng = np.random.default_rng(n)
    return Workload(f"W4 sum((W@x)**2), n = {n:,}", "input W, x\noutput s = sum((W @ x) ** 2)\n",
                    {"W": rng.normal(size=(n, n)) / n, "x": rng.normal(size=n)}, "s", _w4_floor, "array",
                    lambda L, W, x: L.sum(L.pow2(L.matmul(W, x))), rtol=1e-12,
                    goal="≤ 1.3×" if n < 100 else "≤ 1.2×")


def _w5_floor(x0, x1, w0, w1, b):
    z = w0 * x0 + w1 * x1 + b
    e = np.exp(-np.abs(z))
    s = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    ds = s * (1.0 - s)
    return s, (w0 * ds, w1 * ds, float(np.sum(ds * x0)), float(np.sum(ds * x1)), float(np.sum(ds)))


def w5(samples=1_000_000):
    rng = np.random.default_rng(5)
    inputs = {"x0": rng.normal(size=samples), "x1": rng.normal(size=samples), "w0": 2.0, "w1": -3.0,
              "b": -3.0}
    name = "W5 sigmoid neuron, " + ("10⁶" if samples == 1_000_000 else f"{samples:,}") + " samples"
    return Workload(name, NEURON, inputs, "n", _w5_floor, "array",
                    w2().build, rtol=1e-9, goal="≤ 1.0×")


# ---------------------------------------------------------------- W6
def w6(gates=10_000):
    ops = dag.describe(gates)
    start = __import__("time").perf_counter()
    floor = dag.floor_function(ops)
    codegen = __import__("time").perf_counter() - start

    def build(L, *xs):
        values = dict(zip((f"x{i}" for i in range(len(xs))), xs))
        for name, op, a, b in ops:
            if op in ("tanh", "sin"):
                values[name] = getattr(L, op)(values[a])
            else:
                values[name] = {"+": L.add, "-": L.sub, "*": L.mul}[op](values[a], values[b])
        return values[ops[-1][0]]
    inputs = {f"x{i}": 0.1 * (i + 1) for i in range(10)}
    return Workload(f"W6 random DAG, {gates:,} gates", dag.graph_text(ops), inputs, "f", floor, "scalar",
                    build, rtol=1e-9, goal="≤ 3×", extra={"floor_codegen": codegen, "ops": ops})


def all_workloads(quick=False):
    items = [w1(), w2(), w3(3), w3(1000)] + ([] if quick else [w3(10_000)])
    items += [w4(16), w4(2048), w5(), w6()]
    return items

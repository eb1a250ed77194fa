"""Random graphs of scalar gates over inputs x, y, z, and the values to bind them to:
the differential tests' programs (tests/compiled, tests/run)."""
from __future__ import annotations

from hypothesis import strategies as st

BINARY = ["+", "-", "*", "/"]
UNARY = ["exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "sigmoid", "relu", "abs", "square",
         "reciprocal", "neg"]


@st.composite
def graphs(draw, ops=BINARY + UNARY + ["max", "min", "**"]):
    names = ["x", "y", "z"]
    lines = ["input x, y, z"]
    for i in range(draw(st.integers(1, 25))):
        op = draw(st.sampled_from(ops))
        a = draw(st.sampled_from(names + ["2", "0.5"]))
        b = draw(st.sampled_from(names))
        if op in BINARY or op == "**":
            expr = f"{a} {op} {b}"
        elif op in ("max", "min"):
            expr = f"{op}({a}, {b})"
        else:
            expr = f"{op}({b})"
        lines.append(f"n{i} = {expr}")
        names.append(f"n{i}")
    outputs = draw(st.lists(st.sampled_from(names[3:]), min_size=1, max_size=3, unique=True))
    return "\n".join(lines + [f"output {', '.join(outputs)}"])


values = st.floats(-4, 4, allow_nan=False) | st.sampled_from([0.0, -0.0, 1e300, float("nan")])

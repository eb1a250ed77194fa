"""How far the fused loop's transcendental functions (LLVM vectorised with glibc's
libmvec, or scalar libm with GRAPHDSL_JIT_VECLIB=0) are from numpy's, in ulps of numpy's
result, on 10^6 random values per function: the outputs of one-gate graphs run with the
JIT forced on against the same graphs with it off.

    python bench/veclib_ulps.py [--n 1000000]
    GRAPHDSL_JIT_VECLIB=0 python bench/veclib_ulps.py
"""
from __future__ import annotations

import argparse
import os

import numpy as np

CASES = {  # gate: values drawn where the function is finite and not flat
    "exp": lambda rng, n: rng.uniform(-700.0, 700.0, n),
    "log": lambda rng, n: np.exp(rng.uniform(-50.0, 50.0, n)),
    "tanh": lambda rng, n: rng.uniform(-20.0, 20.0, n),
    "sigmoid": lambda rng, n: rng.uniform(-40.0, 40.0, n),
    "sin": lambda rng, n: rng.uniform(-100.0, 100.0, n),
    "cos": lambda rng, n: rng.uniform(-100.0, 100.0, n),
    "sqrt": lambda rng, n: np.exp(rng.uniform(-50.0, 50.0, n)),
}


def ulps(got, want):
    """|got - want| in units of the last place of want (spacing of |want|)."""
    return np.abs(got - want) / np.spacing(np.abs(want))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    import graphdsl
    from graphdsl.compiled import fused

    rng = np.random.default_rng(16)
    print(f"n = {args.n:,} per function; GRAPHDSL_JIT_VECLIB={os.environ.get('GRAPHDSL_JIT_VECLIB', '(unset)')}")
    print("| function | vector library | exact | 1 ulp | 2 ulp | > 2 ulp | max ulp |")
    print("|---|---|---|---|---|---|---|")
    for gate, draw in CASES.items():
        x = draw(rng, args.n)
        text = f"input x\noutput f = {gate}(x)\n"
        os.environ["GRAPHDSL_JIT"] = "always"
        jit = graphdsl.loads(text).run(x=x).outputs["f"]
        os.environ["GRAPHDSL_JIT"] = "0"
        plain = graphdsl.loads(text).run(x=x).outputs["f"]
        d = ulps(jit, plain)
        counts = [np.mean(d == 0), np.mean((d > 0) & (d <= 1)), np.mean((d > 1) & (d <= 2)), np.mean(d > 2)]
        print(f"| {gate} | {fused._VECTOR_LIBRARY[0] or 'none (libm)'} | " +
              " | ".join(f"{100 * c:.2f}%" for c in counts) + f" | {d.max():.2f} |")


if __name__ == "__main__":
    main()

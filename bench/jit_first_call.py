"""The first call of W5 (10^6 samples) with the fused numba loop, each in a fresh process:
with a cold disk cache (numba compiles), and with a warm one (numba loads the machine code
it saved), numba's own start-up (import, and its compiler's first use) timed apart.

    python bench/jit_first_call.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numba
t1 = time.perf_counter()
numba.njit("float64(float64)")(lambda x: x + 1.0)(1.0)  # numba's target context, made once a process
t2 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import workloads, graphdsl
w = workloads.w5()
t3 = time.perf_counter()
prog = graphdsl.loads(w.text)
t4 = time.perf_counter()
prog.run(**w.inputs)
t5 = time.perf_counter()
prog.run(**w.inputs)
t6 = time.perf_counter()
k, = prog._runner.entry("n").kernel.arrays.values()
print(json.dumps({"import numba": t1 - t0, "numba start-up": t2 - t1, "loads": t4 - t3, "first run": t5 - t4,
                  "second run": t6 - t5, "kind": type(k).__name__,
                  "cache hits": len(k.function.stats.cache_hits)}))
"""


def child(cache: str) -> dict:
    env = dict(os.environ, GRAPHDSL_CACHE=cache)
    env.pop("GRAPHDSL_JIT", None)
    out = subprocess.run([sys.executable, "-c", CHILD, os.path.dirname(os.path.abspath(__file__))], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cold, warm = [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(child(cache))
            warm.append(child(cache))
    assert all(r["kind"] == "Fused" for r in cold + warm)
    assert all(r["cache hits"] == 0 for r in cold) and all(r["cache hits"] == 1 for r in warm)
    print("| W5 first call, fresh process | import numba | numba start-up | loads | first run | second run |")
    print("|---|---|---|---|---|---|")
    for label, runs in (("cold disk cache (compiles)", cold), ("warm disk cache", warm)):
        cells = [f"{statistics.median(r[key] for r in runs) * 1e3:.0f} ms"
                 for key in ("import numba", "numba start-up", "loads", "first run", "second run")]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"\n(median of {args.rounds}; numba start-up: its compiler's first use in a process, "
          "paid once whatever is compiled or loaded)")


if __name__ == "__main__":
    main()

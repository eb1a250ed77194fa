"""CPU time of each phase of W6's load and first two runs, median of 5.

    python bench/load_phases.py [gates]

The phases run as ``loads`` and the runs run them, one after the other: a graph of more
than kernel.TIER_STEPS steps interprets its float code on its first run
(compiled/threaded.py) and writes and compiles it on its second. The last lines time
``loads`` + first ``run``, and ``loads`` + first + second ``run``, whole, against the
floor's codegen timed the same way.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dag  # noqa: E402

import graphdsl  # noqa: E402
from graphdsl import program  # noqa: E402
from graphdsl.compiled import source as codegen  # noqa: E402
from graphdsl.compiled.floatcode import run_listing  # noqa: E402
from graphdsl.compiled.threaded import Threaded  # noqa: E402
from graphdsl.graph import build  # noqa: E402
from graphdsl.graph.model import paused_gc  # noqa: E402
from graphdsl.lang import parse  # noqa: E402

clock = time.process_time  # CPU time: another process's burst does not count


def phases(text: str, leaves: list) -> dict:
    t = {}
    with paused_gc():
        start = clock()
        module = parse.parse(text)
        t["loads: parse (quickparse, Lark for the rest)"] = clock() - start
        start = clock()
        model = build.build_model(module)
        t["loads: build (checks, expansion, schedule)"] = clock() - start
        del module
        start = clock()
        prog = program.Program(model)
        t["loads: Program (drawn params)"] = clock() - start
        start = clock()
        kernel = prog._runner.entry(None).kernel
        t["run 1: Kernel (entry code)"] = clock() - start
        start = clock()
        interpreter = Threaded(kernel.schedule, kernel.of)
        t["run 1: the interpreter's walk (threaded.py)"] = clock() - start
        start = clock()
        interpreter(*leaves)
        t["run 1: interpreted"] = clock() - start
        start = clock()
        listing = run_listing(kernel.schedule, kernel.of)
        t["run 2: write the float statements"] = clock() - start
        start = clock()
        source = codegen.source(listing.statements, listing.params, "floats")
        t["run 2: join the source"] = clock() - start
        start = clock()
        compile(source, "<floats>", "exec")
        t[f"run 2: Python compile ({len(listing.statements):,} statements)"] = clock() - start
    return t


def main():
    gates = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    ops = dag.describe(gates)
    text = dag.graph_text(ops)
    inputs = {f"x{i}": 0.1 * (i + 1) for i in range(10)}
    graphdsl.loads("input x\noutput f = x * 2").run(x=1.0)  # the parser is built once
    runs = [phases(text, list(inputs.values())) for _ in range(5)]
    for key in runs[0]:
        print(f"{key:52s} {statistics.median(r[key] for r in runs) * 1e3:7.1f} ms")
    first, both, floor = [], [], []
    for _ in range(5):
        start = clock()
        prog = graphdsl.loads(text)
        prog.run(**inputs)
        first.append(clock() - start)
        prog.run(**inputs)
        both.append(clock() - start)
        del prog
        start = clock()
        dag.floor_function(ops)
        floor.append(clock() - start)
    o, b, f = statistics.median(first), statistics.median(both), statistics.median(floor)
    print(f"loads + first run {o * 1e3:.0f} ms; the floor's codegen {f * 1e3:.0f} ms; {o / f:.2f}×")
    print(f"loads + first + second run {b * 1e3:.0f} ms; {b / f:.2f}× the floor's codegen")


if __name__ == "__main__":
    main()

"""The derivative program against run: how fast is the backward pass written as gates?

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/grad.py

For each workload, ``Program.grad`` writes the output and its gradients as one program;
its ``forward`` (compiled like any program's, with run's float templates) gives the numbers
``run`` gives (checked first), and the table shows the medians per call and their ratio to
``run``'s; also its ``run`` (which differentiates its first output again). W4's text declares
the ranks of W and x (``input W: [n, n], x: [n]``): matmul's rules branch on them, so a
derivative program is written for one rank. Also timed: building the derivative program
of a chain of n sin gates (load + write + load of the text), and of a chain that reads
n inputs (n + 1 outputs). See BENCHMARKS.md.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads as W  # noqa: E402
from run import fmt_time, measure  # noqa: E402

import graphdsl  # noqa: E402


def cases():
    w4 = [W.w4(16), W.w4(2048)]
    for w in w4:
        w.text = "input W: [n, n], x: [n]\noutput s = sum((W @ x) ** 2)\n"
    return [W.w1(), W.w2()] + w4 + [W.w6()]


def row(work) -> tuple:
    prog = graphdsl.loads(work.text)
    derived = prog.grad(of=work.output)
    inputs = work.inputs
    want, got = prog.run(inputs, of=work.output), derived.forward(inputs)
    assert np.allclose(got[work.output], want.outputs[work.output], rtol=1e-13, atol=0)
    for name in prog.inputs + prog.params:
        assert np.allclose(got[f"d{work.output}_d{name}"], want.grads[name], rtol=1e-13, atol=0), name
    times = measure({"run": lambda: prog.run(inputs, of=work.output), "forward": lambda: derived.forward(inputs),
                     "grad run": lambda: derived.run(inputs), "model forward": lambda: prog.forward(inputs)})
    return work.name, times["run"], times["forward"], times["grad run"], times["model forward"]


def chain(n: int) -> float:
    text = "input x = 0.5\na0 = sin(x)\n" + "".join(f"a{i} = sin(a{i - 1})\n" for i in range(1, n))
    prog = graphdsl.loads(text + f"output f = a{n - 1}\n", max_nodes=10 * n)
    start = time.perf_counter()
    prog.grad()
    return time.perf_counter() - start


def wide(n: int) -> float:
    """A chain of n gates that reads n inputs: its derivative program has n + 1 outputs."""
    text = "input " + ", ".join(f"x{i}" for i in range(n)) + "\na0 = sin(x0)\n"
    prog = graphdsl.loads(text + "".join(f"a{i} = a{i - 1} * x{i}\n" for i in range(1, n)) + f"output f = a{n - 1}\n")
    start = time.perf_counter()
    prog.grad()
    return time.perf_counter() - start


def main() -> None:
    print("| workload | run | grad program: forward | ratio | grad program: run | ratio | the model's forward |")
    print("|---|---|---|---|---|---|---|")
    for work in cases():
        name, run, forward, again, alone = row(work)
        print(f"| {name} | {fmt_time(run)} | {fmt_time(forward)} | {forward / run:.2f}× | {fmt_time(again)} | "
              f"{again / run:.2f}× | {fmt_time(alone)} |", flush=True)
    print()
    print("| chain of sin gates | Program.grad builds in |")
    print("|---|---|")
    for n in (1_000, 10_000, 100_000):
        print(f"| {n:,} | {chain(n):.2f} s |", flush=True)
    print()
    print("| n inputs, n gates | Program.grad builds in |")
    print("|---|---|")
    for n in (1_000, 2_000, 4_000):
        print(f"| {n:,} | {wide(n):.2f} s |", flush=True)


if __name__ == "__main__":
    main()

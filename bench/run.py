"""graphdsl against the hand-written floor and its peers, measured in one process.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/run.py [--quick] [--big] [--load]

Every contender's numbers are checked against the floor before it is timed; timing
is interleaved (round r runs every contender once, as many calls as fill ~5 ms) and
the table shows the median per call and its ratio to the floor's median. A peer whose
build raises (RecursionError...) or does not finish within 60 s "fails"; a peer
without an operation a workload needs shows "–". See BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import gc
import os
import signal
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dag  # noqa: E402
import peers  # noqa: E402
import workloads as W  # noqa: E402

import graphdsl  # noqa: E402
from graphdsl.compiled import source as codegen  # noqa: E402 -- CHUNK

LIMIT = 60  # seconds a peer may take to build and run once
ROUNDS = 21  # short samples, many interleaved rounds: a neighbour's burst hits one sample
SAMPLE = 0.005  # seconds of calls per sample
WORKLOADS = {"w1": W.w1, "w2": W.w2, "w3:3": lambda: W.w3(3), "w3:1000": lambda: W.w3(1000),
             "w3:10000": lambda: W.w3(10_000), "w4:16": lambda: W.w4(16), "w4:2048": lambda: W.w4(2048),
             "w5": W.w5, "w5:4m": lambda: W.w5(4_000_000), "w6": W.w6}


class TimeLimit(Exception):
    pass


def _alarm(signum, frame):
    raise TimeLimit()


def build(name, key, workload):
    """The contender's call, or a reason ("fails", "–") it has none."""
    make = {"floor": peers.make_floor, "graphdsl": peers.make_graphdsl, **peers.OURS}.get(name) or peers.PEERS[name]
    if name in peers.RISKY:
        try:
            probe = subprocess.run([sys.executable, __file__, "--probe", name, key], timeout=LIMIT,
                                   capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            return "fails"
        if probe.returncode:
            return "–" if "NotApplicable" in probe.stdout else "fails"
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(LIMIT)
    try:
        call = make(workload)
        if call is None:
            return "–"
        call()
        return call
    except (TimeLimit, RecursionError, Exception):  # noqa: BLE001 -- a peer that fails is a result
        return "fails"
    finally:
        signal.alarm(0)


def agree(got, want, rtol) -> bool:
    (value, grads), (want_value, want_grads) = got, want
    grads, want_grads = [list(g.values()) if isinstance(g, dict) else g for g in (grads, want_grads)]
    pairs = [(value, want_value)] + list(zip(grads, want_grads))
    for a, b in pairs:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if a.shape != b.shape:  # a peer that reports the sum of an array output
            a, b = np.sum(a), np.sum(b)
        if rtol == 0.0 and not np.array_equal(a, b, equal_nan=True):
            return False
        if rtol and not np.allclose(a, b, rtol=rtol, atol=1e-12, equal_nan=True):
            return False
    return True


def per_call(call, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        call()
    return (time.perf_counter() - start) / number


def measure(calls: dict, rounds=ROUNDS, summary=statistics.median) -> dict:
    numbers = {}
    for name, call in calls.items():
        once = per_call(call, 1)
        numbers[name] = max(1, min(100_000, int(SAMPLE / max(once, 1e-9))))
    samples = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            samples[name].append(per_call(call, numbers[name]))
    return {name: summary(s) for name, s in samples.items()}


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def table(keys, names):
    header = ["workload", "floor"] + names + ["goal"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for key in keys:
        workload = WORKLOADS[key]()
        calls, cells = {}, {}
        want = workload.floor(**workload.inputs)
        for name in ["floor"] + names:
            call = build(name, key, workload)
            if isinstance(call, str):
                cells[name] = call
                continue
            rtol = workload.rtol if name in ("floor", "graphdsl", *peers.OURS) else max(workload.rtol, 1e-9)
            calls[name] = call
            cells[name] = "" if agree(call(), want, rtol) else " ✗ numbers differ"
        times = measure(calls)
        floor = times["floor"]
        row = [workload.name, fmt_time(floor)]
        for name in names:
            if name in times:
                row.append(f"{times[name] / floor:.3g}×{cells[name]}")
            else:
                row.append(cells[name])
        print("| " + " | ".join(row + [workload.goal]) + " |", flush=True)
        del calls
        gc.collect()


# ---------------------------------------------------------------- load, batch, memory
def load_and_compile():
    workload = W.w6()
    ours, floor = [], []
    for _ in range(3):
        start = time.perf_counter()
        prog = graphdsl.loads(workload.text)
        prog.run(**workload.inputs)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        dag.floor_function(workload.extra["ops"])
        floor.append(time.perf_counter() - start)
    o, f = statistics.median(ours), statistics.median(floor)
    print(f"| W6 load + compile (loads + first run) | {fmt_time(f)} (floor codegen) | {fmt_time(o)} | "
          f"{o / f:.2f}× | ≤ 3× |")


def scaling(sizes, rounds=3):
    """Load time per size: the median of interleaved rounds (one load of each size a round;
    a single sample moved by ±30% on this shared machine), then the peak memory once."""
    print("\n| gates | load time | per gate | × previous | bytes per node (loads, peak) |")
    print("|---|---|---|---|---|")
    texts = {gates: dag.graph_text(dag.describe(gates)) for gates in sizes}
    samples = {gates: [] for gates in sizes}
    nodes = {}
    for _ in range(rounds):
        for gates in sizes:
            start = time.perf_counter()
            prog = graphdsl.loads(texts[gates])
            samples[gates].append(time.perf_counter() - start)
            nodes[gates] = len(prog.forward_order)
            del prog
            gc.collect()
    previous = None
    for gates in sizes:
        seconds = statistics.median(samples[gates])
        peak = "–"
        if gates <= 100_000:
            tracemalloc.start()
            prog = graphdsl.loads(texts[gates])  # noqa: F841 -- held while the peak is read
            peak = f"{tracemalloc.get_traced_memory()[1] / nodes[gates]:,.0f}"
            tracemalloc.stop()
            del prog
        growth = f"{seconds / previous:.1f}×" if previous else ""
        print(f"| {gates:,} | {fmt_time(seconds)} | {fmt_time(seconds / gates)} | {growth} | {peak} |",
              flush=True)
        previous = seconds


def batch(rows=1_000_000):
    rng = np.random.default_rng(7)
    x0, x1 = rng.normal(size=rows), rng.normal(size=rows)
    prog = graphdsl.loads("input x0, x1, w0 = 2, w1 = -3, b = -3\noutput n = sigmoid(w0*x0 + w1*x1 + b)")

    def floor():
        w0, w1, b = 2.0, -3.0, -3.0
        z = w0 * x0 + w1 * x1 + b
        e = np.exp(-np.abs(z))
        s = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        ds = s * (1.0 - s)
        return s, (w0 * ds, w1 * ds, x0 * ds, x1 * ds, ds)

    def ours():
        res = prog.run_batch(x0=x0, x1=x1)
        return res.outputs["n"], tuple(res.grads[k] for k in ("x0", "x1", "w0", "w1", "b"))
    ok = agree(ours(), floor(), 1e-9)
    times = measure({"floor": floor, "graphdsl": ours}, rounds=5)
    print(f"| run_batch of W2, 10⁶ rows | {fmt_time(times['floor'])} (numpy) | "
          f"{fmt_time(times['graphdsl'])} | {times['graphdsl'] / times['floor']:.2f}×"
          f"{'' if ok else ' ✗'} | ≤ 2× |")


def api(keys=("w1", "w2", "w4:16")):
    """run (bindings as keywords, and as a dict), forward and jvp of the same program on the
    same bindings, timed interleaved in one measure() (jvp: a tangent of ones for the first
    input); ratios to run with keywords, as the workload rows call it. The minimum of the
    rounds, not the median: these calls take microseconds, and on a shared machine most
    5 ms samples lose a time slice (~4 ms) to another process, which only ever adds time."""
    print("| workload | run | run(dict) | forward | jvp | run(dict) / run | forward / run | jvp / run |")
    print("|---|---|---|---|---|---|---|---|")
    for key in keys:
        workload = WORKLOADS[key]()
        prog, inputs = graphdsl.loads(workload.text), dict(workload.inputs)
        first = next(iter(inputs))
        tangents = {first: np.ones_like(inputs[first]) if np.ndim(inputs[first]) else 1.0}
        calls = {"run": lambda: prog.run(**inputs), "dict": lambda: prog.run(inputs),
                 "forward": lambda: prog.forward(**inputs), "jvp": lambda: prog.jvp(inputs, tangents)}
        for call in calls.values():
            call()  # compiles: the first call is not timed (measure sizes its samples by the next)
        times = measure(calls, rounds=41, summary=min)
        cells = [fmt_time(times[k]) for k in ("run", "dict", "forward", "jvp")]
        cells += [f"{times[k] / times['run']:.2f}×" for k in ("dict", "forward", "jvp")]
        print(f"| {workload.name} | " + " | ".join(cells) + " |", flush=True)


def memory(nodes=100_000, size=1_000):
    prog = graphdsl.loads(f"input x\ny = repeat(tanh, {nodes}, x)\noutput s = sum(y)")
    x = np.random.default_rng(8).normal(size=size)
    # tracemalloc looks up the line of every allocation in time proportional to the size of
    # the function: generated code is cut into functions of 2,000 statements for this run.
    codegen.CHUNK = 2000
    prog.run(x=x)  # compile for this shape first

    def floor():
        values = [x]
        for _ in range(nodes):
            values.append(np.tanh(values[-1]))
        s = float(np.sum(values[-1]))
        g = np.ones(size)
        for k in range(nodes, 0, -1):
            g = g * (1.0 - values[k] * values[k])
            values[k] = None
        return s, g

    peaks = {name: peak_traced(fn) for name, fn in [("floor", floor), ("graphdsl", lambda: prog.run(x=x))]}
    ratio = peaks["graphdsl"] / peaks["floor"]
    print(f"| peak memory, tanh chain of {nodes:,} arrays of {size:,} | {peaks['floor'] / 2**20:,.0f} MiB | "
          f"{peaks['graphdsl'] / 2**20:,.0f} MiB | {ratio:.2f}× | one copy of what backward needs |")


def peak_traced(fn) -> int:
    """Peak bytes allocated while ``fn`` runs (tracemalloc, numpy's buffers included)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def environment():
    blas = "threadpoolctl not installed"
    try:
        from threadpoolctl import threadpool_info
        blas = "; ".join(f"{i['internal_api']} {i.get('architecture')} ({i['num_threads']} threads)"
                         for i in threadpool_info())
    except ImportError:
        pass
    unset = all(v not in os.environ for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"))
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}, BLAS: {blas}; "
          f"OPENBLAS_CORETYPE/L2_SIZE unset: {unset}; {os.cpu_count()} cores\n")


def probe(name, key):
    call = peers.PEERS[name](WORKLOADS[key]())
    if call is None:
        print("NotApplicable")
        sys.exit(1)
    call()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the deepest and largest cases")
    parser.add_argument("--big", action="store_true", help="also load a 10⁶-gate file")
    parser.add_argument("--peers", default=",".join(peers.PEERS), help="comma-separated peer names")
    parser.add_argument("--only", default="", help="comma-separated workload keys: " + ", ".join(WORKLOADS) +
                        ", batch, api (run, forward and jvp of W1, W2, W4 n = 16)")
    parser.add_argument("--load", action="store_true",
                        help="only the load rows: W6 load + compile, and load scaling")
    parser.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        return probe(*args.probe)
    environment()
    if args.load:
        print("| measure | floor | graphdsl | ratio | goal |\n|---|---|---|---|---|")
        load_and_compile()
        scaling([10_000, 100_000] + ([1_000_000] if args.big else []))
        return
    names = ["graphdsl", *peers.OURS] + [p for p in args.peers.split(",") if p in peers.PEERS]
    keys = args.only.split(",") if args.only else [k for k in WORKLOADS
                                                   if not (args.quick and k == "w3:10000") and k != "w5:4m"]
    extra = [k for k in keys if k in ("batch", "api")]  # --only batch / api: those rows alone
    keys = [k for k in keys if k not in extra]
    if keys:
        table(keys, names)
    if args.only:
        if "batch" in extra:
            print("\n| measure | floor | graphdsl | ratio | goal |\n|---|---|---|---|---|")
            batch()
        if "api" in extra:
            print()
            api()
        return
    print("\n| measure | floor | graphdsl | ratio | goal |\n|---|---|---|---|---|")
    load_and_compile()
    batch()
    memory(10_000 if args.quick else 100_000)
    print()
    api()
    scaling([10_000, 100_000] + ([1_000_000] if args.big else []))


if __name__ == "__main__":
    main()

"""What it costs to send a Program to a worker: pickling it, or its .graph text and loading
that again, for every example and for random DAGs of 10,000 (and 100,000) gates.

    python bench/pickling.py [--big]

Times are medians of interleaved rounds (one of each contender a round). "pickle" is
``pickle.dumps`` (protocol 5, as multiprocessing and Dask send), "unpickle" is
``pickle.loads``; "loads" is ``graphdsl.loads`` of the text. A worker then runs: the
first run of either compiles (the compiled code is never pickled), so "first run" is
the fastest of three, each on a fresh copy.
"""
from __future__ import annotations

import argparse
import glob
import os
import pickle
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dag  # noqa: E402

import graphdsl  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fmt(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def timed(fn, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def first_run(prog, inputs: dict) -> float:
    start = time.perf_counter()
    prog.run(inputs)
    return time.perf_counter() - start


def row(name: str, text: str, inputs: dict, rounds: int) -> None:
    prog = graphdsl.loads(text, name=name)
    prog.run(inputs)  # a program that has run: its compiled code must not travel
    data = pickle.dumps(prog, protocol=5)
    samples = {"dumps": [], "loads": [], "text": []}
    for _ in range(rounds):  # interleaved: a neighbour's burst hits one sample of each
        samples["dumps"].append(timed(lambda: pickle.dumps(prog, protocol=5), 1))
        samples["loads"].append(timed(lambda: pickle.loads(data), 1))
        samples["text"].append(timed(lambda: graphdsl.loads(text, name=name), 1))
    dumps, loads_pickle, load_text = (statistics.median(samples[k]) for k in ("dumps", "loads", "text"))
    again = pickle.loads(data)
    same = again.run(inputs).outputs == prog.run(inputs).outputs
    runs = (min(first_run(pickle.loads(data), inputs) for _ in range(3)),
            min(first_run(graphdsl.loads(text, name=name), inputs) for _ in range(3)))
    text_bytes = len(text.encode())
    print(f"| {name} | {len(data):,} B | {text_bytes:,} B | {fmt(dumps)} | {fmt(loads_pickle)} | "
          f"{fmt(load_text)} | {load_text / loads_pickle:.2g}× | {fmt(runs[0])} / {fmt(runs[1])} | "
          f"{'yes' if same else 'NO'} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also a 100,000-gate DAG")
    args = parser.parse_args()
    print("| model | pickle | text | pickle.dumps | pickle.loads | loads(text) | loads / unpickle "
          "| first run (unpickled / loaded) | same outputs |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*.graph"))):
        with open(path, encoding="utf-8") as file:
            text = file.read()
        prog = graphdsl.loads(text)
        row(os.path.basename(path), text, prog.defaults(), 21)
    for gates in [10_000] + ([100_000] if args.big else []):
        text = dag.graph_text(dag.describe(gates))
        row(f"random DAG, {gates:,} gates", text, {f"x{i}": 0.1 * (i + 1) for i in range(10)},
            5 if gates <= 10_000 else 3)


if __name__ == "__main__":
    main()

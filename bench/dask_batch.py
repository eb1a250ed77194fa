"""run_batch's rows per second: numpy in one process against Dask with one and two workers,
and what a chunk costs Dask by itself.

    python bench/dask_batch.py [--rows N] [--chunk N] [--rounds R]

W2-style: the sigmoid neuron of bench/workloads.py, one row = five scalars (all batched).
W5-style: the same graph, one row = 100 samples of x0 and x1 (w0, w1, b shared).
The data is drawn on the workers and persisted first (the numbers time evaluation, not
transfer); every output and gradient is reduced to a sum there, as numpy's are here.
The per-chunk overhead is measured with chunks of 100 rows, whose evaluation is next to
nothing: (time - numpy's time for the same rows) / chunks, on one worker.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import NEURON  # noqa: E402

import graphdsl  # noqa: E402

WIDTH = 100  # samples per row in the W5-style rows


def bindings(kind: str, rows: int, chunk: int, lazy: bool):
    """The batch of ``kind`` (w2, w5) as numpy arrays, or dask arrays drawn in chunks."""
    if lazy:
        import dask.array as da

        state = da.random.RandomState(5)
        draw = lambda *shape: state.normal(size=shape, chunks=(chunk,) + shape[1:])
    else:
        state = np.random.default_rng(5)
        draw = lambda *shape: state.normal(size=shape)
    if kind == "w2":
        return {name: draw(rows) for name in ("x0", "x1", "w0", "w1", "b")}, {}
    return {"x0": draw(rows, WIDTH), "x1": draw(rows, WIDTH)}, {"w0": 2.0, "w1": -3.0, "b": -3.0}


def numpy_time(prog, kind: str, rows: int, rounds: int) -> float:
    batched, shared = bindings(kind, rows, rows, lazy=False)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        result = prog.run_batch(batched, shared=shared)
        [float(np.sum(v)) for v in (*result.outputs.values(), *result.grads.values())]
        best = min(best, time.perf_counter() - start)
    return best


def dask_time(client, prog, kind: str, rows: int, chunk: int, rounds: int) -> float:
    batched, shared = bindings(kind, rows, chunk, lazy=True)
    batched = dict(zip(batched, client.persist(list(batched.values()))))
    from distributed import wait

    wait(list(batched.values()))
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        result = prog.run_batch(batched, shared=shared)
        client.compute([v.sum() for v in (*result.outputs.values(), *result.grads.values())], sync=True)
        best = min(best, time.perf_counter() - start)
    client.cancel(list(batched.values()))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the W2-style batch (W5: / 100)")
    parser.add_argument("--chunk", type=int, default=250_000, help="rows per chunk (W5: / 100)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    prog = graphdsl.loads(NEURON)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; best of {args.rounds}")
    print("| workload | rows | chunk | numpy, 1 process | Dask, 1 worker | Dask, 2 workers |")
    print("|---|---|---|---|---|---|")
    clusters = {}
    for workers in (1, 2):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        clusters[workers] = (cluster, Client(cluster))
    for kind in ("w2", "w5"):
        scale = 1 if kind == "w2" else WIDTH
        rows, chunk = args.rows // scale, args.chunk // scale
        alone = numpy_time(prog, kind, rows, args.rounds)
        times = [dask_time(clusters[w][1], prog, kind, rows, chunk, args.rounds) for w in (1, 2)]
        cells = [f"{rows / t / 1e6:.2f} M rows/s ({t:.2f} s)" for t in (alone, *times)]
        print(f"| {kind.upper()}-style | {rows:,} | {chunk:,} | " + " | ".join(cells) + " |")
    client = clusters[1][1]
    tiny, chunks = 100, 500
    spent = dask_time(client, prog, "w2", tiny * chunks, tiny, args.rounds)
    base = numpy_time(prog, "w2", tiny, args.rounds) * chunks
    print(f"\nper-chunk overhead on one worker: {(spent - base) / chunks * 1e3:.2f} ms "
          f"({chunks} chunks of {tiny} rows in {spent:.2f} s; their evaluation alone {base:.2f} s)")
    for cluster, connected in clusters.values():
        connected.close()
        cluster.close()


if __name__ == "__main__":
    main()

"""Time one training step of examples/two_layer_net.graph on the spiral data, against the
same network written by hand in plain numpy (the floor) and in PyTorch eager (if installed).

Every contender does the same work per step on the full batch of 300 samples, in float64
and on one thread: forward (2 -> 100 ReLU units -> 3 scores), softmax cross-entropy plus
L2 regularisation, training accuracy, backward, and an SGD update of W1, b1, W2, b2.
graphdsl runs through ``Program.fit`` (full batch, so one step is one epoch).

Each contender lives in a process of its own (so that one's imports and memory do not
change another's), with the same allocator settings; they take turns, round after round,
so that a machine busy with other work slows them alike. A figure is the median over the
rounds of the CPU time per step.

    python bench/bench_train.py [--steps 200] [--rounds 11] [--plain-malloc]
"""
from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HIDDEN, REG, LR = 100, 1e-3, 1.0
THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _setup():
    """The program, the data and its initial params, in the worker process."""
    import graphdsl
    from graphdsl.train.datafiles import read_data
    from graphdsl.cli.train import keep_freed_memory

    if not os.environ.get("BENCH_PLAIN_MALLOC"):
        keep_freed_memory()  # the same allocator settings for every contender (graphrun train sets them)
    prog = graphdsl.load(ROOT / "examples" / "two_layer_net.graph")
    data = read_data(ROOT / "examples" / "spiral.npz")
    params = {name: value for name, value in prog.defaults().items() if name in prog.params}
    return prog, data, params


def graphdsl_trainer():
    prog, data, _ = _setup()

    def train(steps):
        prog.fit(data, epochs=steps, lr=LR, optimizer="sgd")
    return train


def numpy_trainer():
    """The network by hand: the floor any interpreter of the graph is measured against."""
    import numpy as np

    _, data, params = _setup()
    X, labels = data["X"], data["y"].astype(np.intp)
    W1, b1, W2, b2 = (params[k].copy() for k in ("W1", "b1", "W2", "b2"))
    rows = np.arange(len(labels))

    def step():
        hidden = np.maximum(X @ W1 + b1, 0.0)
        scores = hidden @ W2 + b2
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs = exp / exp.sum(axis=1, keepdims=True)
        loss = -np.log(probs[rows, labels]).mean() + 0.5 * REG * (np.sum(W1 * W1) + np.sum(W2 * W2))
        accuracy = np.mean(scores.argmax(axis=1) == labels)
        dscores = probs
        dscores[rows, labels] -= 1.0
        dscores /= len(labels)
        dhidden = dscores @ W2.T
        dhidden[hidden <= 0.0] = 0.0
        grads = (X.T @ dhidden + REG * W1, dhidden.sum(axis=0), hidden.T @ dscores + REG * W2,
                 dscores.sum(axis=0))
        for param, grad in zip((W1, b1, W2, b2), grads):
            param -= LR * grad
        return loss, accuracy

    def train(steps):
        for _ in range(steps):
            step()
    return train


def torch_trainer():
    import torch

    torch.set_num_threads(1)
    _, data, params = _setup()
    X, y = torch.from_numpy(data["X"]), torch.from_numpy(data["y"].astype("int64"))
    W1, b1, W2, b2 = (torch.tensor(params[k], requires_grad=True) for k in ("W1", "b1", "W2", "b2"))
    optimizer = torch.optim.SGD([W1, b1, W2, b2], lr=LR)

    def train(steps):
        for _ in range(steps):
            optimizer.zero_grad()
            scores = torch.relu(X @ W1 + b1) @ W2 + b2
            loss = (torch.nn.functional.cross_entropy(scores, y)
                    + 0.5 * REG * ((W1 * W1).sum() + (W2 * W2).sum()))
            accuracy = (scores.argmax(dim=1) == y).double().mean()
            loss.backward()
            optimizer.step()
            loss.item(), accuracy.item()
    return train


TRAINERS = {"graphdsl": graphdsl_trainer, "numpy by hand": numpy_trainer, "PyTorch eager": torch_trainer}


def _worker(name: str, conn) -> None:
    """Build one trainer, then answer each step count with the CPU seconds per step."""
    os.environ.update(THREADS)
    sys.path.insert(0, str(ROOT))
    train = TRAINERS[name]()
    train(20)  # warm up: imports, caches, the allocator
    conn.send("ready")
    for steps in iter(conn.recv, 0):
        start = time.process_time()
        train(steps)
        conn.send((time.process_time() - start) / steps)


def measure(names, steps: int, rounds: int) -> dict:
    """Median seconds per step of each contender, each in its own process, taking turns."""
    os.environ.update(THREADS)  # read by numpy and torch when the workers import them
    context = multiprocessing.get_context("spawn")
    workers = {}
    for name in names:
        mine, theirs = context.Pipe()
        process = context.Process(target=_worker, args=(name, theirs), daemon=True)
        process.start()
        workers[name] = (process, mine)
    for _, conn in workers.values():
        conn.recv()
    times = {name: [] for name in names}
    for _ in range(rounds):
        for name, (_, conn) in workers.items():
            conn.send(steps)
            times[name].append(conn.recv())
    for process, conn in workers.values():
        conn.send(0)
        process.join()
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="time per training step: graphdsl vs numpy vs PyTorch")
    parser.add_argument("--steps", type=int, default=200, help="steps per round (default 200)")
    parser.add_argument("--rounds", type=int, default=11, help="rounds (default 11)")
    parser.add_argument("--plain-malloc", action="store_true",
                        help="glibc's default allocator settings, as a library user's process has them "
                             "(default: graphrun train's, which keep freed memory for reuse)")
    args = parser.parse_args()
    if args.plain_malloc:
        os.environ["BENCH_PLAIN_MALLOC"] = "1"  # read by the workers, which inherit it
    names = ["graphdsl", "numpy by hand"]
    if importlib.util.find_spec("torch") is not None:
        names.append("PyTorch eager")
    per_step = measure(names, args.steps, args.rounds)
    floor = per_step["numpy by hand"]
    print(f"two_layer_net.graph on the spiral (300 samples), full batch, float64, one thread: "
          f"median of {args.rounds} rounds of {args.steps} steps"
          f"{', glibc default allocator settings' if args.plain_malloc else ''}")
    for name, seconds in per_step.items():
        print(f"  {name:14s} {seconds * 1e6:7.1f} us/step   {seconds / floor:5.2f} x numpy by hand")
    if "PyTorch eager" in per_step:
        print(f"  graphdsl takes {per_step['graphdsl'] / per_step['PyTorch eager']:.2f} x the time of PyTorch eager")
    else:
        print("  (PyTorch is not installed: pip install torch, a CPU build, adds the third contender)")


if __name__ == "__main__":
    main()

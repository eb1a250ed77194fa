"""Time one training step of examples/two_layer_net.graph on the spiral data, against the
same network written by hand in plain numpy (the floor) and in PyTorch eager (if installed).

Every contender does the same work per step on the full batch of 300 samples, in float64:
forward (2x100 ReLU layer, 100x3 scores), softmax cross-entropy loss plus L2, training
accuracy, backward, and an SGD update of W1, b1, W2, b2. graphdsl runs through
``Program.fit`` (full batch, so a step is an epoch). The contenders take turns, round
after round, so that a machine busy with other work slows them alike; each figure is
the median over rounds of the time per step, in CPU time of this process.

    python bench/bench_train.py [--steps 200] [--rounds 15]
"""
from __future__ import annotations

import os

# One thread for every contender: at this size threads only add overhead, and CPU time
# (what is measured) would count their spinning.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402  (after the thread settings, which numpy reads at import)
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import graphdsl  # noqa: E402
from graphdsl.datafiles import read_data  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HIDDEN, REG, LR = 100, 1e-3, 1.0


def initial_params(prog) -> dict:
    return {name: np.array(value) for name, value in prog.defaults().items() if name in prog.params}


def graphdsl_trainer(prog, data):
    def train(steps):
        prog.fit(data, epochs=steps, lr=LR, optimizer="sgd")
    return train


def numpy_trainer(params, X, y):
    """The network by hand: the floor any interpreter of the graph is measured against."""
    W1, b1, W2, b2 = (params[k].copy() for k in ("W1", "b1", "W2", "b2"))
    labels = y.astype(np.intp)
    rows = np.arange(len(labels))

    def step():
        hidden = np.maximum(X @ W1 + b1, 0.0)
        scores = hidden @ W2 + b2
        shifted = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
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


def torch_trainer(params, X, y):
    import torch

    torch.set_num_threads(1)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    W1, b1, W2, b2 = (torch.tensor(params[k], requires_grad=True) for k in ("W1", "b1", "W2", "b2"))
    optimizer = torch.optim.SGD([W1, b1, W2, b2], lr=LR)

    def train(steps):
        for _ in range(steps):
            optimizer.zero_grad()
            scores = torch.relu(Xt @ W1 + b1) @ W2 + b2
            loss = (torch.nn.functional.cross_entropy(scores, yt)
                    + 0.5 * REG * ((W1 * W1).sum() + (W2 * W2).sum()))
            accuracy = (scores.argmax(dim=1) == yt).double().mean()
            loss.backward()
            optimizer.step()
            loss.item(), accuracy.item()
    return train


def contenders(prog, data) -> dict:
    params = initial_params(prog)
    found = {"graphdsl": graphdsl_trainer(prog, data), "numpy by hand": numpy_trainer(params, data["X"], data["y"])}
    try:
        found["PyTorch eager"] = torch_trainer(params, data["X"], data["y"])
    except ImportError:
        pass
    return found


def measure(trainers: dict, steps: int, rounds: int) -> dict:
    """Median seconds per step of each trainer, taking turns round after round."""
    for train in trainers.values():
        train(max(steps // 10, 1))  # warm up: imports, caches, allocator
    times = {name: [] for name in trainers}
    for _ in range(rounds):
        for name, train in trainers.items():
            start = time.process_time()
            train(steps)
            times[name].append((time.process_time() - start) / steps)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="time per training step: graphdsl vs numpy vs PyTorch")
    parser.add_argument("--steps", type=int, default=200, help="steps per round (default 200)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds (default 15)")
    args = parser.parse_args()
    prog = graphdsl.load(ROOT / "examples" / "two_layer_net.graph")
    data = read_data(ROOT / "examples" / "spiral.npz")
    per_step = measure(contenders(prog, data), args.steps, args.rounds)
    floor = per_step["numpy by hand"]
    print(f"two_layer_net.graph, spiral data (300 x 2), full batch, float64: "
          f"{args.rounds} rounds of {args.steps} steps, median per step")
    for name, seconds in per_step.items():
        print(f"  {name:14s} {seconds * 1e6:8.1f} us/step   {seconds / floor:5.2f}x numpy")
    if "PyTorch eager" in per_step:
        print(f"  graphdsl / PyTorch eager: {per_step['graphdsl'] / per_step['PyTorch eager']:.2f}x")
    else:
        print("  (PyTorch not installed: pip install torch==2.13.0 for the third column)")


if __name__ == "__main__":
    main()

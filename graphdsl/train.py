"""Training: the lecture's loop as a feature.

Step 1, forward the loss on a mini-batch; step 2, backward to every param; step 3,
θ ← θ − η·dL/dθ (or momentum, or Adam). Each epoch shuffles the samples (seeded).
The schedule was compiled once when the Program was loaded: a step only slices the
data and runs the executor over prepared slots, so nothing is parsed, built or
scheduled again, and no Result is made per step.

>>> import graphdsl
>>> prog = graphdsl.loads("input x, y\\nparam w = 0\\noutput loss = mean(square(w * x - y))")
>>> history = prog.fit({"x": [1.0, 2.0], "y": [2.0, 4.0]}, epochs=50, lr=0.1)
>>> round(history.params["w"], 6)
2.0
"""
from __future__ import annotations

import ctypes
import difflib
import math
import platform
from dataclasses import dataclass, field

import numpy as np

from . import execute
from .bindings import bind, to_value
from .errors import BindingError, GraphError, NumericError

# Gates whose second operand holds class ids: data feeding it is checked before training.
LABEL_GATES = ("softmax_cross_entropy", "hinge_loss")


class TrainingError(GraphError):
    """A model that cannot be trained: no param, or a loss that is not a scalar."""


class DataError(BindingError):
    """Training data that does not fit the model. ``input`` names the data input to blame,
    ``row`` the sample (0-based) and ``item`` the entry within that sample (flat), when known."""

    def __init__(self, message: str, input: str | None = None, row: int | None = None,
                 item: int = 0, span=None):
        super().__init__(message, span)
        self.input, self.row, self.item = input, row, item


# ---------------------------------------------------------------- optimizers
class SGD:
    """θ ← θ − lr·g."""

    def __init__(self, lr: float):
        self.lr = lr

    def step(self, params: dict, grads: dict) -> None:
        for name, g in grads.items():
            params[name] -= self.lr * g  # in place for arrays: fit owns these copies


class Momentum:
    """Heavy ball, as PyTorch writes it: v ← μ·v + g; θ ← θ − lr·v."""

    def __init__(self, lr: float, momentum: float = 0.9):
        self.lr, self.momentum, self.velocity = lr, momentum, {}

    def step(self, params: dict, grads: dict) -> None:
        for name, g in grads.items():
            v = self.momentum * self.velocity.get(name, 0.0) + g
            self.velocity[name] = v
            params[name] -= self.lr * v


class Adam:
    """Kingma & Ba (2015): bias-corrected first and second moments of the gradient."""

    def __init__(self, lr: float, betas: tuple = (0.9, 0.999), eps: float = 1e-8):
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.m, self.v, self.t = {}, {}, 0

    def step(self, params: dict, grads: dict) -> None:
        self.t += 1
        correct1, correct2 = 1.0 - self.beta1 ** self.t, 1.0 - self.beta2 ** self.t
        for name, g in grads.items():
            m = self.beta1 * self.m.get(name, 0.0) + (1.0 - self.beta1) * g
            v = self.beta2 * self.v.get(name, 0.0) + (1.0 - self.beta2) * (g * g)
            self.m[name], self.v[name] = m, v
            params[name] -= self.lr * (m / correct1) / (np.sqrt(v / correct2) + self.eps)


OPTIMIZERS = ("sgd", "momentum", "adam")


def make_optimizer(name: str, lr: float, momentum: float = 0.9, betas: tuple = (0.9, 0.999),
                   eps: float = 1e-8):
    """An optimizer by name: ``sgd``, ``momentum`` or ``adam``."""
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate must be a positive number, got {lr!r}")
    if name == "sgd":
        return SGD(lr)
    if name == "momentum":
        return Momentum(lr, momentum)
    if name == "adam":
        return Adam(lr, betas, eps)
    raise ValueError(f"unknown optimizer {name!r} (choose one of {', '.join(OPTIMIZERS)})")


# ---------------------------------------------------------------- the result
@dataclass
class History:
    """What ``fit`` returns: one mean loss per epoch, the trained params, and the other
    scalar outputs (metrics such as accuracy) per epoch, each a mean over the epoch's batches."""

    of: str
    losses: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)  # output name -> one value per epoch
    params: dict = field(default_factory=dict)  # param name -> trained value

    def as_dict(self) -> dict:
        """Plain lists and floats, ready for ``json.dumps``."""
        plain = lambda v: v.tolist() if isinstance(v, np.ndarray) else v
        return {"of": self.of, "losses": list(self.losses), "metrics": dict(self.metrics),
                "params": {name: plain(v) for name, v in self.params.items()}}

    def __repr__(self) -> str:
        last = f"{self.losses[-1]:.6g}" if self.losses else "-"
        return (f"History(of={self.of!r}, epochs={len(self.losses)}, final loss={last}, "
                f"metrics={list(self.metrics)}, params={list(self.params)})")


# ---------------------------------------------------------------- the loop
def fit(program, data, *, epochs: int = 10, batch_size: int | None = None, lr: float = 0.01,
        optimizer: str = "sgd", seed: int = 0, of: str | None = None, momentum: float = 0.9,
        betas: tuple = (0.9, 0.999), eps: float = 1e-8, on_epoch=None) -> History:
    """Train every param of ``program`` on ``data`` ({input name: one row per sample}).

    ``batch_size=None`` trains on the full batch (in the data's order: no shuffle is
    needed); smaller batches are drawn from a permutation of the samples made each
    epoch with ``seed``. ``on_epoch(epoch, loss, metrics)`` is called after each epoch.
    The program is not changed: ``program.with_params(history.params)`` is the trained one.
    """
    of = program._output(of)
    opt = make_optimizer(optimizer, lr, momentum, betas, eps)
    for what, value, least in (("epochs", epochs, 0), ("batch_size", batch_size, 1)):
        if value is not None and not (isinstance(value, (int, np.integer)) and value >= least):
            raise ValueError(f"{what} must be a whole number >= {least}, got {value!r}")
    loop = _Loop(program, of, _samples(program, data), batch_size)
    _keep_freed_memory()
    history = History(of, metrics={name: [] for name in loop.metrics})
    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"):
        for epoch in range(1, epochs + 1):
            loss, metrics = loop.epoch(epoch, opt, rng)
            history.losses.append(loss)
            for name, value in zip(loop.metrics, metrics):
                history.metrics[name].append(value)
            if on_epoch is not None:
                on_epoch(epoch, loss, dict(zip(history.metrics, metrics)))
    history.params = {name: _export(value) for name, value in loop.params.items()}
    return history


_KEPT = []  # set once per process by _keep_freed_memory


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of returning it to the system.

    A training step allocates the same arrays every time. With glibc's defaults, arrays
    over 128 KB are mapped afresh and the freed top of the heap is handed back after
    each step, so every step faults in its pages anew: a two-layer net on 300 samples
    spent as long in those page faults as in its arithmetic. Raising the thresholds
    makes the second step reuse the first step's memory. Process-wide and once; a
    no-op where the C library is not glibc."""
    if _KEPT:
        return
    _KEPT.append(True)
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # the largest glibc accepts
    mallopt(_M_TRIM_THRESHOLD, 64 << 20)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>


class _Loop:
    """What fit prepares once (owned param copies, the metrics); ``epoch`` runs the batches."""

    def __init__(self, program, of: str, samples: dict, batch_size: int | None):
        self.program, self.of, self.samples = program, of, samples
        self.n = len(next(iter(samples.values())))
        self.batch = self.n if batch_size is None else min(batch_size, self.n)
        sched = program._schedule
        self.leaf_values = _bind(sched.leaves, samples)  # shapes and named dims, checked once up front
        self.params = {leaf.name: _own(value) for leaf, value in zip(sched.leaves, self.leaf_values)
                       if leaf.kind == "param"}
        reached = sched.plans[of].differentiable
        self.trained = [leaf.name for leaf in sched.leaves if leaf.kind == "param" and leaf.slot in reached]
        self.metrics = self._probe(samples)

    def epoch(self, epoch: int, optimizer, rng) -> tuple:
        """One pass over the data: the epoch's mean loss and metrics (weighted by batch size)."""
        order = None if self.batch >= self.n else rng.permutation(self.n)
        loss, metrics = 0.0, [0.0] * len(self.metrics)
        for start in range(0, self.n, self.batch):
            rows = None if order is None else order[start:start + self.batch]
            weight = 1.0 if rows is None else len(rows) / self.n
            batch_loss, batch_metrics = self.step(rows, optimizer, epoch)
            loss += weight * batch_loss
            metrics = [m + weight * b for m, b in zip(metrics, batch_metrics)]
        return loss, metrics

    def step(self, rows, optimizer, epoch: int) -> tuple:
        """Forward the loss on one batch, backward to the params, update them.

        Program.run does the passes over the schedule compiled at load time (and
        whatever fast path it has); only the bindings change from step to step."""
        bindings = {name: array if rows is None else array[rows] for name, array in self.samples.items()}
        bindings.update(self.params)
        result = self.program.run(self.of, **bindings)
        loss = result.outputs[self.of]
        if not math.isfinite(loss):
            raise self._diverged(bindings, epoch)
        optimizer.step(self.params, {name: result.grads[name] for name in self.trained})
        return loss, [result.outputs[name] for name in self.metrics]

    def _probe(self, samples: dict) -> list:
        """Forward one batch with class ids zeroed: check the labels against the number of
        classes, check that the loss is a scalar, and find the metrics (the other scalar outputs)."""
        sched = self.program._schedule
        index = {leaf.slot: k for k, leaf in enumerate(sched.leaves)}
        names = {leaf.slot: leaf.name for leaf in sched.leaves}
        label_steps = [step for step in sched.steps
                       if step.gate.name in LABEL_GATES and names.get(step.args[1]) in samples]
        leaf_values = self.leaf_values.copy()
        for k, leaf in enumerate(sched.leaves):
            if leaf.name in samples:
                leaf_values[k] = leaf_values[k][:self.batch]
        for step in label_steps:
            leaf_values[index[step.args[1]]] = np.zeros_like(leaf_values[index[step.args[1]]])
        with np.errstate(all="ignore"):
            values = execute.forward(sched, leaf_values)
        for step in label_steps:
            name = names[step.args[1]]
            _check_labels(name, samples[name], np.shape(values[step.args[0]]), step)
        self._check_trainable(values[dict(sched.outputs)[self.of]])
        return [name for name, slot in sched.outputs if name != self.of and np.ndim(values[slot]) == 0]

    def _check_trainable(self, loss) -> None:
        span = self.program.graph.nodes[self.of]["span"]
        if not self.params:
            raise TrainingError("the graph has no param to train: declare one, e.g. 'param w = 0' "
                                "or 'param W: [2, 3] ~ normal(0, 0.01)'", span)
        if np.ndim(loss) != 0:
            raise TrainingError(f"the loss '{self.of}' must be a single number, but it has shape "
                                f"{list(np.shape(loss))}: reduce it, e.g. with mean(...)", span)
        if not self.trained:
            raise TrainingError(f"the loss '{self.of}' does not depend on any param "
                                f"({', '.join(self.params)})", span)

    def _diverged(self, bindings: dict, epoch: int) -> NumericError:
        """Rerun the batch with the finiteness check, which names the first gate to blame."""
        try:
            self.program.run(self.of, check_finite=True, **bindings)
            problem = NumericError(f"the loss '{self.of}' is not finite")
        except NumericError as err:
            problem = err
        return NumericError(f"training diverged in epoch {epoch}: {problem.message} (a smaller "
                            f"learning rate may help)", problem.span)


# ---------------------------------------------------------------- checking the data
def _samples(program, data) -> dict:
    """The data as float arrays with one row per sample, or a DataError naming the input."""
    if not hasattr(data, "items") or not data:
        raise DataError("fit needs data: a dict of input name -> array with one row per sample")
    samples = {}
    for name, value in data.items():
        if name not in program.inputs:
            raise DataError(_not_an_input(name, program), name)
        array = to_value(value, name)
        if np.ndim(array) == 0:
            raise DataError(f"input '{name}' needs one value per sample along its first axis, "
                            f"but the data holds a single number", name)
        bad = ~np.isfinite(array)
        if bad.any():
            row, item = divmod(int(np.argmax(bad)), max(array[0].size, 1))
            value = array.reshape(len(array), -1)[row, item]
            raise DataError(f"input '{name}' holds {'NaN' if np.isnan(value) else value} at index "
                            f"{_index(array.shape, row, item)}", name, row, item)
        samples[name] = array
    for leaf in program._schedule.leaves:
        if leaf.kind == "input" and leaf.default is None and leaf.name not in samples:
            raise DataError(f"the data holds no values for input '{leaf.name}', which has no default "
                            f"(the data holds {', '.join(samples)})", leaf.name)
    counts = {name: len(array) for name, array in samples.items()}
    first = next(iter(counts))
    for name, count in counts.items():
        if count != counts[first]:
            raise DataError(f"the data inputs disagree on the number of samples: '{first}' has "
                            f"{counts[first]}, '{name}' has {count}", name)
    if counts[first] == 0:
        raise DataError("the data holds no samples", first)
    return samples


def _bind(leaves, samples: dict) -> list:
    """bind(), with the blame put on the data when an input it lacks has an unfitting default."""
    try:
        return bind(leaves, samples)
    except BindingError as err:
        leaf = next((leaf for leaf in leaves if leaf.span == err.span), None)
        if leaf is None or leaf.kind != "input" or leaf.name in samples:
            raise
        raise DataError(f"the data holds no values for input '{leaf.name}', and its default does not "
                        f"fit the data: {err.message}", leaf.name) from None


def _check_labels(name: str, labels, scores_shape: tuple, step) -> None:
    classes = scores_shape[-1] if scores_shape else 0
    bad = ~np.isin(labels, np.arange(classes))
    if bad.any():
        row, item = divmod(int(np.argmax(bad)), max(labels[0].size, 1))
        value = labels.reshape(len(labels), -1)[row, item]
        raise DataError(f"input '{name}' holds the class ids of {step.gate.name} (line {step.span.line}), "
                        f"which must be whole numbers from 0 to {classes - 1}; at index "
                        f"{_index(labels.shape, row, item)} it holds {value:g}", name, row, item)


def _index(shape: tuple, row: int, item: int) -> str:
    """Sample ``row``, flat entry ``item`` within it, written as numpy indexes it: 17 or [5, 1]."""
    if len(shape) == 1:
        return str(row)
    return str([row, *map(int, np.unravel_index(item, shape[1:]))])


def _not_an_input(name: str, program) -> str:
    if name in program.params:
        return f"'{name}' is a param: training learns it, so it cannot come from the data"
    lower = {n.lower(): n for n in program.inputs}
    match = difflib.get_close_matches(name.lower(), lower, n=1)
    hint = f"; did you mean '{lower[match[0]]}'?" if match else ""
    return f"the data holds '{name}', which is not an input of the graph{hint} " \
           f"(inputs: {', '.join(program.inputs) or 'none'})"


def _own(value):
    """A private, writable copy of a param, so in-place updates never touch the Program."""
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else float(value)


def _export(value):
    return value if isinstance(value, np.ndarray) else float(value)

"""Training: the lecture's loop as a feature.

Step 1, forward the loss on a mini-batch; step 2, backward to every param; step 3,
θ ← θ − η·dL/dθ (or momentum, or Adam). Each epoch shuffles the samples (seeded).
The schedule was compiled once when the Program was loaded; a step slices the data
and calls run's compiled code with the current params (its backward pass reaching the
params only), so nothing is parsed, built or scheduled again, and every step gets
whatever fast path ``run`` has.

>>> import graphdsl
>>> prog = graphdsl.loads("input x, y\\nparam w = 0\\noutput loss = mean(square(w * x - y))")
>>> history = prog.fit({"x": [1.0, 2.0], "y": [2.0, 4.0]}, epochs=50, lr=0.1)
>>> round(history.params["w"], 6)
2.0
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..run import interpret as execute
from ..run.calls import output_name
from ..errors import DivergenceWarning, NumericError, TrainingError
from .samples import DataError, bind_samples, check_fixed, check_labels, check_samples

__all__ = ["fit", "History", "SGD", "Momentum", "Adam", "make_optimizer", "OPTIMIZERS",
           "DataError", "TrainingError", "DivergenceWarning"]

# A loss this many times the lowest so far, and above the first epoch's, has blown up.
GROWTH = 100.0


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
    for what, value in (("momentum", momentum), ("betas[0]", betas[0]), ("betas[1]", betas[1])):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{what} must be at least 0 and below 1, got {value!r}")
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
    """What ``fit`` returns: the loss per epoch, the other scalar outputs (metrics such as
    accuracy) per epoch, and the trained params. An epoch's figure is the mean over its
    batches, weighted by their sizes, each measured on the params before that batch's
    update (with the full batch: the loss at the start of the epoch).

    ``diverged_at`` is the first epoch whose loss blew up (more than GROWTH times the
    lowest so far, and above the first epoch's), or None; ``fit`` also warns of it with a
    DivergenceWarning. (A loss that becomes NaN or infinite stops ``fit`` with a NumericError.)"""

    of: str
    losses: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)  # output name -> one value per epoch
    params: dict = field(default_factory=dict)  # param name -> trained value
    diverged_at: int | None = None

    def as_dict(self) -> dict:
        """Plain lists and floats, ready for ``json.dumps``."""
        plain = lambda v: v.tolist() if isinstance(v, np.ndarray) else v
        return {"of": self.of, "losses": list(self.losses), "metrics": dict(self.metrics),
                "params": {name: plain(v) for name, v in self.params.items()},
                "diverged_at": self.diverged_at}

    def __repr__(self) -> str:
        last = f"{self.losses[-1]:.6g}" if self.losses else "-"
        blown = f", diverged_at={self.diverged_at}" if self.diverged_at is not None else ""
        return (f"History(of={self.of!r}, epochs={len(self.losses)}, final loss={last}{blown}, "
                f"metrics={list(self.metrics)}, params={list(self.params)})")


# ---------------------------------------------------------------- the loop
def fit(program, data, *, epochs: int = 10, batch_size: int | None = None, lr: float = 0.01,
        optimizer: str = "sgd", seed: int = 0, of: str | None = None, momentum: float = 0.9,
        betas: tuple = (0.9, 0.999), eps: float = 1e-8, inputs: dict | None = None,
        on_epoch=None, client=None) -> History:
    """Train every param of ``program`` on ``data`` ({input name: one row per sample}).

    ``batch_size=None`` trains on the full batch (in the data's order: no shuffle is
    needed); smaller batches are drawn from a permutation of the samples made each
    epoch with ``seed``. ``inputs`` ({input name: value}) binds inputs the data does not
    hold, one value for every sample (``{"reg": 0.01}``). ``on_epoch(epoch, loss, metrics)``
    is called after each epoch. Dask arrays or a dask DataFrame as ``data`` (or a
    ``client``, a ``distributed.Client``) train on the workers (train/dask.py). A loss that blows up is reported by a DivergenceWarning and
    ``History.diverged_at``. The program is not changed:
    ``program.with_params(history.params)`` is the trained one.
    """
    of = output_name(program.outputs, of)
    opt = make_optimizer(optimizer, lr, momentum, betas, eps)
    for what, value, least in (("epochs", epochs, 0), ("batch_size", batch_size, 1)):
        if value is not None and not (isinstance(value, (int, np.integer)) and value >= least):
            raise ValueError(f"{what} must be a whole number >= {least}, got {value!r}")
    fixed = check_fixed(program, inputs, data)
    if client is not None or type(data).__module__.startswith("dask") or \
            any(type(v).__module__.startswith("dask") for v in (data.values() if isinstance(data, dict) else ())):
        from .dask import dask_loop

        loop = dask_loop(_Loop, program, of, data, fixed, batch_size, client)
    else:
        loop = _Loop(program, of, check_samples(program, data, fixed), fixed, batch_size)
    history = History(of, metrics={name: [] for name in loop.metrics})
    rng = np.random.default_rng(seed)
    watch = _BlowUp()
    with np.errstate(all="ignore"):
        for epoch in range(1, epochs + 1):
            loss, metrics = loop.epoch(epoch, opt, rng)
            history.losses.append(loss)
            if history.diverged_at is None and watch.grew(loss):
                history.diverged_at = epoch
                warnings.warn(DivergenceWarning(watch.explain(of, epoch, loss, lr)), stacklevel=3)
            for name, value in zip(loop.metrics, metrics):
                history.metrics[name].append(value)
            if on_epoch is not None:
                on_epoch(epoch, loss, dict(zip(history.metrics, metrics)))
    history.params = {name: _export(value) for name, value in loop.params.items()}
    return history


class _BlowUp:
    """Watches the loss per epoch for what a too-large learning rate does: a loss more than
    GROWTH times the lowest so far (``before``) and above the first epoch's. Comparing
    with the first epoch too keeps the noise of a loss near zero (1e-9, then 1e-7) quiet."""

    def __init__(self):
        self.first = self.before = None

    def grew(self, loss: float) -> bool:
        if self.first is None:
            self.first = self.before = loss
            return False
        blown = self.before > 0 and loss > GROWTH * self.before and loss > self.first
        if not blown:
            self.before = min(self.before, loss)
        return blown

    def explain(self, of: str, epoch: int, loss: float, lr: float) -> str:
        named = "" if of == "loss" else f" ({of})"
        return (f"the loss{named} blew up in epoch {epoch}: {loss:.4g}, {loss / self.before:,.0f} times "
                f"its lowest before ({self.before:.4g}); the learning rate ({lr:g}) is probably too large")


class _Loop:
    """What fit prepares once (owned param copies, the metrics); ``epoch`` runs the batches."""

    def __init__(self, program, of: str, samples: dict, fixed: dict, batch_size: int | None):
        self.program, self.of, self.samples, self.fixed = program, of, samples, fixed
        self.n = len(next(iter(samples.values())))
        self.batch = self.n if batch_size is None else min(batch_size, self.n)
        sched = program.schedule
        self.leaf_values = bind_samples(sched.leaves, samples, fixed)  # shapes and named dims, once
        self.params = {leaf.name: _own(value) for leaf, value in zip(sched.leaves, self.leaf_values)
                       if leaf.kind == "param"}
        reached = sched.plans[of].differentiable
        self.trained = [leaf.name for leaf in sched.leaves if leaf.kind == "param" and leaf.slot in reached]
        # run's compiled code without the backward pass to the data (same numbers for the params)
        self.run = program._runner.trainer(of, tuple(self.trained))
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

        run's compiled code does the passes over the schedule compiled at load time (and
        whatever fast path it has), its backward pass to the params only; only the
        bindings change from step to step."""
        bindings = {name: array if rows is None else array[rows] for name, array in self.samples.items()}
        bindings.update(self.fixed)
        bindings.update(self.params)
        outputs, grads = self.run(bindings)
        loss = outputs[self.of]
        if not math.isfinite(loss):
            raise self._diverged(bindings, epoch)
        if len(grads) != len(self.trained):  # (the numpy code gives the trained params' only)
            grads = {name: grads[name] for name in self.trained}
        optimizer.step(self.params, grads)
        return loss, [outputs[name] for name in self.metrics]

    def _probe(self, samples: dict) -> list:
        """Forward one batch with class ids zeroed: check the labels against the number of
        classes, check that the loss is a scalar, and find the metrics (the other scalar outputs)."""
        sched = self.program.schedule
        index = {leaf.slot: k for k, leaf in enumerate(sched.leaves)}
        names = {leaf.slot: leaf.name for leaf in sched.leaves}
        # (steps whose gate takes class ids, fed from the data: checked before training)
        label_steps = [(step, step.args[step.gate.class_ids]) for step in sched.steps
                       if step.gate.class_ids is not None and names.get(step.args[step.gate.class_ids]) in samples]
        leaf_values = self.leaf_values.copy()
        for k, leaf in enumerate(sched.leaves):
            if leaf.name in samples:
                leaf_values[k] = leaf_values[k][:self.batch]
        for step, labels in label_steps:
            leaf_values[index[labels]] = np.zeros_like(leaf_values[index[labels]])
        with np.errstate(all="ignore"):
            values = execute.forward(sched, leaf_values)
        for step, labels in label_steps:
            name = names[labels]
            check_labels(name, samples[name], np.shape(values[step.args[0]]), step)
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
            self.program.run(bindings, of=self.of, check_finite=True)
            problem = NumericError(f"the loss '{self.of}' is not finite")
        except NumericError as err:
            problem = err
        return NumericError(f"training diverged in epoch {epoch}: {problem.message} (a smaller "
                            f"learning rate may help)", problem.span)


def _own(value):
    """A private, writable copy of a param, so in-place updates never touch the Program."""
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else float(value)


def _export(value):
    return value if isinstance(value, np.ndarray) else float(value)

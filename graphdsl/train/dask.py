"""``fit(data, client=...)`` on dask arrays or a dask DataFrame: the data never comes to
the client.

The epochs, the sample order (``rng.permutation`` per epoch, seeded) and the
optimizers are the in-memory loop's (``fit._Loop``); only a step differs. A mini-batch's
rows are cut along the data's chunks into pieces; each piece runs forward and backward
where its chunk is (one task per piece: the chunk, computed or held by a worker, is
sliced there), and the client adds the pieces' gradients, weighted by their share of
the batch's rows when the loss is a mean, and applies the update once. Which of the two
the loss is (a mean, or a sum, over samples) is found, not assumed: the loss and its
gradients on two halves of the first rows are compared with those on the whole.
"""
from __future__ import annotations

import contextlib
import math
import re

import numpy as np

import dask

from ..errors import DataError, NumericError, TrainingError
from ..run.dask import program_key
from .samples import check_samples

MIN_AGREE = 1e-7  # relative: how closely two halves must make up the whole (rounding only)


def dask_loop(base, program, of: str, data, fixed: dict, batch_size, client=None):
    """``fit``'s loop (``base``, fit._Loop, passed in: train.fit imports this module, not the
    other way) with the samples in dask arrays and a step as tasks on the workers."""
    made = _LOOPS.get(base)
    if made is None:
        made = _LOOPS[base] = type("DaskLoop", (DaskSteps, base), {})
    return made(program, of, data, fixed, batch_size, client)


_LOOPS: dict = {}


class DaskSteps:
    """What a DaskLoop does otherwise than fit's loop: its data, a step, the probe of the loss."""

    def __init__(self, program, of: str, data, fixed: dict, batch_size, client=None):
        # (on the client's cluster, not on whichever client was made last, Dask's default)
        with dask.config.set(scheduler=client) if client is not None else _nothing():
            self._prepare(program, of, data, fixed, batch_size, client)

    def _prepare(self, program, of: str, data, fixed: dict, batch_size, client) -> None:
        arrays = dask_columns(program, data)
        first = next(iter(arrays.values()))
        self.chunks = first.chunks[0]
        if any(np.isnan(n) for n in self.chunks):
            raise DataError("the data's chunks have unknown lengths: call compute_chunk_sizes() on it",
                            next(iter(arrays)))
        for name, array in arrays.items():
            if array.shape[0] != first.shape[0]:
                raise DataError(f"the data inputs disagree on the number of samples: '{next(iter(arrays))}' "
                                f"has {first.shape[0]}, '{name}' has {array.shape[0]}", name)
        arrays = {name: a.rechunk((self.chunks,) + tuple(-1 for _ in a.shape[1:])) for name, a in arrays.items()}
        head = {name: np.asarray(a[:min(len(a), max(self.chunks[0], 2))].compute()) for name, a in arrays.items()}
        super().__init__(program, of, check_samples(program, head, fixed), fixed, batch_size)
        self.n = first.shape[0]
        self.batch = self.n if batch_size is None else min(batch_size, self.n)
        self.client = client
        self.starts = np.cumsum((0,) + self.chunks)
        self.blocks = {name: a.to_delayed().ravel() for name, a in arrays.items()}
        self.program_key = program_key(program)
        self.means = self._kinds(head)

    def step(self, rows, optimizer, epoch: int) -> tuple:
        """One update from the pieces of the batch ``rows`` (None: every row, in order)."""
        if rows is None:
            pieces = [(k, None) for k in range(len(self.chunks))]
            total = self.n
        else:
            chunk_of = np.searchsorted(self.starts, rows, side="right") - 1
            pieces = [(k, rows[chunk_of == k] - self.starts[k]) for k in np.unique(chunk_of)]
            total = len(rows)
        task = dask.delayed(_piece, pure=True)
        tasks = [task(self.program_key, self.of, {name: b[k] for name, b in self.blocks.items()}, local,
                      int(self.starts[k]), self.fixed, self.params, self.trained, self.metrics)
                 for k, local in pieces]
        done = self.client.gather(self.client.compute(tasks)) if self.client is not None \
            else dask.compute(*tasks)
        loss, grads, metrics = self._assemble(done, total)
        if not math.isfinite(loss):
            raise NumericError(f"training diverged in epoch {epoch}: the loss '{self.of}' is not finite "
                               f"(a smaller learning rate may help)")
        optimizer.step(self.params, grads)
        return loss, metrics

    def _assemble(self, done: list, total: int) -> tuple:
        """The batch's loss, gradients and metrics from its pieces', in the pieces' order."""
        loss, grads, metrics = 0.0, {}, [0.0] * len(self.metrics)
        for answer in done:
            if answer[0] == "bad":
                _, name, row, value = answer
                raise DataError(f"input '{name}' holds {value} at sample {row}", name, row)
            _, count, piece_loss, piece_grads, piece_metrics = answer
            share = count / total
            weight = share if self.means[0] else 1.0
            loss += weight * piece_loss
            for name, g in piece_grads.items():
                grads[name] = weight * g if name not in grads else grads[name] + weight * g
            metrics = [m + (share if mean else 1.0) * v
                       for m, v, mean in zip(metrics, piece_metrics, self.means[1:])]
        return loss, grads, metrics

    def _kinds(self, head: dict) -> list:
        """For the loss and each metric, whether it is a mean over samples (True) or a sum
        (False): the whole of the first rows against its two halves, at the first params."""
        count = len(next(iter(head.values())))
        if count < 2:
            return [True] * (1 + len(self.metrics))
        half = count // 2
        runs = [self.program.run({**{k: v[part] for k, v in head.items()}, **self.fixed, **self.params},
                                 of=self.of) for part in (slice(None), slice(0, half), slice(half, None))]
        kinds = []
        for name in [self.of, *self.metrics]:
            numbers = lambda r: [r.outputs[name]] + ([r.grads[p] for p in self.trained] if name == self.of else [])
            whole, a, b = map(numbers, runs)
            mean = all(_close(w, (half * x + (count - half) * y) / count) for w, x, y in zip(whole, a, b))
            total = all(_close(w, x + y) for w, x, y in zip(whole, a, b))
            if not (mean or total):
                if name == self.of:
                    raise TrainingError(f"the loss '{self.of}' is neither a mean nor a sum over the samples, "
                                        f"so it cannot be assembled from the pieces of the data on the "
                                        f"workers: train in memory (without client)", None)
                mean = True  # a metric such as a max: reported as the mean of the pieces'
            kinds.append(mean)
        return kinds


@contextlib.contextmanager
def _nothing():
    yield


def _close(a, b) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)), 1e-300)
    return bool(np.all(np.abs(a - b) <= MIN_AGREE * scale))


def _piece(program, of: str, blocks: dict, local, start: int, fixed: dict, params: dict,
           trained: list, metrics: list) -> tuple:
    """On a worker: forward and backward on one piece of a batch (``local`` rows of the
    chunk, or all of it); a non-finite sample is named, not trained on."""
    samples = {name: np.asarray(block) if local is None else np.asarray(block)[local]
               for name, block in blocks.items()}
    for name, values in samples.items():
        flat = values.reshape(len(values), -1)
        bad = ~np.isfinite(flat).all(axis=1)
        if bad.any():
            at = int(np.argmax(bad))
            return "bad", name, start + (at if local is None else int(local[at])), flat[at][~np.isfinite(flat[at])][0]
    result = program.run({**samples, **fixed, **params}, of=of)
    return ("ok", len(next(iter(samples.values()))), result.outputs[of],
            {name: result.grads[name] for name in trained}, [result.outputs[m] for m in metrics])


def dask_columns(program, data) -> dict:
    """Input name -> dask array with one row per sample, from a dict of dask arrays or a
    dask DataFrame (a column per input, or ``X[0]``, ``X[1]``... for the columns of a matrix)."""
    import dask.array as da

    if hasattr(data, "columns") and hasattr(data, "to_dask_array"):
        whole = data.astype("float64").to_dask_array(lengths=True)  # one pass for the lengths
        groups: dict = {}
        for i, column in enumerate(data.columns):
            # (x[0], x[1]... or, as pandas reads a CSV header X,X: X, X.1)
            groups.setdefault(re.match(r"[^\[.]*", str(column)).group(), []).append((i, column))
        return {name: whole[:, columns[0][0]] if len(columns) == 1 and columns[0][1] == name
                else whole[:, [i for i, _ in columns]] for name, columns in groups.items()}
    if not hasattr(data, "items") or not data:
        raise DataError("fit needs data: a dict of input name -> array with one row per sample")
    return {name: value if type(value).__module__.startswith("dask") else da.from_array(np.asarray(value))
            for name, value in data.items()}

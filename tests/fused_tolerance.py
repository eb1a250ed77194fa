"""How close the fused loop (the jit extra) must come to the interpreter: 1e-13 relative,
and where a few ulps of exp, tanh... (libmvec, BENCHMARKS.md issue 16) are cancelled by a
later step, 1e-13 of the largest finite value or gradient of any node at that element
(of their sum over the elements for a scalar's gradient, itself a sum). Non-finite
results must be the same (NaN where NaN, inf of the same sign)."""
import numpy as np

from graphdsl.run import interpret
from graphdsl.run.bindings import bind
from graphdsl.run.export import pack


def used_fused(prog, of) -> bool:
    return any(type(k).__name__ == "Fused" for k in prog._runner.entry(of).kernel.arrays.values())


def assert_fused_close(prog, result, bindings, of, rtol=1e-13):
    sched = prog.schedule
    with np.errstate(all="ignore"):
        nodes = interpret.forward(sched, bind(sched.leaves, bindings))
        node_grads = interpret.backward(sched, of, nodes)
    outputs, grads = pack(sched, nodes, node_grads)
    shape = next(np.shape(v) for v in bindings.values() if np.ndim(v))
    scale = np.zeros(shape)
    with np.errstate(all="ignore"):
        for value in nodes + [g for g in node_grads if g is not None]:
            magnitude = np.abs(np.broadcast_to(value, shape))
            scale = np.maximum(scale, np.where(np.isfinite(magnitude), magnitude, 0.0))
    pairs = [(result.outputs[n], outputs[n], scale) for n in outputs]
    pairs += [(result.grads[n], grads[n], scale if np.ndim(bindings[n]) else np.sum(scale)) for n in grads]
    for got, want, floor in pairs:
        assert type(got) is type(want) and np.shape(got) == np.shape(want)
        got, want = np.asarray(got), np.asarray(want)
        finite = np.isfinite(want)
        np.testing.assert_array_equal(np.where(finite, 0.0, got), np.where(finite, 0.0, want))
        with np.errstate(all="ignore"):
            error = np.where(finite, np.abs(got - want) - rtol * (np.abs(want) + floor), 0.0)
        assert np.all(error <= 0.0), float(np.nanmax(error))

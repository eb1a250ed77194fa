"""The contenders: graphdsl, the floor, and each installed peer, as ``make(workload) -> call``
where ``call()`` runs forward and backward once and returns ``(value, grads)``.

Each peer rebuilds the workload's expression with its own operations through a small
vocabulary (``add sub mul const sigmoid tanh sin matmul sum pow2``); a peer without an
operation the workload needs is not run on it ("–"). micrograd has no exp, tanh or
sin: they are added here in micrograd's own style (a Value with a _backward closure).
"""
from __future__ import annotations

import math
import operator
import os

import numpy as np

import graphdsl


class _Ops:
    add, sub, mul = operator.add, operator.sub, operator.mul

    @staticmethod
    def const(c):
        return c

    @staticmethod
    def pow2(y):
        return y ** 2


# ---------------------------------------------------------------- graphdsl and the floor
def make_graphdsl(w):
    prog = graphdsl.loads(w.text)
    output, inputs = w.output, dict(w.inputs)
    assert list(prog.inputs + prog.params) == list(inputs)  # grads come in this order

    def call():
        res = prog.run(**inputs)
        return res.outputs[output], res.grads
    return call


def make_function(w):
    """Program.function (issue 16): positional floats or arrays in, tuples out, as the floor."""
    prog = graphdsl.loads(w.text)
    f, values = prog.function(of=w.output), tuple(w.inputs.values())
    k = prog.outputs.index(w.output)
    return lambda: (lambda outs, grads: (outs[k], grads))(*f(*values))


def make_numpy_path(w):
    """run with the fused numba loops off (GRAPHDSL_JIT=0): the numpy code of issue 11."""
    if w.kind != "array":
        return None
    old = os.environ.get("GRAPHDSL_JIT")
    os.environ["GRAPHDSL_JIT"] = "0"  # read when run first meets these shapes
    try:
        call = make_graphdsl(w)
        call()
    finally:
        os.environ.pop("GRAPHDSL_JIT") if old is None else os.environ.__setitem__("GRAPHDSL_JIT", old)
    return call


OURS = {"graphdsl fn": make_function, "graphdsl numpy": make_numpy_path}


def make_floor(w):
    floor, inputs = w.floor, dict(w.inputs)
    return lambda: floor(**inputs)


# ---------------------------------------------------------------- micrograd
def make_micrograd(w):
    if w.kind != "scalar":
        return None
    from micrograd.engine import Value

    def unary(f, df):
        def op(v):
            out = Value(f(v.data), (v,), f.__name__)

            def _backward():
                v.grad += df(v.data, out.data) * out.grad
            out._backward = _backward
            return out
        return op

    class L(_Ops):
        sigmoid = staticmethod(unary(lambda x: 1 / (1 + math.exp(-x)) if x >= 0 else
                                     math.exp(x) / (1 + math.exp(x)), lambda x, y: y * (1 - y)))
        tanh = staticmethod(unary(math.tanh, lambda x, y: 1 - y * y))
        sin = staticmethod(unary(math.sin, lambda x, y: math.cos(x)))

    values = tuple(w.inputs.values())

    def call():
        leaves = [Value(v) for v in values]
        out = w.build(L, *leaves)
        out.backward()
        return out.data, tuple(v.grad for v in leaves)
    return call


# ---------------------------------------------------------------- PyTorch
def _torch_ops():
    import torch

    class L(_Ops):
        sigmoid, tanh, sin, matmul, sum = torch.sigmoid, torch.tanh, torch.sin, torch.matmul, torch.sum
    return torch, L


def _torch_call(w, fn):
    torch, _ = _torch_ops()
    values = [torch.tensor(v, dtype=torch.float64) if np.ndim(v) == 0 else torch.from_numpy(v)
              for v in w.inputs.values()]

    def call():
        leaves = [v.detach().requires_grad_() for v in values]
        out = fn(*leaves)
        out.backward(torch.ones_like(out))
        grads = tuple(l.grad.item() if l.grad.ndim == 0 else l.grad.numpy() for l in leaves)
        return (out.item() if out.ndim == 0 else out.detach().numpy()), grads
    return call


def make_torch(w):
    torch, L = _torch_ops()
    return _torch_call(w, lambda *xs: w.build(L, *xs))


def make_torch_compile(w):
    torch, L = _torch_ops()
    return _torch_call(w, torch.compile(lambda *xs: w.build(L, *xs)))


# ---------------------------------------------------------------- JAX
def make_jax(w):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    class L(_Ops):
        sigmoid, tanh, sin, matmul, sum = jax.nn.sigmoid, jnp.tanh, jnp.sin, jnp.matmul, jnp.sum

    def f(*xs):
        out = w.build(L, *xs)
        return jnp.sum(out), out
    step = jax.jit(jax.value_and_grad(f, argnums=tuple(range(len(w.inputs))), has_aux=True))
    values = [jnp.asarray(v) for v in w.inputs.values()]

    def call():
        (_, out), grads = step(*values)
        out = jax.block_until_ready(out)
        return np.asarray(out) if out.ndim else float(out), tuple(
            float(g) if g.ndim == 0 else np.asarray(g) for g in grads)
    return call


# ---------------------------------------------------------------- HIPS autograd
def make_autograd(w):
    import autograd
    import autograd.numpy as anp

    class L(_Ops):
        sin, tanh, matmul, sum = anp.sin, anp.tanh, anp.matmul, anp.sum

        @staticmethod
        def sigmoid(z):
            return 0.5 * (anp.tanh(z / 2) + 1)

    values = tuple(w.inputs.values())
    step = autograd.value_and_grad(lambda xs: anp.sum(w.build(L, *xs)))

    def call():
        value, grads = step(values)
        return value, tuple(grads)
    return call


# ---------------------------------------------------------------- PyTensor
def make_pytensor(w):
    import pytensor
    import pytensor.tensor as pt

    class L(_Ops):
        sigmoid, tanh, sin, matmul, sum = pt.sigmoid, pt.tanh, pt.sin, pt.dot, pt.sum

    kinds = {0: pt.dscalar, 1: pt.dvector, 2: pt.dmatrix}
    leaves = [kinds[np.ndim(v)](name) for name, v in w.inputs.items()]
    out = w.build(L, *leaves)
    cost = out.sum() if out.ndim else out
    fn = pytensor.function(leaves, [out] + pytensor.grad(cost, leaves))
    values = tuple(w.inputs.values())

    def call():
        out, *grads = fn(*values)
        return (float(out) if np.ndim(out) == 0 else out), tuple(
            float(g) if np.ndim(g) == 0 else g for g in grads)
    return call


PEERS = {"micrograd": make_micrograd, "PyTorch eager": make_torch, "torch.compile": make_torch_compile,
         "JAX jit": make_jax, "autograd": make_autograd, "PyTensor": make_pytensor}
# Peers whose build may run for minutes (compilers): probed in a subprocess first.
RISKY = {"torch.compile", "JAX jit", "PyTensor"}

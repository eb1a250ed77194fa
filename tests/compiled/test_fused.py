"""The fused numba loops: the numpy path's numbers (to 1e-13; exp and the like may differ
by an ulp, sums by their order), used where they apply and only there."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphdsl
from graphdsl.compiled import fused
from optional import needs_numba

pytestmark = needs_numba
NEURON = "input x0, x1, w0, w1, b\noutput n = sigmoid(w0*x0 + w1*x1 + b)\n"


@pytest.fixture(autouse=True, scope="module")
def own_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHDSL_CACHE", str(tmp_path_factory.mktemp("jit-cache")))
        yield


def kinds(prog, of=None) -> set:
    name = prog._runner.output(of)
    return {type(k).__name__ for k in prog._runner.entry(name).kernel.arrays.values()}


def both(text, of=None, **values):
    """run with the JIT forced on and off: the two results, and the kinds of code used."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHDSL_JIT", "always")
        on = graphdsl.loads(text)
        jit = on.run(of=of, **values)
        mp.setenv("GRAPHDSL_JIT", "0")
        off = graphdsl.loads(text)
        plain = off.run(of=of, **values)
    return jit, plain, kinds(on, of), kinds(off, of)


def assert_close(jit, plain, values):
    """To 1e-13, with an absolute 1e-14 where a result of a transcendental function that
    differs by an ulp (glibc's libmvec gives 4 ulp at most) is cancelled (1 + cos(x) by
    x near pi); a scalar's gradient is a sum over the elements: to 1e-13 of what it sums."""
    for name in plain.outputs:
        np.testing.assert_allclose(jit.outputs[name], plain.outputs[name], rtol=1e-13, atol=1e-14)
    for name, want in plain.grads.items():
        got = jit.grads[name]
        assert type(got) is type(want) and np.shape(got) == np.shape(want)
        scale = 1e-13 * max(np.sum(np.abs(want)), 1e-300) if np.ndim(values[name]) == 0 else 1e-14
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=scale)


def test_w5_neuron_is_one_loop_with_numpys_numbers():
    rng = np.random.default_rng(5)
    values = {"x0": rng.normal(size=100_000), "x1": rng.normal(size=100_000), "w0": 2.0, "w1": -3.0, "b": -3.0}
    jit, plain, on, off = both(NEURON, **values)
    assert on == {"Fused"} and off == {"function"}
    assert_close(jit, plain, values)
    # the reductions: numpy's pairwise sums, to 1e-15 here (Kahan over blocks)
    np.testing.assert_allclose(jit.grads["b"], plain.grads["b"], rtol=1e-15)


def test_program_function_uses_the_fused_loop(monkeypatch):
    monkeypatch.setenv("GRAPHDSL_JIT", "always")
    prog = graphdsl.loads(NEURON)
    x = np.linspace(-40.0, 40.0, 101).reshape(101)
    f = prog.function()
    first = f(x, x[::-1].copy(), 2.0, -3.0, 0.5)
    second = f(x, x[::-1].copy(), 2.0, -3.0, 0.5)
    assert {type(k).__name__ for k in f.__globals__["KERNELS"].values()} == {"Fused"}
    res = prog.run(x0=x, x1=x[::-1].copy(), w0=2.0, w1=-3.0, b=0.5)
    for got in (first, second):
        assert np.array_equal(got[0][0], res.outputs["n"])
        for value, name in zip(got[1], ["x0", "x1", "w0", "w1", "b"]):
            assert np.array_equal(value, res.grads[name])


UNARY = ["sin({a})", "cos({a})", "tanh({a})", "sigmoid({a})", "exp(tanh({a}))", "log(1 + square({a}))",
         "sqrt(1 + {a} * {a})", "-{a}", "{a} ** 2", "relu({a})", "abs({a})", "max({a}, 0.5)", "{a} / 3"]
BINARY = ["{a} + {b}", "{a} - {b}", "{a} * {b}", "{a} / (1 + {b} ** 2)", "{a} * sin({b}) + {b}",
          "(1 + {a} ** 2) ** tanh({b})", "where({a} > {b}, {a}, {b} * 2)"]


@st.composite
def graphs(draw):
    """Elementwise graphs over 1 to 3 leaves, scalars or arrays of one shape, array outputs."""
    n = draw(st.integers(1, 3))
    shape = draw(st.sampled_from([(7,), (3, 4), (600,)]))
    arrays = [draw(st.booleans()) for _ in range(n)]
    arrays[0] = True
    names = [f"x{i}" for i in range(n)]
    lines = [f"input {', '.join(names)}"]
    nodes = list(names)
    for k in range(draw(st.integers(1, 7))):
        a = draw(st.sampled_from(nodes))
        if draw(st.booleans()):
            expr = draw(st.sampled_from(UNARY)).format(a=a)
        else:
            expr = draw(st.sampled_from(BINARY)).format(a=a, b=draw(st.sampled_from(nodes)))
        nodes.append(f"n{k}")
        lines.append(f"n{k} = {expr}")
    lines.append(f"output f = {nodes[-1]} + x0")
    lines.append(f"output h = {draw(st.sampled_from(nodes))} * x0")
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    values = {name: rng.normal(size=shape) if is_array else float(rng.normal())
              for name, is_array in zip(names, arrays)}
    return "\n".join(lines), values, draw(st.sampled_from(["f", "h"]))


@settings(max_examples=20, deadline=None)
@given(graphs())
def test_random_elementwise_graphs_give_numpys_numbers(case):
    text, values, of = case
    jit, plain, on, _ = both(text, of=of, **values)
    assert on == {"Fused"}, text
    assert_close(jit, plain, values)


def test_ieee_results_where_python_would_raise():
    values = {"x": np.array([0.0, -1.0, 1.0, np.inf, np.nan]), "y": 0.0}
    jit, plain, on, _ = both("input x, y\noutput f = log(x) + x / y + sqrt(x)", **values)
    assert on == {"Fused"}
    assert np.array_equal(jit.outputs["f"], plain.outputs["f"], equal_nan=True)
    assert np.array_equal(jit.grads["x"], plain.grads["x"], equal_nan=True)
    assert np.array_equal(jit.grads["y"], plain.grads["y"], equal_nan=True)


def test_used_above_the_threshold_only_and_never_when_off(monkeypatch):
    monkeypatch.delenv("GRAPHDSL_JIT", raising=False)
    prog = graphdsl.loads(NEURON)
    small, large = np.ones(fused.MIN_SIZE - 1), np.ones(fused.MIN_SIZE)
    prog.run(x0=small, x1=small, w0=1.0, w1=1.0, b=1.0)
    assert kinds(prog) == {"function"}
    prog.run(x0=large, x1=large, w0=1.0, w1=1.0, b=1.0)
    assert kinds(prog) == {"function", "Fused"}
    monkeypatch.setenv("GRAPHDSL_JIT", "0")
    off = graphdsl.loads(NEURON)
    off.run(x0=large, x1=large, w0=1.0, w1=1.0, b=1.0)
    assert kinds(off) == {"function"}


def test_graphs_it_does_not_cover_stay_numpy(monkeypatch):
    monkeypatch.setenv("GRAPHDSL_JIT", "always")
    x = np.arange(6.0)
    for text in ["input x\noutput s = sum(sin(x))",  # a reduction in the forward pass
                 "input x, m: [2, 3]\noutput f = m * sin(x[:3])",  # indexing
                 "input x, y\noutput f = x * y"]:  # broadcasting between two shapes
        prog = graphdsl.loads(text)
        values = {"x": x, "m": np.ones((2, 3)), "y": np.ones((6, 1))}
        prog.run(**{k: values[k] for k in prog.inputs})
        assert kinds(prog) == {"function"}, text


def test_a_second_process_loads_the_compiled_loop_from_disk(tmp_path):
    code = ("import numpy as np, graphdsl\n"
            f"p = graphdsl.loads({NEURON!r})\n"
            "p.run(x0=np.ones(5), x1=np.ones(5), w0=1.0, w1=2.0, b=3.0)\n"
            "k, = p._runner.entry('n').kernel.arrays.values()\n"
            "print(type(k).__name__, len(k.function.stats.cache_hits), len(k.function.stats.cache_misses))\n")
    env = dict(os.environ, GRAPHDSL_JIT="always", GRAPHDSL_CACHE=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
            for _ in range(2)]
    assert [r.stdout.split() for r in runs] == [["Fused", "0", "1"], ["Fused", "1", "0"]], runs
    assert len(list((tmp_path / "jit").glob("graphdsl_jit_*.py"))) == 1


def test_without_numba_nothing_changes_and_nothing_imports_it(monkeypatch):
    monkeypatch.setattr(fused, "_NUMBA", [None])
    monkeypatch.setenv("GRAPHDSL_JIT", "always")
    prog = graphdsl.loads(NEURON)
    prog.run(x0=np.ones(5), x1=np.ones(5), w0=1.0, w1=2.0, b=3.0)
    assert kinds(prog) == {"function"}
    code = ("import sys, numpy as np, graphdsl\n"
            f"p = graphdsl.loads({NEURON!r})\n"
            "p.run(x0=np.ones(5), x1=np.ones(5), w0=1.0, w1=2.0, b=3.0)\n"
            "print('numba' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != "GRAPHDSL_JIT"})
    assert out.stdout.strip() == "False", out.stderr


def test_without_the_vector_library_the_numbers_are_the_same(tmp_path):
    code = ("import numpy as np, graphdsl\n"
            "from graphdsl.compiled import fused\n"
            f"p = graphdsl.loads({NEURON!r})\n"
            "x = np.linspace(-30, 30, 2001)\n"
            "r = p.run(x0=x, x1=x[::-1].copy(), w0=1.5, w1=2.0, b=-0.5)\n"
            "k, = p._runner.entry('n').kernel.arrays.values()\n"
            "print(type(k).__name__, fused._VECTOR_LIBRARY, repr(r.grads['b']), repr(float(r.outputs['n'][7])))\n")
    outs = []
    for veclib in ("0", "1"):
        env = dict(os.environ, GRAPHDSL_JIT="always", GRAPHDSL_CACHE=str(tmp_path), GRAPHDSL_JIT_VECLIB=veclib)
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        outs.append(run.stdout.split())
    assert outs[0][:2] == ["Fused", "['']"] and outs[1][0] == "Fused", outs
    for a, b in zip(outs[0][2:], outs[1][2:]):
        assert abs(float(a) - float(b)) <= 1e-14 * abs(float(b))


def test_the_vector_library_is_set_by_the_first_fused_loop_only(tmp_path):
    """LLVM's vector-library option is the process's: importing graphdsl and numba, and a
    graph the loop does not run, leave it (and libmvec) alone; the first loop sets it."""
    code = ("import sys, numpy as np, graphdsl, numba\n"
            "from graphdsl.compiled import fused\n"
            "def mapped(): return 'libmvec' in open('/proc/self/maps').read()\n"
            "graphdsl.loads('input x\\noutput s = sum(exp(x))').run(x=np.ones(fused.MIN_SIZE))\n"
            "fused.numba()\n"
            "print(fused._VECTOR_LIBRARY, mapped())\n"
            f"graphdsl.loads({NEURON!r}).run(x0=np.ones(5), x1=np.ones(5), w0=1.0, w1=2.0, b=3.0)\n"
            "print(fused._VECTOR_LIBRARY, mapped())\n")
    env = dict(os.environ, GRAPHDSL_JIT="always", GRAPHDSL_CACHE=str(tmp_path))
    env.pop("GRAPHDSL_JIT_VECLIB", None)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    before, after = run.stdout.splitlines()
    assert before == "[] False", run.stderr
    assert after in ("['libmvec'] True", "[''] False"), run.stdout  # (no libmvec: a scalar loop)

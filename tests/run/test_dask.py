"""run_batch on dask-array bindings (run/dask.py), on a real two-process LocalCluster:
the same numbers as numpy bindings, chunk by chunk; data larger than a worker's memory."""
import os
import subprocess
import sys

import numpy as np
import pytest

import graphdsl
from graphdsl.errors import BindingError

da = pytest.importorskip("dask.array", reason="needs graphdsl[dask] (dask[array])")

NEURON = graphdsl.loads("input x0, x1\nparam w0 = 2, w1 = -3, b = -3\noutput n = sigmoid(w0*x0 + w1*x1 + b)\n")
MATRIX = graphdsl.loads("input x: [3]\ninput W: [2, 3]\noutput f = tanh(W @ x)\noutput s = sum(f)\n")


def test_neuron_equals_numpy_chunk_by_chunk(dask_client):
    rng = np.random.default_rng(0)
    x0, x1 = rng.normal(size=1000), rng.normal(size=1000)
    lazy = NEURON.run_batch(x0=da.from_array(x0, chunks=300), x1=da.from_array(x1, chunks=300), w1=-2.5)
    eager = NEURON.run_batch(x0=x0, x1=x1, w1=-2.5)
    assert lazy.rows == 1000 and lazy.of == "n"
    assert set(lazy.outputs) == set(eager.outputs) and set(lazy.grads) == set(eager.grads)
    got = dask_client.compute({**{f"o{k}": v for k, v in lazy.outputs.items()},
                               **{f"g{k}": v for k, v in lazy.grads.items()}}, sync=True)
    for name, value in eager.outputs.items():
        assert lazy.outputs[name].chunks == ((300, 300, 300, 100),)
        np.testing.assert_array_equal(got[f"o{name}"], value)
    for name, value in eager.grads.items():
        assert lazy.grads[name].chunks == ((300, 300, 300, 100),)
        np.testing.assert_array_equal(got[f"g{name}"], value)


def test_matrix_rows_shared_values_and_mixed_chunks(dask_client):
    rng = np.random.default_rng(1)
    x, W = rng.normal(size=(50, 3)), rng.normal(size=(2, 3))
    # x chunked (20, 30) and its columns split; W shared by every row (its declared rank)
    lazy = MATRIX.run_batch(x=da.from_array(x, chunks=(20, 2)), W=W, of="s")
    eager = MATRIX.run_batch(x=x, W=W, of="s")
    assert lazy.grads["W"].shape == (50, 2, 3) and lazy.grads["W"].chunks[0] == (20, 20, 10)
    # to the matrix product's rounding: the workers' BLAS runs one thread (Dask sets
    # OMP_NUM_THREADS=1 there), which sums in another order than this process's
    for name in ("W", "x"):
        np.testing.assert_allclose(lazy.grads[name].compute(), eager.grads[name], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(lazy.outputs["f"].compute(), eager.outputs["f"], rtol=1e-13, atol=1e-15)
    # a second batched binding chunked otherwise is rechunked to the first's
    x0 = da.from_array(rng.normal(size=40), chunks=10)
    x1 = da.from_array(rng.normal(size=40), chunks=25)
    mixed = NEURON.run_batch(x0=x0, x1=x1)
    assert mixed.outputs["n"].chunks == ((10, 10, 10, 10),)
    np.testing.assert_array_equal(mixed.grads["x1"].compute(),
                                  NEURON.run_batch(x0=x0.compute(), x1=x1.compute()).grads["x1"])
    # a numpy binding with the batch axis among dask ones goes along, chunked as them
    half = NEURON.run_batch(x0=x0, x1=x1.compute())
    assert half.outputs["n"].chunks == ((10, 10, 10, 10),)
    np.testing.assert_array_equal(half.outputs["n"].compute(), mixed.outputs["n"].compute())


def test_binding_errors():
    with pytest.raises(BindingError, match="one leading length"):
        NEURON.run_batch(x0=da.ones(10, chunks=5), x1=da.ones(11, chunks=5))
    with pytest.raises(BindingError, match="unknown length"):
        x = da.ones(10, chunks=5)
        NEURON.run_batch(x0=x[x > 0], x1=x)
    with pytest.raises(BindingError, match="declared with shape"):
        MATRIX.run_batch(x=da.ones((4, 5, 3), chunks=2), W=np.ones((2, 3)))
    with pytest.raises(BindingError, match="no input or param 'z'|'z'"):
        NEURON.run_batch(x0=da.ones(4, chunks=2), z=1.0)


def test_larger_than_a_workers_memory(small_dask_client):
    """768 MB of lazily drawn rows on two workers of 300 MB each (more than both hold): chunk
    by chunk, none killed."""
    before = set(small_dask_client.scheduler_info()["workers"])
    n, chunk = 48_000_000, 500_000
    x0 = da.random.RandomState(1).random_sample(size=n, chunks=chunk)
    x1 = da.random.RandomState(2).random_sample(size=n, chunks=chunk)
    assert x0.nbytes + x1.nbytes > 2.5 * 300e6
    batch = NEURON.run_batch(x0=x0, x1=x1)
    z = 2 * x0 - 3 * x1 - 3  # the same numbers written in dask's own operations
    s = 1 / (1 + da.exp(-z))
    # (one computation: each chunk of x0 and x1 is drawn once for both)
    total, grad, expected, expected_grad = small_dask_client.compute(
        [batch.outputs["n"].sum(), batch.grads["w0"].sum(), s.sum(), (x0 * s * (1 - s)).sum()], sync=True)
    assert total == pytest.approx(expected, rel=1e-12)
    assert grad == pytest.approx(expected_grad, rel=1e-12)
    assert set(small_dask_client.scheduler_info()["workers"]) == before  # no worker was restarted


def test_program_travels_pickled_once_per_worker(small_dask_client):
    x = da.from_array(np.linspace(-1, 1, 64), chunks=8)
    keys = [k for k in dict(NEURON.run_batch(x0=x, x1=x).outputs["n"].__dask_graph__())
            if str(k).startswith("graphdsl-program-")]
    assert len(keys) == 1  # one key: Dask sends it to each worker once, for all 8 chunks
    first = NEURON.run_batch(x0=x, x1=x).outputs["n"]
    again = NEURON.with_params({"b": 0.5}).run_batch(x0=x, x1=x).outputs["n"]
    assert first.name != again.name  # another model, other keys (Dask would reuse equal ones)
    both = da.compute(first, again)
    assert both[0][0] == pytest.approx(1 / (1 + np.exp(-(2 * -1 - 3 * -1 - 3))), rel=1e-15)
    assert both[1][0] == pytest.approx(1 / (1 + np.exp(-(2 * -1 - 3 * -1 + 0.5))), rel=1e-15)


def test_nothing_non_dask_imports_dask(tmp_path):
    """Loading, running, batches, training and the CLI never import dask without a dask binding."""
    script = (
        "import sys, numpy as np, graphdsl\n"
        "from graphdsl.cli.graphrun import main\n"
        "p = graphdsl.loads('input x, y\\nparam w = 0\\noutput loss = mean(square(w * x - y))')\n"
        "p.run(x=[1.0, 2.0], y=[2.0, 4.0]); p.run_batch(x=np.ones((3, 2)), y=np.ones((3, 2)))\n"
        "p.fit({'x': [1.0, 2.0], 'y': [2.0, 4.0]}, epochs=2)\n"
        "main(['examples/mul_add.graph', '--inputs', 'x=1,y=2,z=3'])\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'pyarrow', 'pandas')]\n"
        "print('imported:', bad)\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "imported: []"

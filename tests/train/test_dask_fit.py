"""fit(data, client=...) on dask arrays and DataFrames (train/dask.py): the same params as
in-memory training for the same sample order; data larger than the workers' memory."""
import numpy as np
import pytest

import graphdsl
from graphdsl.errors import DataError, TrainingError

da = pytest.importorskip("dask.array", reason="needs graphdsl[dask] (dask[array])")

LINEAR = graphdsl.loads("input x, y\nparam w = 0.5, b = 0\noutput loss = mean(square(w * x + b - y))\n"
                        "output gap = mean(abs(w * x + b - y))\n")
SUMMED = graphdsl.loads("input x, y\nparam w = 0.5, b = 0\noutput loss = sum(square(w * x + b - y))\n")
SOFTMAX = graphdsl.loads("input X: [n, 3]\ninput labels: [n]\nparam W: [3, 2] ~ normal(0, 0.5)\n"
                         "param c: [2] = [0, 0]\nparam reg = 0.01\n"
                         "output loss = mean(softmax_cross_entropy(X @ W + c, labels)) + reg * sum(square(W))\n")


def _data(n=500, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return x, 3 * x + 1 + 0.1 * rng.normal(size=n)


def _same(a, b, rel=1e-9):
    for name in a.params:
        np.testing.assert_allclose(b.params[name], a.params[name], rtol=rel, atol=0)
    np.testing.assert_allclose(b.losses, a.losses, rtol=rel, atol=0)
    for name in a.metrics:
        np.testing.assert_allclose(b.metrics[name], a.metrics[name], rtol=rel, atol=0)


@pytest.mark.parametrize("optimizer, batch_size", [("sgd", None), ("adam", 100), ("momentum", 128)])
def test_params_equal_in_memory_training(dask_client, optimizer, batch_size):
    x, y = _data()
    settings = dict(epochs=3, batch_size=batch_size, lr=0.05, optimizer=optimizer, seed=7)
    eager = LINEAR.fit({"x": x, "y": y}, **settings)
    lazy = LINEAR.fit({"x": da.from_array(x, chunks=120), "y": da.from_array(y, chunks=90)},
                      client=dask_client, **settings)
    assert list(lazy.metrics) == ["gap"] and len(lazy.losses) == 3
    _same(eager, lazy)
    assert lazy.losses[-1] < 0.7 * lazy.losses[0]  # it did train


def test_a_sum_loss_and_a_matrix_model(dask_client):
    x, y = _data(300, 1)
    eager = SUMMED.fit({"x": x, "y": y}, epochs=2, batch_size=100, lr=0.001, seed=3)
    lazy = SUMMED.fit({"x": da.from_array(x, chunks=70), "y": da.from_array(y, chunks=70)},
                      epochs=2, batch_size=100, lr=0.001, seed=3, client=dask_client)
    _same(eager, lazy)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(240, 3))
    labels = (X[:, 0] + X[:, 1] > 0).astype(float)
    eager = SOFTMAX.fit({"X": X, "labels": labels}, epochs=2, batch_size=80, lr=0.1, seed=1)
    lazy = SOFTMAX.fit({"X": da.from_array(X, chunks=(50, 3)), "labels": da.from_array(labels, chunks=50)},
                       epochs=2, batch_size=80, lr=0.1, seed=1, client=dask_client)
    _same(eager, lazy)


def test_a_dask_dataframe(dask_client):
    dd = pytest.importorskip("dask.dataframe", reason="needs graphdsl[dask] (dask[dataframe])")
    pandas = pytest.importorskip("pandas")
    x, y = _data(200, 4)
    frame = dd.from_pandas(pandas.DataFrame({"x": x, "y": y}), npartitions=3)
    eager = LINEAR.fit({"x": x, "y": y}, epochs=2, batch_size=30, lr=0.05, seed=2)
    _same(eager, LINEAR.fit(frame, epochs=2, batch_size=30, lr=0.05, seed=2, client=dask_client))


def test_bad_samples_and_losses_that_cannot_be_split(dask_client):
    x, y = _data(100, 5)
    x[57] = np.nan
    with pytest.raises(DataError, match="input 'x' holds nan at sample 57") as caught:
        LINEAR.fit({"x": da.from_array(x, chunks=30), "y": da.from_array(y, chunks=30)}, client=dask_client)
    assert caught.value.row == 57
    squared = graphdsl.loads("input x\nparam w = 1\noutput loss = square(mean(w * x))\n")
    with pytest.raises(TrainingError, match="neither a mean nor a sum"):
        squared.fit({"x": da.from_array(y, chunks=30)}, client=dask_client)


def test_larger_than_the_workers_memory(small_dask_client):
    """One full-batch step on 768 MB drawn lazily (two workers of 300 MB): the gradient
    assembled from 96 pieces is the one dask's own reductions give."""
    before = set(small_dask_client.scheduler_info()["workers"])
    n, chunk = 48_000_000, 500_000
    x = da.random.RandomState(3).random_sample(size=n, chunks=chunk)
    y = da.random.RandomState(4).random_sample(size=n, chunks=chunk)
    model = graphdsl.loads("input x, y\nparam w = 0.5, b = 0\noutput loss = mean(square(w * x + b - y))\n")
    history = model.fit({"x": x, "y": y}, epochs=1, lr=0.1, client=small_dask_client)
    r = 0.5 * x - y
    loss, dw, db = small_dask_client.compute([(r * r).mean(), (2 * r * x).mean(), (2 * r).mean()], sync=True)
    assert history.losses[0] == pytest.approx(loss, rel=1e-9)
    assert history.params["w"] == pytest.approx(0.5 - 0.1 * dw, rel=1e-9)
    assert history.params["b"] == pytest.approx(-0.1 * db, rel=1e-9)
    assert set(small_dask_client.scheduler_info()["workers"]) == before  # no worker was restarted

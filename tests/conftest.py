"""Hypothesis runs the same examples on every run by default, so that a CI run is
repeatable; HYPOTHESIS_PROFILE=explore draws fresh ones (and prints the seed of any
failure, to replay with --hypothesis-seed)."""
import os

import pytest
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium (a fresh profile) for every browser test of the session; the
    tests that use it are marked ``browser.needs_browser`` (they skip without one)."""
    from browser import launched

    with launched() as context:
        yield context


def _cluster(memory_limit: str):
    distributed = pytest.importorskip("distributed", reason="needs graphdsl[dask] (distributed)")
    pytest.importorskip("dask.array", reason="needs graphdsl[dask] (dask[array])")
    pytest.importorskip("pyarrow", reason="needs graphdsl[dask] (pyarrow)")
    return distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                    memory_limit=memory_limit, dashboard_address=":0"), distributed.Client


@pytest.fixture(scope="session")
def dask_client():
    """One Dask LocalCluster for the Dask tests of the session: two worker processes of one
    thread and 400 MB each (a worker that has read Parquet holds ~180 MB of its own); they
    skip, saying why, without graphdsl's dask extra."""
    cluster, client = _cluster("400MB")
    with cluster, client(cluster) as connected:
        yield connected


@pytest.fixture(scope="session")
def small_dask_client():
    """Two workers of 300 MB each, for the tests of data larger than the workers' memory
    (numpy only on the workers: no pandas nor pyarrow, which would fill them by themselves;
    numba, for the fused loop, takes ~120 MB of a worker's own)."""
    cluster, client = _cluster("300MB")
    with cluster, client(cluster) as connected:
        yield connected

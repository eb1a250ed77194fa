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


@pytest.fixture(scope="session")
def dask_client():
    """One Dask LocalCluster for every Dask test of the session: two worker processes of one
    thread and 250 MB each (so that a dataset of 512 MB is larger than both
    workers' memory together); they skip, saying why, without graphdsl's dask extra."""
    distributed = pytest.importorskip("distributed", reason="needs graphdsl[dask] (distributed)")
    pytest.importorskip("dask.array", reason="needs graphdsl[dask] (dask[array])")
    pytest.importorskip("pyarrow", reason="needs graphdsl[dask] (pyarrow)")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, memory_limit="250MB",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client

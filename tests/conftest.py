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

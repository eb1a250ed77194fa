"""run/quiet.py enters numpy's "ignore every floating-point warning" state through numpy's
private context variable, ten times cheaper than np.errstate. It is kept only while it
still holds what errstate sets: this fails when a numpy release changes that."""
from __future__ import annotations

import warnings

import numpy as np

from graphdsl.run.quiet import QUIET, RESTORE


def test_quiet_is_errstate_ignore_and_restores_the_callers_state():
    with np.errstate(all="warn"):
        before = np.geterr()
        token = QUIET()
        try:
            assert np.geterr() == {"divide": "ignore", "over": "ignore", "under": "ignore", "invalid": "ignore"}
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                assert np.divide(np.ones(2), 0.0)[0] == np.inf and np.isnan(np.sqrt(-np.ones(1))[0])
        finally:
            RESTORE(token)
        assert np.geterr() == before

"""gates/indexing.py and reshape: what the index takes, where its gradient goes back to,
the shapes it infers and the problems it names; onehot's class ids. (Forward and both AD
modes against numpy and central differences: test_gates.py's INDEXING table.)"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from graphdsl.gates import GATES
from graphdsl.gates.indexing import key, subscript

INDEX, SCATTER, ONEHOT, RESHAPE = GATES["index"], GATES["scatter_like"], GATES["onehot"], GATES["reshape"]
ITEMS = [0, 1, -1, -3, (None, None, None), (1, None, None), (None, -1, None), (None, None, 2), (2, 0, -1),
         (None, None, -2), (5, 9, None), (-7, 2, None)]


def test_the_index_is_written_as_the_language_writes_it():
    assert subscript((1,)) == "[1]"
    assert subscript(((1, 3, None), 0)) == "[1:3, 0]"
    assert subscript(((None, None, None), (None, None, 2), (None, -1, None))) == "[:, ::2, :-1]"
    assert key(((1, 3, None), -1)) == (slice(1, 3, None), -1)


@pytest.mark.parametrize("shape", [(3,), (3, 4), (3, 1), (1, 4), (2, 3, 4)])
def test_inferred_shapes_are_numpys(shape):
    x = np.arange(float(np.prod(shape))).reshape(shape)
    for count in (1, 2):
        for at in itertools.product(ITEMS, repeat=count):
            if count > len(shape):
                continue
            try:
                expected = np.shape(x[key(at)])
            except IndexError:
                assert INDEX.check([shape], at=at) is not None, at
                continue
            assert INDEX.check([shape], at=at) is None, at
            assert INDEX.infer_shape([shape], {"at": at}) == expected, at
            assert np.shape(INDEX.forward(x, at=at)) == expected


def test_out_of_range_names_the_index_and_the_shape():
    message = INDEX.check([(3,)], at=(5,))
    assert "index 5" in message and "[5]" in message and "shape [3]" in message and "-3 to 2" in message
    assert "axis 1" in INDEX.check([(3, 4)], at=(0, -5))
    assert "the axis is empty" in INDEX.check([(0,)], at=(0,))
    assert "takes 2 axes" in INDEX.check([(3,)], at=(0, 0)) and "shape [3] (1 axis)" in INDEX.check([(3,)], at=(0, 0))
    assert "a scalar" in INDEX.check([()], at=(0,))
    # unknown sizes are left to the run; slices are never out of range (numpy's rule)
    assert INDEX.check([None], at=(7,)) is None and INDEX.check([(None, 4)], at=(9, 0)) is None
    assert INDEX.check([(3,)], at=((5, 9, None),)) is None


def test_an_entry_keeps_its_dtype_and_a_slice_is_a_view():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    entry = INDEX.forward(x, at=(1, 2))
    assert entry == 5.0 and entry.dtype == np.float32
    view = INDEX.forward(x, at=((None, None, None), 0))
    assert np.shares_memory(view, x) and INDEX.aliases


def test_the_gradient_scatters_into_zeros_of_the_operands_shape():
    x = np.zeros((3, 4))
    g = np.array([1.0, 2.0])
    ct = INDEX.vjps[0](g, None, x, at=((1, None, None), -1))
    np.testing.assert_array_equal(ct, [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 2]])
    # a cotangent of float32 stays float32; scatter_like's own gradient is the index again
    assert SCATTER.forward(np.float32(2), x, at=(0, 0)).dtype == np.float32
    np.testing.assert_array_equal(SCATTER.vjps[0](ct, None, g, x, at=((1, None, None), -1)), g)
    assert SCATTER.vjps[1] is None


def test_onehot_rows_of_zeros_and_ones():
    np.testing.assert_array_equal(ONEHOT.forward(np.array([2.0, 0.0, 1.0]), n=3), np.eye(3)[[2, 0, 1]])
    np.testing.assert_array_equal(ONEHOT.forward(1.0, n=2), [0.0, 1.0])
    labels = np.array([[0.0, 3.0], [1.0, 2.0]])
    assert ONEHOT.forward(labels, n=4).shape == (2, 2, 4)
    assert ONEHOT.infer_shape([(2, 2)], {"n": 4}) == (2, 2, 4)
    assert not ONEHOT.differentiable and ONEHOT.flows == (False,)


@pytest.mark.parametrize("labels,found", [([0.0, 3.0], "found 3 at [1]"), ([0.5], "found 0.5 at [0]"),
                                          ([-1.0, 0.0], "found -1 at [0]"), ([np.nan], "found nan"),
                                          (7.0, "found 7")])
def test_onehot_names_a_label_that_is_not_a_class_id(labels, found):
    with pytest.raises(ValueError, match="integer class ids from 0 to 2") as caught:
        ONEHOT.forward(np.asarray(labels), n=3)
    assert found in str(caught.value)


def test_reshape_fills_in_the_size_that_fits_and_names_a_shape_that_does_not():
    assert RESHAPE.infer_shape([(3, 4)], {"shape": (2, -1)}) == (2, 6)
    assert RESHAPE.infer_shape([(None, 4)], {"shape": (2, -1)}) == (2, None)
    assert RESHAPE.check([(3, 4)], shape=(2, -1)) is None and RESHAPE.check([(3, 4)], shape=(12,)) is None
    message = RESHAPE.check([(3, 4)], shape=(5, -1))
    assert "[5, -1]" in message and "[3, 4]" in message and "12 entries" in message
    assert "1 entry" in RESHAPE.check([()], shape=(2,))
    assert RESHAPE.check([(None, 4)], shape=(5, -1)) is None  # known at run time
    assert RESHAPE.forward(np.ones((1, 1)), shape=()) == 1.0
    np.testing.assert_array_equal(RESHAPE.vjps[0](np.arange(6.0).reshape(2, 3), None, np.ones(6), shape=(2, 3)),
                                  np.arange(6.0))

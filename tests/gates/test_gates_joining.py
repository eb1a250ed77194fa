"""gates/joining.py and variadic records (record.Gate.of_arity): concat and stack take any
number of operands from two, each count a record of its own with a rule per operand."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from graphdsl.gates import GATES, G, var

CONCAT, STACK = GATES["concat"], GATES["stack"]


@pytest.mark.parametrize("name", ["concat", "stack"])
def test_a_variadic_gate_has_a_record_per_count(name):
    base = GATES[name]
    assert base.arity == 2 and base.of_arity(2) is base
    five = base.of_arity(5)
    assert five.arity == 5 and base.of_arity(5) is five and five.of_arity(2) is base
    assert len(five.vjps) == 5 and five.flows == (True,) * 5 and five.roles == tuple("abcde")
    assert pickle.loads(pickle.dumps(five)) is five and pickle.loads(pickle.dumps(base)) is base
    assert base.arity_text() == "2 or more arguments"
    with pytest.raises(TypeError):
        base.of_arity(1)
    with pytest.raises(TypeError):
        GATES["exp"].of_arity(2)
    assert GATES["exp"].arity_text() == "1 argument"


def test_rule_expressions_pick_the_record_for_their_count():
    a, b, c = (var(n, (2,)) for n in "abc")
    expr = G.concat(a, b, c, axis=0)
    assert expr.gate is CONCAT.of_arity(3) and expr.shape == (6,)
    assert G.stack(a, b, c, axis=-1).shape == (2, 3)


def test_each_operand_gets_its_own_part_of_the_cotangent():
    a, b, c = np.ones((2, 3)), np.ones((2, 1)), np.ones((2, 2))
    gate = CONCAT.of_arity(3)
    g = np.arange(12.0).reshape(2, 6)
    np.testing.assert_array_equal(gate.vjps[0](g, None, a, b, c, axis=1), g[:, :3])
    np.testing.assert_array_equal(gate.vjps[1](g, None, a, b, c, axis=1), g[:, 3:4])
    np.testing.assert_array_equal(gate.vjps[2](g, None, a, b, c, axis=-1), g[:, 4:])
    g = np.arange(6.0).reshape(3, 2)
    for k in range(3):
        np.testing.assert_array_equal(STACK.of_arity(3).vjps[k](g, None, *[np.ones(2)] * 3, axis=0), g[k])


def test_a_tangent_left_out_is_zero_of_its_operands_shape():
    t = CONCAT.jvp([None, np.ones(2)], None, np.ones(3), np.ones(2), axis=0)
    np.testing.assert_array_equal(t, [0, 0, 0, 1, 1])
    t = STACK.of_arity(3).jvp([2.0, None, None], None, 1.0, 1.0, 1.0, axis=0)
    np.testing.assert_array_equal(t, [2, 0, 0])


def test_shapes_that_do_not_join_are_named():
    assert CONCAT.infer_shape([(2, 3), (4, 3)], {"axis": 0}) == (6, 3)
    assert CONCAT.infer_shape([(2, None), (4, 3)], {"axis": 0}) == (6, 3)
    assert CONCAT.infer_shape([(None, 3), (4, 3)], {"axis": 0}) == (None, 3)
    assert "at least one axis" in CONCAT.check([(), (2,)], axis=0)
    assert "same number of axes" in CONCAT.check([(2, 3), (3,)], axis=0)
    assert "other axes to agree" in CONCAT.check([(2, 3), (2, 4)], axis=0)
    assert CONCAT.check([(2, 3), (2, 4)], axis=1) is None and CONCAT.check([None, (2, 4)], axis=1) is None
    assert "axis 2 is out of range" in CONCAT.check([(2, 3), (2, 3)], axis=2)
    assert STACK.infer_shape([(2, 3), (2, 3), (2, 3)], {"axis": -1}) == (2, 3, 3)
    assert "one shape" in STACK.check([(2, 3), (3, 2)], axis=0)
    assert "axis -3 is out of range" in STACK.check([(2,), (2,)], axis=-3)
    assert STACK.check([(2, None), (2, 4)], axis=0) is None and STACK.check([None, None], axis=0) is None

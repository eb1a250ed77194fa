"""Generated source: dead names reused in float code (reuse_names), and what it keeps."""
import math

import numpy as np

import graphdsl
from graphdsl.compiled.source import Stmt, reuse_names


def run(statements, params, **values):
    text = "def f(%s):\n" % ", ".join(params) + "".join(f"    {s.text}\n" for s in statements)
    namespace = {}
    exec(text, namespace)  # noqa: S102 -- the test's own statements
    return namespace["f"](**values)


def test_a_chain_keeps_few_names_and_the_same_numbers():
    statements = [Stmt("v1 = v0 * 2.0", ("v0",), ("v1",))]
    for k in range(1, 50):
        statements.append(Stmt(f"v{k + 1} = v{k} + 1.0", (f"v{k}",), (f"v{k + 1}",)))
    statements.append(Stmt("return v50", ("v50",)))
    renamed = reuse_names(statements, ("v0",))
    names = {name for stmt in renamed for name in stmt.writes}
    assert len(names) <= 2
    assert run(renamed, ("v0",), v0=3.0) == run(statements, ("v0",), v0=3.0) == 55.0


def test_parameters_are_never_renamed_or_reused():
    statements = [Stmt("v1 = v0 + 1.0", ("v0",), ("v1",)), Stmt("v2 = v1 * v1", ("v1",), ("v2",)),
                  Stmt("return v2", ("v2",))]
    renamed = reuse_names(statements, ("v0",))
    assert all("v0 =" not in stmt.text for stmt in renamed)


def test_a_sum_written_several_times_keeps_one_name_and_unread_values_free_theirs():
    statements = [Stmt("v1 = v0 * 3.0", ("v0",), ("v1",)), Stmt("g0 = v1 * 2.0", ("v1",), ("g0",)),
                  Stmt("v9 = v0 - 1.0", ("v0",), ("v9",)),  # never read
                  Stmt("v2 = v0 + 1.0", ("v0",), ("v2",)), Stmt("g0 = g0 + (v2)", ("g0", "v2"), ("g0",)),
                  Stmt("g0 = g0 + (v0)", ("g0", "v0"), ("g0",)), Stmt("return g0", ("g0",))]
    renamed = reuse_names(statements, ("v0",))
    assert run(renamed, ("v0",), v0=2.0) == run(statements, ("v0",), v0=2.0) == 17.0


def test_float_code_that_raises_falls_back_with_its_parameters_intact():
    prog = graphdsl.loads("input x\na = x * 3\nb = a - 6\nc = log(b) + x\noutput f = c * a")
    for _ in range(3):
        outputs, grads = prog.function()(2.0)  # log(0): numpy's -inf, through the array code
        result = prog.run(x=2.0)
        assert outputs == (result.outputs["f"],) == (-math.inf,)
        np.testing.assert_array_equal(grads, [result.grads["x"]])
    assert prog.run(x=3.0).outputs["f"] == (math.log(3.0) + 3.0) * 9.0
    np.testing.assert_allclose(prog.function()(3.0)[1][0], prog.run(x=3.0).grads["x"], rtol=0)

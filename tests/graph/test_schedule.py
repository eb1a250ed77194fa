"""The schedule: slots, forward steps and per-output backward plans, computed once."""
import pytest

import graphdsl


def schedule(text):
    return graphdsl.loads(text).schedule


def test_slots_follow_the_forward_order():
    s = schedule("input x = 1, y = 2\nq = x + y\noutput f = q * 3")
    assert s.ids == ("x", "y", "q", "f#1", "f")
    assert [s.slots[n] for n in s.ids] == list(range(5))
    assert [step.node for step in s.steps] == ["q", "f"]
    assert s.constants == ((3, 3.0),)
    assert [leaf.name for leaf in s.leaves] == ["x", "y"]


def test_backward_plan_skips_constants_and_nodes_off_the_path():
    s = schedule("input x = 1, y = 2\nc = exp(2)\nunused = sin(x)\noutput f = x * c + y, g = unused")
    plan = s.plans["f"]
    assert [b.step.node for b in plan.steps] == ["f", "f#1"]
    mul = plan.steps[1]
    assert mul.needs == (True, False)  # no gradient for the constant exp(2)
    assert "c" not in plan.order and "unused" not in plan.order
    assert set(s.plans) == {"f", "g"}


def test_plans_are_computed_once_when_the_program_is_built():
    prog = graphdsl.loads("input x = 1\noutput f = x * x, g = x + 1")
    before = prog.schedule.plans
    prog.run()
    prog.run(of="g")
    assert prog.schedule.plans is before


def test_leaves_that_no_gradient_reaches_are_known():
    s = schedule("input x = 1, y = 2\noutput f = x * 2, g = y")
    assert s.plans["f"].differentiable == {s.slots["x"]}


def test_a_restricted_plan_gives_the_named_leaves_the_same_gradients():
    import numpy as np
    from graphdsl.graph.schedule import restricted
    from graphdsl.run import interpret
    prog = graphdsl.loads("input x, y\nparam w = 0.5\nh = tanh(x * w) * y\noutput f = h * h + sin(w)")
    sched = prog.schedule
    only_w = restricted(sched, "f", ("w",))
    values = interpret.forward(sched, [0.3, -1.2, 0.5])
    full = interpret.backward(sched, "f", values)
    part = interpret.backward(only_w, "f", values)
    slots = {leaf.name: leaf.slot for leaf in sched.leaves}
    assert only_w.plans["f"].differentiable == {slots["w"]} and sched.plans["f"].differentiable == set(slots.values())
    assert part[slots["w"]] == full[slots["w"]] and part[slots["x"]] is None and part[slots["y"]] is None
    assert len(only_w.plans["f"].steps) == len(sched.plans["f"].steps)  # y's branch shares every step
    assert np.isfinite(full[slots["y"]])


def test_a_plan_is_made_on_first_use_and_kept():
    s = schedule("input x = 1\noutput f = x * x, g = x + 1")
    assert s.plans._made == {}  # (nothing yet: a derivative program has an output per gradient)
    plan = s.plans["g"]
    assert s.plans["g"] is plan and list(s.plans._made) == ["g"]
    assert "f" in s.plans and "h" not in s.plans and len(s.plans) == 2 and list(s.plans) == ["f", "g"]
    assert list(s.plans._made) == ["g"]
    with pytest.raises(KeyError):
        s.plans["h"]


def test_building_a_derivative_program_makes_no_plan():
    n = 400
    text = "input " + ", ".join(f"x{i}" for i in range(n)) + "\na0 = sin(x0)\n"
    prog = graphdsl.loads(text + "".join(f"a{i} = a{i - 1} * x{i}\n" for i in range(1, n)) + f"output f = a{n - 1}\n")
    derived = prog.grad()
    assert len(derived.schedule.plans) == n + 1 and derived.schedule.plans._made == {}
    ones = {f"x{i}": 1.0 for i in range(n)}
    assert derived.forward(ones)["df_dx0"] == prog.run(ones).grads["x0"]

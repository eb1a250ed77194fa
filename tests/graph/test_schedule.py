"""The schedule: slots, forward steps and per-output backward plans, computed once."""
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

"""Program.fit: the update rule checked by hand, mini-batches and shuffling, the
optimizers, immutability, the History, and data that does not fit the model."""
from __future__ import annotations

import numpy as np
import pytest

import graphdsl
from graphdsl.train.fit import Adam, DataError, Momentum, SGD, TrainingError

CLASSIFIER = """
input X: [n, 2], y: [n]
input reg = 0.01
param W: [2, 3] ~ normal(0, 0.5)
param b: [3] ~ normal(0, 0.5)
scores = X @ W + b
output loss = softmax_cross_entropy(scores, y) + 0.5 * reg * sum(W * W)
output accuracy = mean(equal(argmax(scores), y))
output scores
"""


@pytest.fixture
def prog():
    return graphdsl.loads(CLASSIFIER)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return {"X": rng.normal(size=(10, 2)), "y": rng.integers(0, 3, size=10)}


def _params(prog):
    return {name: value for name, value in prog.defaults().items() if name in prog.params}


def test_one_full_batch_sgd_epoch_is_one_step_by_hand(prog, data):
    before = _params(prog)
    grads = prog.run(**data).grads
    history = prog.fit(data, epochs=1, lr=0.3, optimizer="sgd")
    for name in prog.params:
        np.testing.assert_array_equal(history.params[name], before[name] - 0.3 * grads[name])
    assert history.losses == [prog.forward(**data)["loss"]]  # the loss before the update


def test_three_sgd_epochs_are_three_steps_by_hand(prog, data):
    params = _params(prog)
    for _ in range(3):
        grads = prog.run(**data, **params).grads
        params = {name: value - 0.1 * grads[name] for name, value in params.items()}
    history = prog.fit(data, epochs=3, lr=0.1)
    for name in prog.params:
        np.testing.assert_allclose(history.params[name], params[name], rtol=1e-14)


def test_mini_batches_follow_a_seeded_permutation_each_epoch(prog, data):
    rng = np.random.default_rng(5)
    params = _params(prog)
    for _ in range(2):
        order = rng.permutation(10)
        for start in range(0, 10, 4):  # batches of 4, 4 and 2 samples
            rows = order[start:start + 4]
            grads = prog.run(X=data["X"][rows], y=data["y"][rows], **params).grads
            params = {name: value - 0.2 * grads[name] for name, value in params.items()}
    history = prog.fit(data, epochs=2, batch_size=4, lr=0.2, seed=5)
    for name in prog.params:
        np.testing.assert_allclose(history.params[name], params[name], rtol=1e-13)


def test_the_epoch_loss_is_the_batch_losses_weighted_by_size(prog, data):
    order = np.random.default_rng(0).permutation(10)
    losses = [prog.forward(X=data["X"][rows], y=data["y"][rows])["loss"]
              for rows in (order[:6], order[6:])]
    history = prog.fit(data, epochs=1, batch_size=6, lr=1e-300)  # a step too small to matter
    assert history.losses[0] == pytest.approx(0.6 * losses[0] + 0.4 * losses[1], rel=1e-12)


def test_shuffling_is_reproducible_and_depends_on_the_seed(prog, data):
    a = prog.fit(data, epochs=3, batch_size=3, lr=0.5, seed=1)
    b = prog.fit(data, epochs=3, batch_size=3, lr=0.5, seed=1)
    c = prog.fit(data, epochs=3, batch_size=3, lr=0.5, seed=2)
    assert a.losses == b.losses
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert not np.array_equal(a.params["W"], c.params["W"])


def test_a_batch_larger_than_the_data_is_the_full_batch(prog, data):
    full = prog.fit(data, epochs=2, lr=0.1)
    big = prog.fit(data, epochs=2, batch_size=1000, lr=0.1, seed=9)
    np.testing.assert_array_equal(full.params["W"], big.params["W"])


@pytest.mark.parametrize("optimizer,rule", [
    ("momentum", lambda theta, g, state: theta - 0.1 * g),  # v = g on the first step
    ("adam", lambda theta, g, state: theta - 0.1 * g / (np.abs(g) + 1e-8)),  # m^ = g, v^ = g*g
])
def test_the_first_step_of_each_optimizer(prog, data, optimizer, rule):
    before, grads = _params(prog), prog.run(**data).grads
    history = prog.fit(data, epochs=1, lr=0.1, optimizer=optimizer)
    for name in prog.params:
        np.testing.assert_allclose(history.params[name], rule(before[name], grads[name], None), rtol=1e-12)


def test_optimizers_on_a_quadratic_bowl():
    params, target = {"a": np.array([3.0, -2.0]), "b": 5.0}, {"a": np.array([1.0, 1.0]), "b": -1.0}
    for opt in (SGD(0.1), Momentum(0.05, 0.9), Adam(0.1)):
        theta = {name: np.copy(value) if isinstance(value, np.ndarray) else value for name, value in params.items()}
        for _ in range(500):
            opt.step(theta, {name: 2 * (theta[name] - target[name]) for name in theta})
        np.testing.assert_allclose(theta["a"], target["a"], atol=1e-3)
        assert theta["b"] == pytest.approx(target["b"], abs=1e-3)


def test_momentum_accumulates_velocity_like_pytorch():
    opt, theta = Momentum(0.1, momentum=0.5), {"w": 0.0}
    for g in (1.0, 1.0, 1.0):
        opt.step(theta, {"w": g})
    assert theta["w"] == pytest.approx(-0.1 * (1.0 + 1.5 + 1.75))


def test_nothing_given_to_fit_changes(prog, data):
    before = {name: np.copy(value) for name, value in prog.defaults().items()}
    X, y = data["X"].copy(), data["y"].copy()
    history = prog.fit(data, epochs=5, batch_size=4, lr=0.5, optimizer="adam")
    for name, value in prog.defaults().items():
        np.testing.assert_array_equal(value, before[name])
    np.testing.assert_array_equal(data["X"], X)
    np.testing.assert_array_equal(data["y"], y)
    history.params["W"][0, 0] = 123.0  # the History's arrays are its own
    assert prog.defaults()["W"][0, 0] == before["W"][0, 0]


def test_with_params_gives_the_trained_program(prog, data):
    history = prog.fit(data, epochs=200, lr=0.5)
    trained = prog.with_params(history.params)
    assert trained is not prog
    assert trained.forward(**data)["loss"] < prog.forward(**data)["loss"]
    np.testing.assert_array_equal(trained.defaults()["W"], history.params["W"])


def test_history_holds_losses_metrics_and_params(prog, data):
    history = prog.fit(data, epochs=4, lr=0.5)
    assert history.of == "loss" and len(history.losses) == 4
    assert list(history.metrics) == ["accuracy"]  # scores is not a scalar: not a metric
    assert len(history.metrics["accuracy"]) == 4
    assert history.metrics["accuracy"][0] == prog.forward(**data)["accuracy"]
    assert set(history.params) == {"W", "b"}
    plain = history.as_dict()
    assert plain["params"]["W"] == history.params["W"].tolist()
    assert "epochs=4" in repr(history)


def test_on_epoch_reports_each_epoch(prog, data):
    seen = []
    prog.fit(data, epochs=3, lr=0.1, on_epoch=lambda epoch, loss, metrics: seen.append((epoch, loss, metrics)))
    assert [s[0] for s in seen] == [1, 2, 3]
    assert set(seen[0][2]) == {"accuracy"}


def test_of_chooses_the_loss_and_the_others_become_metrics():
    prog = graphdsl.loads("input x, y\nparam w = 0, c = 5\noutput other = mean(square(c - x))\n"
                          "output fit = mean(square(w * x - y))")
    history = prog.fit({"x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 6.0]}, epochs=100, lr=0.05, of="fit")
    assert history.params["w"] == pytest.approx(2.0)
    assert history.params["c"] == 5.0  # the loss does not depend on it: left alone
    assert list(history.metrics) == ["other"]


def test_inputs_missing_from_the_data_take_their_defaults(prog, data):
    strong = graphdsl.loads(CLASSIFIER.replace("reg = 0.01", "reg = 5"))
    weak_w = prog.fit(data, epochs=50, lr=0.1).params["W"]
    strong_w = strong.fit(data, epochs=50, lr=0.1).params["W"]
    assert np.abs(strong_w).sum() < np.abs(weak_w).sum()


def test_epochs_zero_returns_the_initial_params(prog, data):
    history = prog.fit(data, epochs=0)
    assert history.losses == [] and history.metrics == {"accuracy": []}
    np.testing.assert_array_equal(history.params["W"], prog.defaults()["W"])


@pytest.mark.parametrize("bad,message,name,row", [
    ({"X": np.zeros((4, 2)), "Y": np.zeros(4)}, "'Y', which is not an input.*did you mean 'y'", "Y", None),
    ({"X": np.zeros((4, 2)), "y": np.zeros(4), "W": np.zeros((2, 3))}, "'W' is a param", "W", None),
    ({"X": np.zeros((4, 2))}, "no values for input 'y'", "y", None),
    ({"X": np.zeros((4, 2)), "y": np.zeros(3)}, "disagree on the number of samples: 'X' has 4, 'y' has 3", "y", None),
    ({"X": np.zeros((4, 2)), "y": 1.0}, "'y' needs one value per sample", "y", None),
    ({"X": np.zeros((4, 3)), "y": np.zeros(4)}, "input 'X' should have shape \\[n, 2\\], got shape \\[4, 3\\] "
                                                "\\(as declared at line 2\\)", "X", None),
    ({"X": np.zeros((0, 2)), "y": np.zeros(0)}, "no samples", "X", None),
    ({"X": [[0, 0], [0, np.nan]], "y": [0, 1]}, "'X' holds NaN at index \\[1, 1\\]", "X", 1),
    ({"X": [[0, 0], [0, np.inf]], "y": [0, 1]}, "'X' holds inf at index \\[1, 1\\]", "X", 1),
    ({"X": np.zeros((3, 2)), "y": [0, 1, 3]}, "class ids of softmax_cross_entropy.*0 to 2; at index 2 it holds 3", "y", 2),
    ({"X": np.zeros((3, 2)), "y": [0, 0.5, 1]}, "at index 1 it holds 0.5", "y", 1),
    ({"X": np.zeros((3, 2)), "y": [-1, 0, 1]}, "at index 0 it holds -1", "y", 0),
])
def test_data_that_does_not_fit_names_the_input(prog, bad, message, name, row):
    with pytest.raises(DataError, match=message) as info:
        prog.fit(bad, epochs=1)
    assert (info.value.input, info.value.row) == (name, row)


def test_empty_data_is_refused(prog):
    with pytest.raises(DataError, match="fit needs data"):
        prog.fit({}, epochs=1)


def test_data_that_is_not_numbers_is_a_binding_error(prog):
    with pytest.raises(graphdsl.BindingError, match="'X'"):
        prog.fit({"X": [["a", "b"]], "y": [0]}, epochs=1)


@pytest.mark.parametrize("source,message", [
    ("input x\noutput loss = mean(x * x)", "no param to train"),
    ("input x\nparam w = 1\noutput loss = w * x", "must be a single number, but it has shape \\[3\\]"),
    ("input x\nparam w = 1\noutput loss = mean(x * x)\noutput other = w", "does not depend on any param"),
])
def test_models_that_cannot_be_trained(source, message):
    with pytest.raises(TrainingError, match=message) as info:
        graphdsl.loads(source).fit({"x": [1.0, 2.0, 3.0]}, epochs=1)
    assert info.value.line is not None


@pytest.mark.parametrize("settings,message", [
    ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"), ({"lr": 0}, "learning rate"),
    ({"lr": float("nan")}, "learning rate"), ({"epochs": -1}, "epochs"), ({"batch_size": 0}, "batch_size"),
    ({"epochs": 1.5}, "epochs"), ({"optimizer": "momentum", "momentum": 1.0}, "momentum must be"),
    ({"optimizer": "adam", "betas": (0.9, -0.1)}, "betas\\[1\\] must be"),
])
def test_bad_settings_are_value_errors(prog, data, settings, message):
    with pytest.raises(ValueError, match=message):
        prog.fit(data, **settings)


def test_unknown_output_is_a_binding_error(prog, data):
    with pytest.raises(graphdsl.BindingError, match="'nope' is not an output"):
        prog.fit(data, of="nope")


def test_divergence_stops_with_the_gate_to_blame():
    prog = graphdsl.loads("input x\nparam w = 1\n\noutput loss = mean(square(w * x - 1))")
    with pytest.raises(graphdsl.NumericError, match="diverged in epoch [0-9]+: square produced inf") as info:
        with pytest.warns(graphdsl.DivergenceWarning, match="blew up in epoch 2"):  # before it is inf
            prog.fit({"x": [1.0, 2.0]}, epochs=1000, lr=1e3)
    assert info.value.line == 4


def test_initial_params_come_from_the_load_seed(data):
    a, b = graphdsl.loads(CLASSIFIER, seed=1), graphdsl.loads(CLASSIFIER, seed=2)
    assert not np.array_equal(a.fit(data, epochs=1).params["W"], b.fit(data, epochs=1).params["W"])


# ---------------------------------------------------------------- inputs the data lacks
def test_inputs_bind_values_the_data_does_not_hold_for_every_step(prog, data):
    params = _params(prog)
    for _ in range(2):  # two full-batch SGD steps by hand, with reg = 0.5
        grads = prog.run(**data, **params, reg=0.5).grads
        params = {name: params[name] - 0.3 * grads[name] for name in params}
    history = prog.fit(data, epochs=2, lr=0.3, inputs={"reg": 0.5})
    for name in params:
        np.testing.assert_array_equal(history.params[name], params[name])
    assert history.params["W"].tolist() != prog.fit(data, epochs=2, lr=0.3).params["W"].tolist()


def test_inputs_without_a_default_can_come_from_inputs():
    prog = graphdsl.loads("input x: [n], scale\nparam w = 0\noutput loss = mean(square(w * x - scale))")
    history = prog.fit({"x": [1.0, 1.0]}, epochs=200, lr=0.1, inputs={"scale": 3})
    assert abs(history.params["w"] - 3.0) < 1e-9
    shaped = graphdsl.loads("input x: [n], scale: [2]\nparam w = 0\noutput loss = mean(w * x - sum(scale))")
    with pytest.raises(graphdsl.BindingError, match=r"input 'scale' should have shape \[2\], got shape \[3\]"):
        shaped.fit({"x": [1.0, 1.0]}, epochs=1, inputs={"scale": [1.0, 2.0, 3.0]})


@pytest.mark.parametrize("inputs,message", [
    ({"W": 1.0}, "'W' is a param: training learns it"),
    ({"rge": 1.0}, "inputs names 'rge', which is not an input of the graph; did you mean 'reg'?"),
    ({"X": [[1.0, 2.0]]}, "input 'X' is given both by the data and by inputs"),
])
def test_inputs_that_do_not_fit_are_binding_errors(prog, data, inputs, message):
    with pytest.raises(graphdsl.BindingError, match=message.replace("(", r"\(").replace("?", r"\?")):
        prog.fit(data, epochs=1, inputs=inputs)


# ---------------------------------------------------------------- a loss that blows up
def test_a_loss_that_blows_up_is_warned_of_and_recorded(prog, data):
    with pytest.warns(graphdsl.DivergenceWarning) as caught:
        history = prog.fit(data, epochs=20, lr=1000.0)
    assert len(caught) == 1  # once, at the first epoch that blew up
    epoch = history.diverged_at
    losses = history.losses
    assert epoch is not None and losses[epoch - 1] > 100 * min(losses[:epoch - 1])
    assert all(loss <= 100 * min(losses[:k]) or loss <= losses[0] for k, loss in enumerate(losses[1:epoch - 1], 1))
    message = str(caught[0].message)
    assert f"blew up in epoch {epoch}:" in message and "the learning rate (1000) is probably too large" in message
    assert caught[0].filename == __file__  # it points at the caller's line
    assert history.as_dict()["diverged_at"] == epoch and f"diverged_at={epoch}" in repr(history)


def test_ordinary_training_is_not_warned_of(prog, data, recwarn):
    history = prog.fit(data, epochs=50, lr=0.5)
    assert history.diverged_at is None and history.as_dict()["diverged_at"] is None
    assert not [w for w in recwarn if issubclass(w.category, graphdsl.DivergenceWarning)]


def test_the_watch_ignores_noise_near_zero_and_negative_losses():
    from graphdsl.train.fit import _BlowUp

    def first_blow_up(losses):
        watch = _BlowUp()
        return next((epoch for epoch, loss in enumerate(losses, 1) if watch.grew(loss)), None)

    assert first_blow_up([1.0, 1e-9, 1e-7, 1e-5]) is None  # 10,000-fold, but far below the start
    assert first_blow_up([-1.0, -5.0, 3.0, 400.0]) is None  # no positive lowest to grow from
    assert first_blow_up([1.0, 0.01, 0.5, 1.5]) == 4  # 150 times the lowest, above the first
    assert first_blow_up([2.0, 150.0, 250.0]) == 3


def test_a_step_skips_the_backward_pass_to_the_data(prog, data):
    """fit's compiled code reaches the params only (X @ W's gradient for X is not made);
    the params' gradients are run's bits (the tests above)."""
    prog.fit(data, epochs=1, lr=0.3)
    (key, entry), = prog._runner.trainers.items()
    assert key == ("loss", ("W", "b"))
    plan = entry.kernel.schedule.plans["loss"]
    slots = {leaf.name: leaf.slot for leaf in prog.schedule.leaves}
    assert plan.differentiable == {slots["W"], slots["b"]}
    assert prog.schedule.plans["loss"].differentiable == {slots["X"], slots["reg"], slots["W"], slots["b"]}
    assert len(plan.steps) < len(prog.schedule.plans["loss"].steps)


def test_a_graph_too_large_to_compile_trains_on_the_interpreter_alike(data, monkeypatch):
    from graphdsl.compiled import runner
    compiled = graphdsl.loads(CLASSIFIER).fit(data, epochs=3, lr=0.1)
    monkeypatch.setattr(runner, "COMPILE_LIMIT", 0)
    prog = graphdsl.loads(CLASSIFIER)
    assert not prog._runner.compiled
    interpreted = prog.fit(data, epochs=3, lr=0.1)
    for name in prog.params:
        np.testing.assert_allclose(interpreted.params[name], compiled.params[name], rtol=1e-13)
    assert interpreted.losses == pytest.approx(compiled.losses, rel=1e-13)

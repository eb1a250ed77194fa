"""graph/options.py: options are literals of the kind each gate declares; every misuse is
a GraphDefinitionError at the value (or the call) to blame."""
from __future__ import annotations

import pytest

import graphdsl


def load(text: str):
    return graphdsl.loads(text, "m.graph")


def error(text: str) -> graphdsl.GraphDefinitionError:
    with pytest.raises(graphdsl.GraphDefinitionError) as caught:
        load(text)
    return caught.value


@pytest.mark.parametrize("text,where,words", [
    # the index: whole-number literals, fixed when the graph is built
    ("input x, i\noutput y = x[i]", (2, 14), "an index must be a whole-number literal such as 0, -1 or 1:3, "
                                             "not the name 'i'"),
    ("input x\noutput y = x[1 + 1]", (2, 16), "not an expression"),
    ("input x\noutput y = x[0, 1.5]", (2, 17), "an index must be a whole number, not 1.5"),
    ("input x\noutput y = x[:2.5]", (2, 15), "not 2.5"),
    ("input x\noutput y = x[::0]", (2, 16), "a slice's step cannot be 0"),
    ("input x\noutput y = x[n:]", (2, 14), "not the name 'n'"),
    ("input x\noutput y = index(x)", (2, 12), "gate 'index' needs the option 'at'"),
    ("input x\noutput y = index(x, at=[0.5])", (2, 24), "option 'at' of 'index' must be a list of whole numbers"),
    # literal lists and the other kinds
    ("input x\noutput y = reshape(x)", (2, 12), "gate 'reshape' needs the option 'shape'"),
    ("input x\noutput y = reshape(x, shape=3)", (2, 29), "option 'shape' of 'reshape' must be a list"),
    ("input x\noutput y = reshape(x, shape=[2, -2])", (2, 29), "one -1 at most"),
    ("input x\noutput y = reshape(x, shape=[-1, -1])", (2, 29), "one -1 at most"),
    ("input x, s\noutput y = reshape(x, shape=[s])", (2, 29), "must be a list of whole numbers"),
    ("input x\noutput y = onehot(x)", (2, 12), "gate 'onehot' needs the option 'n' (a whole number of at least 1)"),
    ("input x\noutput y = onehot(x, n=2.5)", (2, 24), "option 'n' of 'onehot' must be a whole number of at least 1"),
    ("input x\noutput y = onehot(x, n=0)", (2, 24), "at least 1"),
    ("input x\noutput y = concat(x, x, axis=0.5)", (2, 30), "option 'axis' of 'concat' must be a whole number"),
    ("input x\noutput y = stack(x, x, axis=None)", (2, 29), "option 'axis' of 'stack' must be a whole number"),
    ("input x\noutput y = clip(x, lo=[0])", (2, 23), "option 'lo' of 'clip' must be a number or None"),
    ("input x\noutput y = clip(x, top=1)", (2, 20), "gate 'clip' has no option 'top' (options: lo, hi)"),
    ("input x\noutput y = log_softmax(x, axis=[0.5])", (2, 32), "a whole number, a list of them, or None"),
    # arity: two or more for concat and stack
    ("input x\noutput y = concat(x)", (2, 12), "gate 'concat' takes 2 or more arguments, got 1"),
    ("input x\noutput y = stack()", (2, 12), "gate 'stack' takes 2 or more arguments, got 0"),
    ("input x\noutput y = clip(x, x)", (2, 12), "gate 'clip' takes 1 argument, got 2"),
    ("input x\noutput y = repeat(onehot, 2, x)", (2, 19), "repeat cannot give 'onehot' its option 'n'"),
    ("input x\noutput y = repeat(concat, 2, x)", (2, 19), "repeat needs a one-argument gate; 'concat' takes 2"),
])
def test_misused_options_are_errors_at_their_place(text, where, words):
    err = error(text)
    assert (err.line, err.column) == where, err.message
    assert words in err.message
    assert err.render().startswith(f"m.graph:{where[0]}:{where[1]}: error: ")


def test_literal_lists_and_none_are_option_values():
    prog = load("input x: [2, 3]\noutput a = reshape(x, shape=[3, -1]), b = sum(x, axis=[0, 1]), "
                "c = clip(x, lo=None, hi=2), d = index(x, at=[1, -1]), e = concat(x, x, x, axis=-1)")
    nodes = prog.graph.nodes
    assert nodes["a"]["options"] == {"shape": (3, -1)} and nodes["b"]["options"] == {"axis": (0, 1)}
    assert nodes["c"]["options"] == {"lo": None, "hi": 2.0} and nodes["d"]["options"] == {"at": (1, -1)}
    assert nodes["e"]["options"] == {"axis": -1} and len(nodes["e"]["args"]) == 3
    out = prog.forward(x=[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert out["a"].shape == (3, 2) and out["b"] == 21.0 and out["d"] == 6.0 and out["e"].shape == (2, 9)
    assert out["c"].tolist() == [[1.0, 2.0, 2.0], [2.0, 2.0, 2.0]]


def test_an_index_is_kept_as_slices_and_whole_numbers():
    prog = load("input x: [4, 4]\noutput y = x[1:-1, ::-2], z = x[-1, 2:]")
    assert prog.graph.nodes["y"]["options"] == {"at": ((1, -1, None), (None, None, -2))}
    assert prog.graph.nodes["y"]["symbol"] == "[1:-1, ::-2]" and prog.graph.nodes["z"]["symbol"] == "[-1, 2:]"


def test_an_index_as_an_option_takes_slices_as_triples():
    prog = load("input x: [5], g: [2]\noutput y = scatter_like(g, x, at=[[1, 4, 2]]), z = scatter_like(g[0], x, at=[-1])")
    outputs = prog.run(x=[0.0] * 5, g=[7.0, 8.0]).outputs
    assert outputs["y"].tolist() == [0.0, 7.0, 0.0, 8.0, 0.0]
    assert outputs["z"].tolist() == [0.0, 0.0, 0.0, 0.0, 7.0]
    assert load("input x: [4, 2], g\noutput y = scatter_like(g, x, at=[[None, None, -1], 0])").run(
        x=[[0.0] * 2] * 4, g=[1.0, 2.0, 3.0, 4.0]).outputs["y"][:, 0].tolist() == [4.0, 3.0, 2.0, 1.0]
    for bad in ("[[1, 2]]", "[[1, 2, 0]]", "[[1.5, 2, 1]]", "[None]", "3"):
        err = error(f"input x: [5], g\noutput y = scatter_like(g, x, at={bad})")
        assert "must be a list of whole numbers and [start, stop, step] slices" in str(err)

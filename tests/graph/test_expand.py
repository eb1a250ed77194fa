"""expand.py: the node limit counts the nodes a graph expands to, exactly where that is cheap."""
import pytest

import graphdsl
from graphdsl import GraphLimitError

DOUBLE_THRICE = "gate double(a) { return a * 2 }\ninput x = 1\noutput f = repeat(double, 3, x)"


def test_a_graph_of_exactly_the_limit_loads_and_one_more_node_is_refused():
    # x, then per call of double its constant 2 and its product: 7 nodes
    assert len(graphdsl.loads(DOUBLE_THRICE).graph) == 7
    assert graphdsl.loads(DOUBLE_THRICE, max_nodes=7).run().outputs["f"] == 8.0
    with pytest.raises(GraphLimitError) as caught:
        graphdsl.loads(DOUBLE_THRICE, max_nodes=6)
    assert caught.value.message.startswith("the graph would expand to about 7 nodes, more than the limit of 6")
    assert (caught.value.line, caught.value.column) == (3, 12)


def test_a_named_call_that_returns_its_operand_is_counted_with_its_alias_node():
    text = "gate first(a, b) { return a }\ninput x = 1, y = 2\noutput f = first(x, y)"
    assert len(graphdsl.loads(text).graph) == 3  # x, y and f = x
    assert graphdsl.loads(text, max_nodes=3).run().outputs["f"] == 1.0
    with pytest.raises(GraphLimitError) as caught:
        graphdsl.loads(text, max_nodes=2)
    assert caught.value.message.startswith("the graph would expand to 3 nodes, more than the limit of 2")


def test_calls_of_a_gate_that_makes_no_node_still_count_as_work():
    text = "gate same(a) { return a }\ninput x = 1\noutput f = repeat(same, 1000000000000, x)"
    with pytest.raises(GraphLimitError, match="about 1,000,000,000,002 nodes, more than the limit of 100"):
        graphdsl.loads(text, max_nodes=100)

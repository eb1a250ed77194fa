"""quickparse's fast lane gives the syntax objects (and errors) that Lark gives."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

import graphdsl
from graphdsl.lang import parse as parse_module, quickparse


def both(text):
    """(with the fast lane, without it): the parsed Module's repr, or the error."""
    out = []
    for lane in (quickparse.split, lambda text, lines, file: ([], text)):
        original = quickparse.split
        parse_module.quickparse.split = lane
        try:
            out.append(repr(parse_module.parse(text, "f.graph")))
        except graphdsl.GraphError as err:
            out.append((type(err), str(err), err.render()))
        finally:
            parse_module.quickparse.split = original
    return out


names = st.sampled_from(["a", "b", "x1", "_y", "input", "gate", "exp", "tanh"])
operands = names | st.sampled_from(["2", "0.5", ".5", "1e3", "2.5E+4", "1e999", "3x"])
ops = st.sampled_from(["+", "-", "*", "/", "@", "**", "* *", "^", "", "<", "<=", ">", ">=", "==", "!=", "=", "< =",
                       "=<", "!", "<>"])
spaces = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def lines(draw):
    s = [draw(spaces) for _ in range(6)]
    if draw(st.booleans()):
        return f"{s[0]}{draw(names)}{s[1]}={s[2]}{draw(operands)}{s[3]}{draw(ops)}{s[4]}{draw(operands)}{s[5]}"
    return f"{s[0]}{draw(names)}{s[1]}={s[2]}{draw(names)}({s[3]}{draw(operands)}{s[4]})"


@settings(max_examples=300, deadline=None)
@given(st.lists(lines() | st.sampled_from(["input a, b", "output q", "gate g(v) {", "}", "c = (a +",
                                           "b)", "# note ( [", "", "d = a; e = b", "w = [1,", "2]",
                                           "  return v * v", "\r"]), max_size=12),
       st.sampled_from(["\n", "\r\n"]))
def test_the_fast_lane_changes_nothing(body, newline):
    text = newline.join(body)
    fast, slow = both(text)
    assert fast == slow


def test_a_generated_file_takes_the_fast_lane():
    text = "input x\n" + "".join(f"n{i} = {'x' if i == 0 else f'n{i - 1}'} * 2\n" for i in range(50))
    fast, _ = quickparse.split(text, text.split("\n"), "f")
    assert len(fast) == 50
    prog = graphdsl.loads(text + "output f = n49")
    assert prog.run(x=1.0).outputs["f"] == 2.0 ** 50


def test_the_line_after_a_gate_header_is_lark_s():
    # A gate's body may open on the next line; a simple line there was read by the fast
    # lane and blanked, so Lark reported "found the end of the file" on the header's line.
    for text in ["gate g(a)\nb = x + y\n", "gate g(a)\n\n# note\nb = exp(x)\noutput b\n"]:
        with_lane, without = both(text)
        assert with_lane == without
        assert "found 'b'" in with_lane[1]
    with_lane, without = both("gate g(a)\n{ return a * 2 }\nb = x + y\n")
    assert with_lane == without

"""The page's picture: the SVG of ``graphrun --render`` (Graphviz's drawing of
``Program.to_dot(result)``), annotated so that the page can find its parts and change its
numbers without drawing it again.

dot.py gives every node and edge a stable ``id`` built from the graph (``node:ID``,
``edge:SRC->DST:I``, ``edge:SRC->port:CALL:SRC``...), which Graphviz copies into the SVG;
this module builds the same ids from the graph and finds the groups by them: node groups
get ``data-node="ID"``, operand edges ``data-from``, ``data-to``, ``data-operand`` (and
``data-via``: the ports and port edges they pass through, lit with them), the edge into an
output's box ``data-to="output NAME"``.

Every number a run changes is one line of ``picture_text.value_lines`` (a number, a
small array, or a large array's two-line summary), written alone or after ``= `` in a
``<text>`` of its own. Each is wrapped in a ``<tspan data-slot="KEY" data-line="K">``:
line K of slot KEY, where ``v:ID`` is node ID's value, ``g:ID`` a leaf's gradient,
``e:ID:I`` the gradient flowing back from gate ID to its operand I and ``p:CALL:SRC`` the
one flowing back through the port of SRC into the call CALL. :func:`labels` gives every
slot's lines for a run (the page asks for them with each run), so the page writes the
server's text and formats no number itself. Where a number the picture must show is not
found (a design of the picture this module does not know), ``complete`` is False and the
page draws the picture anew on every change instead.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from ..inspect.dot import (edge_grads_of, edge_id, entered_calls, gradient_sums, node_id, port_edge_id,
                   port_id)
from ..inspect.picture_text import value_lines
from ..inspect.render import PICTURE_LIMIT, RenderError, find_dot, render
from ..errors import PictureUnavailable

SVG = "http://www.w3.org/2000/svg"
_G, _TEXT, _TSPAN = (f"{{{SVG}}}{tag}" for tag in ("g", "text", "tspan"))
_LEAVES = ("input", "param")


def draw(program, result, steps=None) -> tuple:
    """``(svg_text, complete)``: the annotated picture of one run (``steps``: its explain
    steps, if they were made: they hold each edge's gradient)."""
    if len(program.forward_order) > PICTURE_LIMIT:
        raise PictureUnavailable(f"the graph has {len(program.forward_order):,} nodes; the page "
                                 f"draws graphs of up to {PICTURE_LIMIT:,}")
    if find_dot() is None:
        raise PictureUnavailable("the picture needs Graphviz's 'dot' program, which is not on PATH "
                                 "(Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install "
                                 "graphviz); the numbers below work without it")
    try:
        svg = render(program.to_dot(result), "svg")
    except RenderError as err:
        raise PictureUnavailable(err.message) from None
    return annotate(svg, program, result, steps)


def labels(program, result, steps=None, values=None) -> dict:
    """``{slot: lines}``: the text of every number the picture of this run shows."""
    numbers = _Numbers(program, result, steps, values).numbers
    return {slot: value_lines(number) for slot, number in numbers.items()}


def annotate(svg: bytes, program, result, steps=None) -> tuple:
    """``(svg_text, complete)``: ``svg`` with the data attributes and slots described above."""
    root = ET.fromstring(svg)
    shown = _Numbers(program, result, steps)
    lines = {slot: value_lines(number) for slot, number in shown.numbers.items()}
    parts = _parts(program)
    complete, found = True, set()
    for group in root.iter(_G):
        element = group.get("id")
        for name, value in parts.get(element, {}).items():
            group.set(name, value)
        if element in shown.elements:
            found.add(element)
            expected = [(slot, k, line) for slot in shown.elements[element]
                        for k, line in enumerate(lines[slot])]
            complete = _mark(list(group.iter(_TEXT)), expected) and complete
    return _unprefixed(ET.tostring(root, encoding="unicode")), complete and found == set(shown.elements)


class _Numbers:
    """The numbers a picture of one run writes: ``numbers`` by slot, and ``elements``: the
    slots each labelled element (by SVG id) shows, in the order it shows them."""

    def __init__(self, program, result, steps=None, values=None):
        graph = program.graph
        values = result.values if values is None else values
        edge_grads = (edge_grads_of(result) if steps is None else
                      {(s.node, s.operand): s.gradient for s in steps if s.node is not None})
        totals, ports = gradient_sums(program, edge_grads)
        self.numbers, self.elements = {}, {}
        for node in program.forward_order:
            data = graph.nodes[node]
            if data["kind"] in _LEAVES:
                self._show(node_id(node), f"v:{node}", values[node])
                self._show(node_id(node), f"g:{node}", totals.get(node))
            for index, arg in enumerate(data.get("args", ())):
                if graph.nodes[arg]["kind"] != "const":  # a constant's box shows it, not its edges
                    self._show(edge_id(arg, node, index), f"v:{arg}", values[arg])
                    self._show(edge_id(arg, node, index), f"e:{node}:{index}", edge_grads.get((node, index)))
        for (call, arg), gradient in ports.items():
            if graph.nodes[arg]["kind"] != "const":
                self._show(port_edge_id(call, arg), f"v:{arg}", values[arg])
                self._show(port_edge_id(call, arg), f"p:{call}:{arg}", gradient)
        for name in program.outputs:  # the seed under it is always ones: not a slot
            self._show(edge_id(name, f"output {name}", 0), f"v:{name}", values[name])

    def _show(self, element: str, slot: str, number) -> None:
        if number is not None:
            self.numbers[slot] = number
            self.elements.setdefault(element, []).append(slot)


def _parts(program) -> dict:
    """``{svg id: {data attribute: value}}`` for the nodes and edges of the picture."""
    graph = program.graph
    parts = {}
    for node in program.forward_order:
        parts[node_id(node)] = {"data-node": node}
        for index, arg in enumerate(graph.nodes[node].get("args", ())):
            attributes = {"data-from": arg, "data-to": node, "data-operand": str(index)}
            via = [ids for scope in entered_calls(graph, node, arg)
                   for ids in (port_edge_id(scope[-1][1], arg), port_id(scope[-1][1], arg))]
            if via:
                attributes["data-via"] = json.dumps(via)
            parts[edge_id(arg, node, index)] = attributes
    for name in program.outputs:
        parts[edge_id(name, f"output {name}", 0)] = {"data-from": name, "data-to": f"output {name}"}
    return parts


def _mark(texts: list, expected: list) -> bool:
    """Wrap each expected line, in order, in its slot: the line is a ``<text>`` of its own,
    or ends one after ``= `` (a leaf's ``x = -2``, ``df/dx = -4``); all found?"""
    at = 0
    for slot, k, line in expected:
        while at < len(texts) and not _ends_with(texts[at], line):
            at += 1
        if at == len(texts):
            return False
        text = texts[at]
        text.text = "".join(text.itertext())[:-len(line)]
        for child in list(text):
            text.remove(child)
        ET.SubElement(text, _TSPAN, {"data-slot": slot, "data-line": str(k)}).text = line
        at += 1
    return True


def _ends_with(text, line: str) -> bool:
    whole = "".join(text.itertext())
    return whole == line or whole.endswith("= " + line)


def _unprefixed(text: str) -> str:
    """ElementTree names SVG's namespace ``ns0:`` on every tag (its only other choice, a
    global registry, would change every other user's output): make SVG the default again."""
    match = re.search(r'xmlns:(ns\d+)="' + re.escape(SVG) + '"', text)
    if match is None:
        return text
    prefix = match.group(1)
    text = re.sub(rf"(</?){prefix}:", r"\1", text)
    return text.replace(f"xmlns:{prefix}=", "xmlns=", 1)

"""The page's picture: the SVG of ``graphrun --render`` (Graphviz's drawing of
``Program.to_dot(result)``), annotated so that the page can find its parts and change its
numbers without drawing it again.

Graphviz writes each DOT node name into the ``<title>`` of the node's group, and
``a->b`` into each edge's, whatever the labels look like; so each node group gets
``data-node="ID"`` and each edge ``data-from``, ``data-to`` and ``data-operand``. Every
number drawn on a label that the page must update (the value flowing along an edge, the
gradient flowing back, a leaf's value and gradient) is found by its text, exactly as
``format_compact`` wrote it, and wrapped in a ``<tspan data-slot="KEY">``: ``v:ID`` a
node's value, ``g:ID`` its gradient, ``e:ID:I`` the gradient flowing back from gate ID
to its operand I. When a number the picture must show is not found (a change of the
picture's design this module does not know), ``complete`` is False and the page draws
the picture anew on every change instead.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

import numpy as np

from ..formatting import format_compact, shape_text
from ..render import PICTURE_LIMIT, RenderError, find_dot, render

SVG = "http://www.w3.org/2000/svg"
_G, _TITLE, _TEXT, _TSPAN = (f"{{{SVG}}}{tag}" for tag in ("g", "title", "text", "tspan"))
_EDGE_NUMBER = re.compile(r"edge(\d+)$")


class PictureUnavailable(Exception):
    """No picture can be drawn (no Graphviz, a graph too large to draw): the page says why."""


def draw(program, result, steps) -> tuple:
    """``(svg_text, complete)``: the annotated picture of one run (``steps``: its explain steps)."""
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


def annotate(svg: bytes, program, result, steps) -> tuple:
    """``(svg_text, complete)``: ``svg`` with the data attributes and slots described above."""
    root = ET.fromstring(svg)
    labels = _Labels(program, result, steps)
    edges = defaultdict(list)
    for group in root.iter(_G):
        title = group.find(_TITLE)
        name = title.text if title is not None and title.text else ""
        if group.get("class") == "node":
            labels.node(group, name)
        elif group.get("class") == "edge" and "->" in name:
            edges[tuple(name.split("->", 1))].append(group)
    for (source, target), groups in edges.items():
        labels.edges(source, target, groups)
    return _unprefixed(ET.tostring(root, encoding="unicode")), labels.complete


def _unprefixed(text: str) -> str:
    """ElementTree names SVG's namespace ``ns0:`` on every tag (its only other choice, a
    global registry, would change every other user's output): make SVG the default again."""
    match = re.search(r'xmlns:(ns\d+)="' + re.escape(SVG) + '"', text)
    if match is None:
        return text
    prefix = match.group(1)
    text = re.sub(rf"(</?){prefix}:", r"\1", text)
    return text.replace(f"xmlns:{prefix}=", "xmlns=", 1)


class _Labels:
    """The numbers of one run, and which of them the picture's labels were found to show."""

    def __init__(self, program, result, steps):
        self.graph = program.graph
        self.values, self.grads = result.values, result.node_grads
        self.edge_grads = {(s.node, s.operand): s.gradient for s in steps or () if s.node is not None}
        self.complete = True

    def node(self, group, node: str) -> None:
        if node not in self.values:
            return
        group.set("data-node", node)
        texts = [_Text(t) for t in group.iter(_TEXT)]
        if self.graph.nodes[node]["kind"] not in ("input", "param"):
            return
        if node in self.grads:  # a leaf's box: its gradient is written as d<of>/d<leaf> = ...
            _claim(texts, self.grads[node], f"g:{node}", prefer=lambda t: "/d" in t.plain(), last=True)
        _claim(texts, self.values[node], f"v:{node}", prefer=lambda t: "/d" not in t.plain())

    def edges(self, source: str, target: str, groups: list) -> None:
        if source not in self.values:
            return
        operands = self._operands(source, target)
        for order, group in enumerate(sorted(groups, key=_edge_number)):
            group.set("data-from", source)
            group.set("data-to", target)
            texts = [_Text(t) for t in group.iter(_TEXT)]
            if not texts:  # a picture without numbers
                continue
            self._expect(_claim(texts, self.values[source], f"v:{source}"), self.values[source], texts)
            if order < len(operands):
                operand = operands[order]
                group.set("data-operand", str(operand))
                gradient = self.edge_grads.get((target, operand))
                if gradient is not None:
                    self._expect(_claim(texts, gradient, f"e:{target}:{operand}"), gradient, texts)
            for text in texts:
                text.write()

    def _operands(self, source: str, target: str) -> list:
        if target not in self.graph:
            return []
        return [i for i, arg in enumerate(self.graph.nodes[target].get("args", ())) if arg == source]

    def _expect(self, found: bool, value, texts: list) -> None:
        # A large array is labelled by its shape, which no run at this shape changes.
        shape = f"shape {shape_text(np.shape(value))}"
        if not found and not any(shape in text.plain() for text in texts):
            self.complete = False


def _edge_number(group) -> int:
    """Graphviz numbers edges in DOT order (edge1, edge2...), which its SVG does not keep."""
    match = _EDGE_NUMBER.match(group.get("id", ""))
    return int(match.group(1)) if match else 0


def _claim(texts: list, value, key: str, prefer=lambda text: True, last: bool = False) -> bool:
    """Wrap the first (or last) appearance of ``value``'s text in a slot ``key``; found?"""
    wanted = _shown(value)
    if wanted is None:
        return isinstance(value, np.ndarray)
    for candidates in ([t for t in texts if prefer(t)], texts):
        for text in (reversed(candidates) if last else candidates):
            if text.take(wanted, key, last):
                for other in texts:
                    other.write()
                return True
    return False


def _shown(value) -> str | None:
    """How a label writes ``value``; None for an array labelled by its shape."""
    if isinstance(value, np.ndarray) and value.ndim:
        listed = format_compact(value, value.size)
        return listed if value.size <= 64 else None
    return format_compact(value)


class _Text:
    """A ``<text>`` element as segments of plain text and claimed slots."""

    def __init__(self, element):
        self.element = element
        self.segments = [["".join(element.itertext()), None]]

    def plain(self) -> str:
        return "".join(text for text, _ in self.segments)

    def take(self, wanted: str, key: str, last: bool) -> bool:
        spots = [(i, m) for i, (text, slot) in enumerate(self.segments) if slot is None
                 for m in _boundaried(wanted).finditer(text)]
        if not spots:
            return False
        i, match = spots[-1] if last else spots[0]
        text = self.segments[i][0]
        pieces = [[text[:match.start()], None], [wanted, key], [text[match.end():], None]]
        self.segments[i:i + 1] = [p for p in pieces if p[0] or p[1]]
        return True

    def write(self) -> None:
        if all(slot is None for _, slot in self.segments):
            return
        element = self.element
        for child in list(element):
            element.remove(child)
        element.text, tail_of = "", None
        for text, slot in self.segments:
            if slot is None:
                if tail_of is None:
                    element.text += text
                else:
                    tail_of.tail = (tail_of.tail or "") + text
                continue
            tail_of = ET.SubElement(element, _TSPAN, {"data-slot": slot})
            tail_of.text = text


def _boundaried(wanted: str):
    """``wanted`` standing alone: not part of a longer number or name (``1`` in ``dx1``)."""
    return re.compile(r"(?<![\w.\-])" + re.escape(wanted) + r"(?![\w.])")


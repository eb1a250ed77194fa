"""Where Graphviz put things: the boxes of every text, node and cluster and the points
of every edge, read from ``dot -Tjson``, and the overlaps a reader would trip over.

A text's box is estimated from its baseline, width and font size (Graphviz gives all
three). Edges are sampled along their Bézier curves.
"""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

_DESCENT, _ASCENT = 0.22, 0.78  # of the font size, below and above the baseline
_SLACK = 0.5  # points: boxes that merely touch do not overlap


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float
    owner: str  # the node, edge or cluster it belongs to
    text: str = ""

    def overlaps(self, other: "Box") -> bool:
        return (self.x0 < other.x1 - _SLACK and other.x0 < self.x1 - _SLACK
                and self.y0 < other.y1 - _SLACK and other.y0 < self.y1 - _SLACK)

    def holds(self, x: float, y: float) -> bool:
        return self.x0 + _SLACK < x < self.x1 - _SLACK and self.y0 + _SLACK < y < self.y1 - _SLACK


def layout(dot_source: str, dot_program: str = "dot") -> dict:
    """Graphviz's layout of ``dot_source`` as JSON data."""
    done = subprocess.run([dot_program, "-Tjson"], input=dot_source.encode(), capture_output=True,
                          check=True, timeout=120)
    return json.loads(done.stdout)


def texts(data: dict) -> list:
    """The box of every text drawn: node and edge labels, cluster titles, the legend."""
    boxes = []
    for kind, items in (("node", data.get("objects", [])), ("edge", data.get("edges", []))):
        for item in items:
            owner = _owner(kind, item, data)
            for key in ("_ldraw_", "_xldraw_", "_hldraw_", "_tldraw_"):
                boxes += _text_boxes(item.get(key, []), owner)
    boxes += _text_boxes(data.get("_ldraw_", []), "graph")
    return boxes


def nodes(data: dict) -> list:
    """The bounding box of every node (clusters excluded)."""
    boxes = []
    for item in data.get("objects", []):
        if "pos" in item and "width" in item:
            x, y = map(float, item["pos"].split(","))
            w, h = float(item["width"]) * 36, float(item["height"]) * 36
            boxes.append(Box(x - w, y - h, x + w, y + h, _owner("node", item, data)))
    return boxes


def clusters(data: dict) -> list:
    boxes = []
    for item in data.get("objects", []):
        if "bb" in item and "nodes" in item:
            x0, y0, x1, y1 = map(float, item["bb"].split(","))
            boxes.append(Box(x0, y0, x1, y1, item["name"]))
    return boxes


def edge_points(data: dict, step: int = 24) -> dict:
    """Points along every edge's curve and the outline of its arrowhead: {owner: [(x, y)...]}."""
    points = {}
    for item in data.get("edges", []):
        curve = []
        for op in item.get("_draw_", []) + item.get("_hdraw_", []) + item.get("_tdraw_", []):
            if op["op"] in ("b", "B"):
                curve += _bezier(op["points"], step)
            elif op["op"] in ("p", "P", "L"):
                corners = op["points"] + op["points"][:1]
                curve += [_between(a, b, k / 8) for a, b in zip(corners, corners[1:]) for k in range(9)]
        points[_owner("edge", item, data)] = curve
    return points


def _between(a, b, t: float) -> tuple:
    return tuple(p + (q - p) * t for p, q in zip(a, b))


def problems(dot_source: str) -> list:
    """Everything a reader would trip over: texts on top of each other, a text on a node
    that is not its own, an edge through a text, a cluster's border through a text."""
    data = layout(dot_source)
    words, shapes, frames = texts(data), nodes(data), clusters(data)
    names = {i["_gvid"]: i["name"] for i in data.get("objects", [])}
    found = []
    for i, a in enumerate(words):
        found += [f"{a.text!r} ({a.owner}) overlaps {b.text!r} ({b.owner})"
                  for b in words[i + 1:] if a.owner != b.owner and a.overlaps(b)]
        found += [f"{a.text!r} ({a.owner}) lies on the node {s.owner}"
                  for s in shapes if s.owner != a.owner and a.overlaps(s)]
        found += [f"the border of {f.owner} crosses {a.text!r} ({a.owner})"
                  for f in frames if a.overlaps(f) and not _within(a, f)]
    curves = edge_points(data)
    shape_of = {s.owner: s for s in shapes}
    for edge in data.get("edges", []):
        owner = _owner("edge", edge, data)
        ends = {names[edge["tail"]], names[edge["head"]]}
        for a in words:
            # An edge may reach into its own ends (a gate's pins); not through their outside labels.
            if a.owner in ends and a.owner in shape_of and _inside(a, shape_of[a.owner]):
                continue
            if any(a.holds(x, y) for x, y in curves[owner]):
                found.append(f"the edge {owner} runs through {a.text!r} ({a.owner})")
    return found


def _inside(a: Box, frame: Box) -> bool:
    return (frame.x0 - _SLACK <= a.x0 and a.x1 <= frame.x1 + _SLACK
            and frame.y0 - _SLACK <= a.y0 and a.y1 <= frame.y1 + _SLACK)


def _within(a: Box, frame: Box) -> bool:
    return (frame.x0 + _SLACK <= a.x0 and a.x1 <= frame.x1 - _SLACK
            and frame.y0 + _SLACK <= a.y0 and a.y1 <= frame.y1 - _SLACK)


def _owner(kind: str, item: dict, data: dict) -> str:
    if kind == "node":
        return item["name"]
    names = {i["_gvid"]: i["name"] for i in data.get("objects", [])}
    return f"{names[item['tail']]} -> {names[item['head']]} #{item['_gvid']}"


def _text_boxes(ops: list, owner: str) -> list:
    boxes, size = [], 14.0
    for op in ops:
        if op["op"] == "F":
            size = float(op["size"])
        elif op["op"] == "T" and op["text"].strip():
            x, y = op["pt"]
            width = float(op["width"])
            left = {"l": x, "c": x - width / 2, "r": x - width}[op["align"]]
            boxes.append(Box(left, y - _DESCENT * size, left + width, y + _ASCENT * size, owner, op["text"]))
    return boxes


def _bezier(points: list, step: int) -> list:
    """Points along a piecewise cubic Bézier curve (control points as Graphviz gives them)."""
    out = []
    for i in range(0, len(points) - 3, 3):
        p0, p1, p2, p3 = points[i:i + 4]
        for k in range(step + 1):
            t = k / step
            u = 1 - t
            out.append(tuple(u ** 3 * a + 3 * u * u * t * b + 3 * u * t * t * c + t ** 3 * d
                             for a, b, c, d in zip(p0, p1, p2, p3)))
    return out

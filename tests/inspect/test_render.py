"""render: Graphviz's dot for real, its absence, and the notebook pictures."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

import graphdsl
from graphdsl.inspect import render
from graphdsl.inspect.render import RenderError
from optional import needs_dot

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def mul_add():
    return graphdsl.loads("input x = -2, y = 5, z = -4\nq = x + y\noutput f = q * z", name="m.graph")


@needs_dot
def test_graphviz_draws_svg_png_and_pdf(mul_add):
    source = mul_add.to_dot(mul_add.run())
    svg = ET.fromstring(render.render(source, "svg"))
    assert {"df/dz = 3", "-12", "+"} <= {t.text for t in svg.iter(f"{SVG}text")}
    assert render.render(source, "png").startswith(b"\x89PNG")
    assert render.render(source, "pdf").startswith(b"%PDF")


@needs_dot
def test_a_graphviz_failure_is_a_render_error():
    with pytest.raises(RenderError, match="Graphviz failed"):
        render.render("digraph { a -> }", "svg")


def test_missing_graphviz_says_how_to_install_it(monkeypatch, mul_add):
    monkeypatch.setattr(render, "find_dot", lambda: None)
    with pytest.raises(RenderError, match="apt-get install graphviz"):
        render.render("digraph { a }")
    bundle = mul_add._repr_mimebundle_()
    assert bundle == {"text/plain": mul_add.to_dot()}
    assert mul_add._repr_svg_() is None


@needs_dot
def test_programs_and_results_show_themselves_as_svg(mul_add):
    result = mul_add.run()
    bundle = result._repr_mimebundle_()
    assert bundle["text/plain"] == repr(result)
    texts = {t.text for t in ET.fromstring(bundle["image/svg+xml"]).iter(f"{SVG}text")}
    assert "df/dx = -4" in texts
    assert ET.fromstring(mul_add._repr_svg_()).tag == f"{SVG}svg"


def test_notebooks_do_not_draw_huge_graphs(monkeypatch, mul_add):
    monkeypatch.setattr(render, "PICTURE_LIMIT", 3)
    assert mul_add._repr_mimebundle_() == {"text/plain": repr(mul_add)}


@needs_dot
def test_the_svg_keeps_each_nodes_id_and_class(mul_add):
    svg = ET.fromstring(render.render(mul_add.to_dot(mul_add.run()), "svg"))
    groups = {g.get("id"): g for g in svg.iter(f"{SVG}g")}
    for name, kind in (("x", "input"), ("q", "gate"), ("f", "gate")):
        assert groups[f"node:{name}"].get("class") == f"node {kind}"
        assert groups[f"node:{name}"].find(f"{SVG}title").text == name  # the node's id, as a title
    assert groups["output:f"].get("class") == "node output"
    assert groups["edge:x->q:0"].get("class") == "edge operand"
    assert groups["edge:f->output f:0"].get("class") == "edge output"


@needs_dot
def test_dpi_scales_a_png(mul_add):
    def width(png):
        return int.from_bytes(png[16:20], "big")

    source = mul_add.to_dot(mul_add.run())
    assert abs(width(render.render(source, "png", dpi=288)) - 3 * width(render.render(source, "png"))) <= 3

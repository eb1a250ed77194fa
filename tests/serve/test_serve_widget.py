"""graphdsl.widget: the page's view in Jupyter, answering over the widget's messages,
with the page's own front end (tested in Chromium with a stand-in for anywidget's model)."""
import html
import json
import sys

import pytest

import graphdsl
from browser import Page, needs_browser
from graphdsl.inspect.render import find_dot
from graphdsl.serve import assets
from graphdsl.serve.widget import StaticView

anywidget = pytest.importorskip("anywidget", reason="anywidget is not installed (pip install -e '.[test]')")


def make(path="examples/mul_add.graph", **options):
    view = graphdsl.widget(graphdsl.load(path), **options)
    replies = []
    view.send = lambda content, buffers=None: replies.append(content)
    return view, replies


def ask(view, replies, kind, body):
    view._answer(view, {"id": "v-1", "kind": kind, "body": body})
    reply = replies.pop()
    assert reply["id"] == "v-1"
    return reply["status"], reply["data"]


def test_the_widget_is_an_anywidget_with_the_pages_front_end():
    view, _ = make()
    assert isinstance(view, anywidget.AnyWidget)
    assert view._esm == assets.view_module() and view._css == assets.stylesheet()


def test_the_widget_answers_as_the_server_does():
    view, replies = make("examples/vector_norm.graph", quiz=True)
    status, data = ask(view, replies, "model", {"since": None})
    assert status == 200 and data["quiz"] is True and data["follow"] is False
    status, data = ask(view, replies, "run", {"inputs": {"W": [[1, 2], [3, 4]], "x": [1, -1]}})
    assert status == 200 and data["gradients"]["x"] == [-8.0, -12.0]
    status, data = ask(view, replies, "run", {"inputs": {"x": "oops"}})
    assert status == 400 and "not a number" in data["error"]
    view._answer(view, "not a request")
    view._answer(view, {"kind": "run"})
    assert replies == []


def test_bad_options_are_refused_at_once():
    program = graphdsl.load("examples/mul_add.graph")
    with pytest.raises(graphdsl.BindingError, match="unknown input 'w'"):
        graphdsl.widget(program, inputs={"w": 1})
    with pytest.raises(ValueError, match="'g' is not an output"):
        graphdsl.widget(program, of="g")
    with pytest.raises(TypeError, match="Program"):
        graphdsl.widget("examples/mul_add.graph")


def test_without_anywidget_the_picture_and_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "anywidget", None)  # import anywidget raises ImportError
    view = graphdsl.widget(graphdsl.load("examples/mul_add.graph"), inputs={"x": 1})
    assert isinstance(view, StaticView)
    bundle = view._repr_mimebundle_()
    assert "pip install 'graphdsl[widget]'" in bundle["text/html"]
    if find_dot() is not None:
        assert "<svg" in bundle["text/html"] and "-24" in html.unescape(bundle["text/html"])  # f


HOST = "http://widget.test/"
PAGE = """<!doctype html><link rel="stylesheet" href="/view.css"><div id="view"></div>
<script type="module">
import widget from "/view.js";
const listeners = [];
const model = {
  on(name, listener) { listeners.push(listener); },
  off(name, listener) { listeners.splice(listeners.indexOf(listener), 1); },
  send(message) {
    window.toKernel(JSON.stringify(message)).then((reply) => {
      for (const listener of [...listeners]) listener(JSON.parse(reply));
    });
  },
};
widget.render({ model, el: document.getElementById("view") });
</script>"""


@needs_browser
@pytest.mark.skipif(find_dot() is None, reason="Graphviz's dot is not installed")
def test_the_view_in_a_browser_over_widget_messages(chromium):
    view, replies = make("examples/sigmoid_neuron.graph")

    def to_kernel(text):
        view._answer(view, json.loads(text))
        return json.dumps(replies.pop())

    files = {"": (PAGE, "text/html"), "view.js": (assets.view_module(), "text/javascript"),
             "view.css": (assets.stylesheet(), "text/css")}
    page = chromium.new_page()
    try:
        page.expose_function("toKernel", to_kernel)
        page.route(HOST + "**", lambda route: route.fulfill(
            body=files[route.request.url[len(HOST):]][0], content_type=files[route.request.url[len(HOST):]][1]))
        shown = Page.__new__(Page)
        shown.page, shown.errors = page, []
        page.on("pageerror", lambda err: shown.errors.append(str(err)))
        page.goto(HOST)
        shown.settled()
        assert page.get_attribute('[data-node="w0"]', "data-grad") == "-0.19661193324148188"
        shown.change("x0", "1")
        expected = graphdsl.load("examples/sigmoid_neuron.graph").run(x0=1.0)
        assert float(page.text_content('[data-output="f"]')) == expected.outputs["f"]
        assert float(page.get_attribute('[data-node="x0"]', "data-grad")) == expected.grads["x0"]
        assert shown.errors == []
    finally:
        page.close()

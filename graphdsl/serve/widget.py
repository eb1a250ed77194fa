"""``graphdsl.widget(program)``: the view of ``graphrun serve`` inside Jupyter.

The widget is an anywidget whose module is the page's own front end (assets.py): the
view sends its requests as custom messages instead of HTTP, and the same Session that
answers the server answers them here. Without anywidget (``pip install
'graphdsl[widget]'``) the picture is shown instead, with a line saying what to install.
"""
from __future__ import annotations

from html import escape

from . import assets
from .follow import FixedModel
from .session import Session

INSTALL = "pip install 'graphdsl[widget]'"


def widget(program, *, inputs: dict | None = None, quiz: bool = False, of: str | None = None):
    """The interactive view of ``program``: sliders, the picture with values and gradients,
    the explain steps, step/reset/check; ``inputs`` are the starting values, ``quiz`` hides
    the gradients behind an answer field per node, ``of`` is the output differentiated first.

    >>> import graphdsl                                           # doctest: +SKIP
    >>> graphdsl.widget(graphdsl.load("examples/mul_add.graph"))  # doctest: +SKIP
    """
    from ..program import Program

    if not isinstance(program, Program):
        raise TypeError(f"widget takes a graphdsl Program, got {type(program).__name__}")
    if of is not None and of not in program.outputs:
        raise ValueError(f"'{of}' is not an output (outputs: {', '.join(program.outputs)})")
    session = Session(FixedModel(program), inputs, quiz, of)
    program.run({**session.start_values(program), **(inputs or {})}, of=of)  # bad values: say so here
    try:
        import anywidget  # noqa: F401  (the optional extra)
    except ImportError:
        return StaticView(program, session)
    return _widget_class()(session)


_CLASS = None


def _widget_class():
    """The anywidget class, made on first use (anywidget is imported only then)."""
    global _CLASS
    if _CLASS is None:
        import anywidget

        class GraphWidget(anywidget.AnyWidget):
            """The page's view; requests arrive as {id, kind, body}, answers go back as
            {id, status, data}."""

            _esm = assets.view_module()
            _css = assets.stylesheet()

            def __init__(self, session, **kwargs):
                super().__init__(**kwargs)
                self.session = session
                self.on_msg(self._answer)

            def _answer(self, _widget, content, _buffers=None):
                if not isinstance(content, dict) or "id" not in content:
                    return
                kind, body = content.get("kind"), content.get("body")
                body = body if isinstance(body, dict) else {}
                if kind == "model":
                    status, data = self.session.handle("model", since=body.get("since"))
                else:
                    status, data = self.session.handle(str(kind), body)
                self.send({"id": content["id"], "status": status, "data": data})

        _CLASS = GraphWidget
    return _CLASS


class StaticView:
    """What ``widget`` shows without anywidget: the picture, and how to get the view."""

    def __init__(self, program, session):
        self.program, self.session = program, session

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        from ..inspect.render import mimebundle

        result = self.program.run(self.session.start_values(self.program), of=self.session.of)
        bundle = mimebundle(self.program, result)
        note = f"The interactive view needs anywidget: {INSTALL}"
        html = f"<p><em>{escape(note, quote=False)}</em></p>"
        if "image/svg+xml" in bundle:
            svg = bundle["image/svg+xml"]
            html += svg[svg.find("<svg"):]  # without the XML prolog, inside HTML
        else:
            html += f"<pre>{escape(bundle['text/plain'])}</pre>"
        return {"text/html": html, "text/plain": f"{note}\n{bundle['text/plain']}"}

"""graphdsl: computational graphs written as text, run forward and backward.

>>> import graphdsl
>>> prog = graphdsl.loads("input x = -2, y = 5, z = -4\\nq = x + y\\noutput f = q * z")
>>> res = prog.run()
>>> res.outputs["f"], res.grads["x"], res.grads["z"]
(-12.0, -4.0, 3.0)
"""
from .errors import (BindingError, DivergenceWarning, GraphDefinitionError, GraphError,
                     GraphLimitError, GraphSyntaxError, NumericError, ShapeError)
from .program import BatchResult, Program, Result, load, loads

__version__ = "0.1.0"

__all__ = ["load", "loads", "Program", "Result", "BatchResult", "GraphError", "GraphSyntaxError",
           "GraphDefinitionError", "GraphLimitError", "BindingError", "NumericError", "ShapeError",
           "DivergenceWarning", "widget", "__version__"]


def widget(program, **options):
    """The interactive view of ``graphrun serve`` in Jupyter (``pip install 'graphdsl[widget]'``);
    see graphdsl.serve.widget.widget for the options (inputs, quiz, of)."""
    from .serve.widget import widget as view

    return view(program, **options)


def load_ipython_extension(ipython):
    """``%load_ext graphdsl``: the cell magic ``%%graph NAME`` (see graphdsl.notebook)."""
    from .notebook import load_ipython_extension as load

    load(ipython)

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
           "DivergenceWarning", "__version__"]

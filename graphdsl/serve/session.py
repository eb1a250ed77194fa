"""What the page asks and what it is answered, whatever carries the messages (the HTTP
server of ``graphrun serve``, or a Jupyter widget's comm).

Three requests: ``model`` (the model's description, and whether its file changed),
``run`` (SPEC §6's /api/run: the object of ``graphrun --json`` plus ``values`` and
``node_grads``; on request the explain steps, the gradient check, and the text of every
number on the picture: ``labels``) and ``picture`` (the annotated SVG of a run, see
picture.py). Every answer is ``(status, data)``: 200, 400 for a request that cannot be
answered (with ``{"error", "line", "column"}``, and ``text``: the error as graphrun
prints it), or 500 for a bug in graphdsl (a message, never a traceback).
"""
from __future__ import annotations

import threading

import numpy as np

from ..inspect.report import json_object
from ..errors import GraphError
from ..inspect.explain import NodeNames, explain
from ..inspect.numbers import shape_text, to_json
from ..inspect.gradcheck import check_gradients
from ..inspect.render import PICTURE_LIMIT
from .picture import PictureUnavailable, draw, labels
from .requests import BadRequest, parse_body, run_request


class Session:
    """One model (a FollowedFile or a FixedModel, see follow.py) and the page's settings:
    ``start`` values given on the command line (reset returns to them), ``quiz``, ``of``."""

    def __init__(self, model, start: dict | None = None, quiz: bool = False, of: str | None = None):
        self.model, self.start, self.quiz, self.of = model, dict(start or {}), quiz, of
        self._described = (None, None)  # (version, description)
        self._lock = threading.Lock()

    def handle(self, kind: str, body=b"", since=None) -> tuple:
        """Answer one request: ``(status, data)``; never raises."""
        try:
            if kind == "model":
                return 200, self.describe(since)
            data = parse_body(body) if isinstance(body, (bytes, bytearray)) else body
            if not isinstance(data, dict):
                raise BadRequest("the request must be a JSON object")
            if kind == "run":
                return 200, self.run(run_request(data))
            if kind == "picture":
                return 200, self.picture(run_request(data, "picture"))
            raise BadRequest(f"unknown request '{kind}'")
        except BadRequest as err:
            return 400, error_json(err.message)
        except GraphError as err:
            return 400, error_json(err.message, err)
        except MemoryError:
            return 400, error_json("out of memory: these inputs make arrays too large for this machine")
        except RecursionError:
            return 400, error_json("the request nests too deeply")
        except Exception as err:  # a bug in graphdsl: say so, keep serving
            return 500, error_json(f"internal error: {type(err).__name__}: {err} (this is a bug in graphdsl)")

    # ------------------------------------------------------------ the requests
    def describe(self, since=None) -> dict:
        """The model's description, or only its version when the page already has it."""
        self.model.refresh()
        version = self.model.version
        if since is not None and str(since) == str(version):
            return {"version": version, "unchanged": True}
        error = self.model.error
        with self._lock:
            if self._described[0] != version:
                program = self.model.program
                self._described = (version, None if program is None else self._description(program))
            description = self._described[1]
        return {"version": version, "file": self.model.file, "follow": self.model.follows,
                "quiz": self.quiz, "model": description,
                "error": None if error is None else error_json(error.message, error, self.model.file)}

    def run(self, request) -> dict:
        """SPEC §6's /api/run."""
        program = self._program()
        result = program.run(request.bindings, of=request.of)
        steps = explain(result) if request.explain else None
        report = (check_gradients(program, result.of, 1e-6, 1e-5, request.bindings)
                  if request.check else None)
        return self._answer(result, steps, report, request.labels)

    def picture(self, request) -> dict:
        """The annotated picture of a run, with the run's answer (explain steps included)."""
        program = self._program()
        result = program.run(request.bindings, of=request.of)
        # A graph too large to draw gets no steps either: a page cannot show 100,000 of them.
        steps = explain(result) if len(program.forward_order) <= PICTURE_LIMIT else None
        answer = {"run": self._answer(result, steps, None, True)}
        try:
            answer["svg"], answer["complete"] = draw(program, result, steps)
        except PictureUnavailable as err:
            answer["svg"], answer["message"] = None, str(err)
        return answer

    # ------------------------------------------------------------ helpers
    def _program(self):
        self.model.refresh()
        if self.model.error is not None:
            raise self.model.error
        return self.model.program

    @staticmethod
    def _answer(result, steps, report, with_labels: bool = False) -> dict:
        data = json_object(result, True, steps, report)
        values = result.values
        data["values"] = to_json(values)
        data["node_grads"] = to_json(result.node_grads)
        if with_labels and len(result.program.forward_order) <= PICTURE_LIMIT:
            data["labels"] = labels(result.program, result, steps, values)
        return data

    def _description(self, program) -> dict:
        graph, names = program.graph, NodeNames(program.graph)
        starts = self.start_values(program)
        leaves = [{"name": name, "kind": graph.nodes[name]["kind"], "start": to_json(starts[name]),
                   "shape": _declared(graph.nodes[name].get("shape"))}
                  for name in program.inputs + program.params]
        nodes = {node: {"kind": graph.nodes[node]["kind"], "statement": names.statement(node),
                        "line": _line(graph.nodes[node]), "args": list(graph.nodes[node].get("args", ()))}
                 for node in program.forward_order}
        of = self.of if self.of in program.outputs else program.outputs[0]
        return {"leaves": leaves, "outputs": list(program.outputs), "of": of, "nodes": nodes,
                "order": list(program.forward_order)}

    def start_values(self, program) -> dict:
        """The value each input and param starts at (and *reset* returns to): the command
        line's, else the model's default, else zeros of the declared shape."""
        values = program.defaults()
        values.update({k: v for k, v in self.start.items() if k in program.inputs + program.params})
        for name in program.inputs + program.params:
            if name not in values:
                shape = program.graph.nodes[name].get("shape") or ()
                numeric = all(isinstance(n, int) for n in shape)
                values[name] = np.zeros(shape) if shape and numeric else 0.0
        return values


def error_json(message: str, err: GraphError | None = None, file: str | None = None) -> dict:
    """SPEC §6's error object, plus ``text``: the error as graphrun prints it."""
    line = err.line if err is not None else None
    column = err.column if err is not None else None
    text = err.render(file=file) if err is not None else f"error: {message}"
    return {"error": message, "line": line, "column": column, "text": text}


def _declared(shape) -> str | None:
    return None if shape is None else shape_text(shape)


def _line(data: dict):
    span = data.get("span")
    return span.line if span else None

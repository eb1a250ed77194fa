"""The error tree and its one renderer: ``FILE:LINE:COL: error: MESSAGE``, the line, a caret."""
from __future__ import annotations

import difflib
import re
from typing import NamedTuple

# An error message names what it blames; a 20,000-character name (or number, or list of
# names) must not turn one line of stderr into 40 KB. Longer words and messages are cut
# in the middle, keeping both ends so the word stays recognisable.
LONGEST_WORD, LONGEST_MESSAGE = 120, 1000
_LONG_WORD = re.compile(rf"\S{{{LONGEST_WORD + 1},}}")


class Span(NamedTuple):
    """A place in a source file; ``line`` and ``column`` are 1-based.

    A named tuple rather than a frozen dataclass: one is made for nearly every token of a
    file, and a tuple takes a fifth of the time to make and half the memory to keep."""

    file: str
    line: int
    column: int
    source_line: str = ""


class GraphError(Exception):
    """Base of every error a user's model, bindings or numbers can cause.

    ``line`` and ``column`` are 1-based, or ``None`` when no place in the
    source is to blame (an unknown binding, say).
    """

    def __init__(self, message: str, span: Span | None = None):
        message = shorten(message)
        super().__init__(message)
        self.message = message
        self.span = span

    @property
    def file(self) -> str | None:
        return self.span.file if self.span else None

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    def render(self, file: str | None = None) -> str:
        """The message as a compiler prints it: location, source line, caret."""
        span = self.span
        if span is None:
            where = f"{file}: " if file else ""
            return _printable(f"{where}error: {self.message}")
        head = _printable(f"{span.file}:{span.line}:{span.column}: error: {self.message}")
        if not span.source_line:
            return head
        line, column = _window(span.source_line.expandtabs(1), span.column)
        return f"{head}\n    {_printable(line)}\n    " + " " * (column - 1) + "^"

    def __str__(self) -> str:
        if self.span is None:
            return self.message
        return f"{self.span.file}:{self.span.line}:{self.span.column}: {self.message}"


def shorten(message: str) -> str:
    """``message`` with every word over LONGEST_WORD characters, and then the whole
    message if it is over LONGEST_MESSAGE, cut in the middle.

    >>> shorten("unknown name '" + "a" * 20000 + "'")
    "unknown name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...[19,922 characters]...aaaaaaaaaaaaaaaaaaa'"
    """
    if len(message) <= LONGEST_WORD:
        return message
    message = _LONG_WORD.sub(lambda m: _cut(m.group(), 60, 20), message)
    return _cut(message, 700, 200) if len(message) > LONGEST_MESSAGE else message


def _cut(text: str, head: int, tail: int) -> str:
    return f"{text[:head]}...[{len(text) - head - tail:,} characters]...{text[-tail:]}"


def _printable(text: str) -> str:
    """The text with every control character (an escape sequence in a hostile file would
    drive the terminal) shown as U+FFFD, one character for one, so carets stay aligned."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\n" else "\ufffd" for c in text)


def _window(line: str, column: int, width: int = 100) -> tuple:
    """The part of a long source line around ``column`` (a 50 MB line is not a message),
    and where the column falls in it."""
    column = min(column, len(line) + 1)
    if len(line) <= width:
        return line, column
    start = max(0, min(column - 1 - width // 2, len(line) - width))
    before = "..." if start else ""
    after = "..." if start + width < len(line) else ""
    return before + line[start:start + width] + after, column - start + len(before)


class GraphSyntaxError(GraphError):
    """The text does not parse."""


class GraphDefinitionError(GraphError):
    """A well-formed file that does not define a graph: unknown or twice-defined
    names, cycles, unknown gates, wrong arity, bad options, recursive gates."""


class GraphLimitError(GraphDefinitionError):
    """The graph would expand beyond the node limit."""


class BindingError(GraphError):
    """A missing, unknown or wrongly shaped binding."""


class NumericError(GraphError):
    """A gate failed or produced a non-finite number on the bound values."""


class ShapeError(NumericError, BindingError):
    """A gate cannot combine the shapes of its operands (broadcasting, matmul). Found while
    running, so a NumericError at the gate's line; caused by values bound with shapes that
    do not fit the model, so a BindingError too (docs/api.md: a wrongly shaped binding)."""


class DivergenceWarning(RuntimeWarning):
    """Training went on, but its loss blew up (see graphdsl.train.fit): the learning rate is
    probably too large."""


# ---------------------------------------------------------------- of the later stages


class DataFileError(GraphError):
    """A data file that cannot be read, or does not hold the numbers it should."""


class DataError(BindingError):
    """Training data that does not fit the model. ``input`` names the data input to blame,
    ``row`` the sample (0-based) and ``item`` the entry within that sample (flat), when known."""

    def __init__(self, message: str, input: str | None = None, row: int | None = None,
                 item: int = 0, span=None):
        super().__init__(message, span)
        self.input, self.row, self.item = input, row, item


class TrainingError(GraphError):
    """A model that cannot be trained: no param, or a loss that is not a scalar."""


class RenderError(GraphError):
    """Graphviz is missing, or failed to draw the picture."""


class CommandError(Exception):
    """A problem reported as ``graphrun: error: MESSAGE``; ``status`` 1, or 2 for usage."""

    def __init__(self, message: str, status: int = 1):
        message = shorten(message)
        super().__init__(message)
        self.message, self.status = message, status


class UsageError(CommandError):
    """A bad command line: exit status 2."""

    def __init__(self, message: str):
        super().__init__(message, 2)


class NoCode(Exception):
    """A gate has no template in this mode (the caller takes another path)."""


class NotVectorised(Exception):
    """A step a batched value reaches has no batch rule: use the per-row loop."""


class BadRequest(Exception):
    """A request the API cannot read: answered 400 with ``message``."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class PictureUnavailable(Exception):
    """No picture can be drawn (no Graphviz, a graph too large to draw): the page says why."""


def closest(name, candidates) -> str:
    """"; did you mean 'x'?" for the closest of ``candidates`` to a mistyped ``name``, or ""."""
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""

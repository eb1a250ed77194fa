"""The text of a model: read from a file (bounded, UTF-8) or checked when given as a str."""
from __future__ import annotations

from numbers import Integral

from ..errors import GraphLimitError, GraphSyntaxError, Span

MAX_FILE_BYTES = 2**30  # far beyond any graph the node limit lets through


def read_text(file, name: str) -> str:
    """The text of a model from a binary file object (a file, or standard input), named
    ``name`` in errors: UTF-8, at most MAX_FILE_BYTES."""
    data = file.read(MAX_FILE_BYTES + 1)  # bounded: /dev/zero or a FIFO must not read forever
    if len(data) > MAX_FILE_BYTES:
        raise GraphLimitError(f"the file is larger than {MAX_FILE_BYTES:,} bytes: not a model "
                              f"graphdsl can build", Span(name, 1, 1))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise GraphSyntaxError(f"the file is not UTF-8 text (byte 0x{data[err.start]:02x})",
                               Span(name, line, column)) from None


def check_loads(text, max_nodes) -> str:
    """``loads``' arguments checked; the text without a byte-order mark."""
    if not isinstance(text, str):
        raise TypeError(f"loads takes the text of a .graph file as a str, got {type(text).__name__}"
                        + (" (decode it first, or use load(path))" if isinstance(text, bytes) else ""))
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, Integral) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a whole number >= 1, got {max_nodes!r}")
    return text[1:] if text.startswith("\ufeff") else text

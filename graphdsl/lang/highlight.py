"""A Pygments lexer for .graph files, registered under the name ``graph`` and the file
pattern ``*.graph`` (``pip install 'graphdsl[highlight]'``):

    pygmentize -l graph model.graph

It also colours code blocks marked ``graph`` in Sphinx and in notebooks exported by
nbconvert. Pygments is an optional extra: nothing else in graphdsl imports this module.

The lexer's built-in words are the gate table's names (importing graphdsl imports it
anyway), repeat and the initializers.
"""
from __future__ import annotations

import re

from pygments.lexer import RegexLexer, bygroups, include, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, Whitespace

from ..gates import GATES
from .syntax import KEYWORDS

BUILTINS = tuple(sorted(GATES)) + ("repeat", "normal", "uniform", "zeros")  # and the initializers of '~'

NAME = r"[A-Za-z_][A-Za-z0-9_]*"  # ASCII only, as the grammar's NAME
FLOAT = r"(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+"


class GraphLexer(RegexLexer):
    """The ``.graph`` language of graphdsl: keywords, gate names (built-in and
    compound, where they are defined and where they are called), numbers, comments,
    operators; option names inside calls."""

    name = "graph"
    aliases = ["graph", "graphdsl"]
    filenames = ["*.graph"]
    mimetypes = ["text/x-graphdsl"]
    # Pygments' Roboconf lexer claims *.graph too: win the filename (and the text) over it.
    priority = 0.1

    def analyse_text(text):
        declares = re.search(r"^\s*(input|param|gate)\b", text, re.MULTILINE)
        return 0.5 if declares and re.search(r"^\s*output\b", text, re.MULTILINE) else 0.0

    tokens = {
        "root": [  # where 'name =', 'name: [...]' and 'name ~' define a name
            (rf"({NAME})(\s*)(=)(?!=)", bygroups(Name.Variable, Whitespace, Operator)),
            (rf"{NAME}(?=\s*[:~])", Name.Variable),
            include("common"),
        ],
        "call": [  # inside ( ): 'axis=-1' names an option
            (rf"({NAME})(\s*)(=)(?!=)", bygroups(Name.Attribute, Whitespace, Operator)),
            include("common"),
        ],
        "common": [
            (r"\s+", Whitespace),
            (r"#.*?$", Comment.Single),
            (rf"(gate)(\s+)({NAME})", bygroups(Keyword, Whitespace, Name.Function)),
            (words(KEYWORDS, prefix=r"\b", suffix=r"\b"), Keyword),
            (r"\bNone\b", Keyword.Constant),
            # repeat(g, n, x): g names a gate
            (rf"(repeat)(\s*)(\()(\s*)({NAME})",
             bygroups(Name.Builtin, Whitespace, Punctuation, Whitespace, Name.Function), "call"),
            (words(BUILTINS, prefix=r"\b", suffix=r"(?=\s*\()"), Name.Builtin),
            (rf"{NAME}(?=\s*\()", Name.Function),
            (NAME, Name),
            (FLOAT, Number.Float),
            (r"[0-9]+", Number.Integer),
            (r"\*\*|==|!=|<=|>=|[-+*/@<>=~]", Operator),
            (r"\(", Punctuation, "call"),
            (r"\)", Punctuation, "#pop"),
            (r"[\[\]{},;:]", Punctuation),
        ],
    }

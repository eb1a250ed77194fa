"""Text -> syntax: the LALR parser is built once; brackets are tracked here so that
newlines inside ( ) and [ ] do not end a statement, and parse errors are phrased
for people."""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedToken, VisitError

from . import hints, quickparse
from . import syntax as S
from .tosyntax import ToSyntax, span_at
from ..errors import GraphSyntaxError

_OPEN = {"LPAR": "(", "LSQB": "[", "LBRACE": "{"}
_CLOSE = {"RPAR": "LPAR", "RSQB": "LSQB", "RBRACE": "LBRACE"}
_EXPR_START = {"NAME", "NUMBER", "LPAR", "LSQB", "MINUS"}
_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "_NL": "a new line", "$END": "the end of the file",
    "SEMICOLON": "';'", "COMMA": "','", "COLON": "':'", "EQUAL": "'='", "TILDE": "'~'",
    "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "LBRACE": "'{'", "RBRACE": "'}'",
    "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'", "AT": "'@'", "POW": "'**'",
    "LESS": "'<'", "LESS_EQUAL": "'<='", "GREATER": "'>'", "GREATER_EQUAL": "'>='", "EQUAL_EQUAL": "'=='",
    "NOT_EQUAL": "'!='",
}
_COMPARISONS = {"LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL_EQUAL", "NOT_EQUAL"}
_ARITHMETIC = {"PLUS", "MINUS", "STAR", "SLASH", "AT", "POW"}
_OPERATORS = _ARITHMETIC | _COMPARISONS | {"EQUAL", "COMMA", "TILDE", "COLON"}


def _grammar_path() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "grammars" / "graph.lark", here.parent.parent / "grammars" / "graph.lark"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("graph.lark is missing from the graphdsl installation")


@lru_cache(maxsize=1)
def _parser() -> Lark:
    # The transformer runs inline: syntax objects are built as rules reduce, with no
    # intermediate parse tree (positions come from the tokens the rules keep).
    return Lark(_grammar_path().read_text(encoding="utf-8"), parser="lalr", lexer="basic",
                maybe_placeholders=True, transformer=_TO_SYNTAX)


def parse(text: str, file: str = "<string>") -> S.Module:
    """Parse the text of a .graph file into a :class:`syntax.Module`.

    >>> parse("q = x + y").statements[0].expr.gate
    'add'
    """
    lines = text.split("\n")
    fast, text = quickparse.split(text, lines, file)  # simple lines skip Lark (see quickparse)
    with _LOCK:  # the inline transformer holds the file being parsed
        _TO_SYNTAX.file, _TO_SYNTAX.lines = file, lines
        try:
            statements = _parse_tree(text, file, lines)
        except VisitError as err:
            raise err.orig_exc from None
        finally:
            _TO_SYNTAX.lines = []
    return S.Module(file, tuple(quickparse.merge(statements, fast)))


_span = span_at


def _describe(token: Token) -> str:
    if token.type in ("NAME", "NUMBER"):
        return f"'{token}'"
    return _WORDS.get(token.type, f"'{token}'")


def _parse_tree(text: str, file: str, lines: list):
    lark = _parser()
    state = lark.parse_interactive(None)
    opened: list = []  # stack of open bracket tokens
    previous = None
    skipped_newline = False
    try:
        for token in lark.lex(text):
            kind = token.type
            if kind == "_NL" and opened and opened[-1].type != "LBRACE":
                skipped_newline = True
                continue
            if kind == "_NL" and previous is not None and previous.type == "_NL":
                continue  # a run of separators parses as one (and quickparse leaves many)
            if kind in _OPEN:
                opened.append(token)
            elif kind in _CLOSE:
                _close(opened, token, file, lines)
            try:
                state.feed_token(token)
            except UnexpectedToken as err:
                raise _syntax_error(err, previous, opened, skipped_newline, file, lines) from None
            previous, skipped_newline = token, False
        if opened:
            raise _unclosed(opened[-1], file, lines)
        end = Token.new_borrow_pos("$END", "", previous) if previous else Token("$END", "", 0, 1, 1)
        try:
            return state.feed_eof(previous) if previous else state.feed_token(end)
        except UnexpectedToken as err:
            raise _syntax_error(err, previous, opened, False, file, lines) from None
    except UnexpectedCharacters as err:
        raise _bad_character(err, text, file, lines) from None


def _close(opened: list, token: Token, file: str, lines: list) -> None:
    if not opened:
        raise GraphSyntaxError(f"unmatched '{token}'", _span(file, lines, token.line, token.column))
    opener = opened.pop()
    if _CLOSE[token.type] != opener.type:
        raise GraphSyntaxError(
            f"'{token}' does not match '{opener}' opened at line {opener.line}, column {opener.column}",
            _span(file, lines, token.line, token.column))


def _unclosed(opener: Token, file: str, lines: list) -> GraphSyntaxError:
    closer = {"(": ")", "[": "]", "{": "}"}[str(opener)]
    return GraphSyntaxError(f"'{opener}' is never closed: expected '{closer}'",
                            _span(file, lines, opener.line, opener.column))


def _bad_character(err: UnexpectedCharacters, text: str, file: str, lines: list) -> GraphSyntaxError:
    char = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
    span = _span(file, lines, err.line, err.column)
    hint = hints.for_character(char, span.source_line, err.column)
    if hint:
        return GraphSyntaxError(hint, span)
    if char == "^":
        return GraphSyntaxError("'^' is not an operator here: write powers as 'x ** 2'", span)
    if char.isdigit() and not char.isascii():
        return GraphSyntaxError(f"unexpected character '{char}': numbers use the digits 0-9", span)
    if char.isprintable() and not char.isascii() and char.isalpha():
        return GraphSyntaxError(f"unexpected character '{char}': names use ASCII letters, digits and '_'", span)
    shown = f"'{char}'" if char.isprintable() else repr(char)
    return GraphSyntaxError(f"unexpected character {shown}", span)


def _syntax_error(err: UnexpectedToken, previous, opened, skipped_newline, file, lines) -> GraphSyntaxError:
    token, expected = err.token, set(err.expected)
    here = token if token.type != "$END" or previous is None else previous
    span = _span(file, lines, here.line, here.column + (len(here) if here is previous else 0))
    if opened and skipped_newline and opened[-1].type != "LBRACE":
        return _unclosed(opened[-1], file, lines)
    hint = hints.for_token(token, previous, expected, lines)
    if hint:
        message, place = hint
        return GraphSyntaxError(message, _span(file, lines, place.line, place.column))
    if opened and opened[-1].type == "LBRACE" and token.type in ("INPUT", "PARAM", "OUTPUT", "GATE"):
        return GraphSyntaxError(f"'{token}' is not allowed inside a gate body; is the '}}' of the "
                                f"'{{' at line {opened[-1].line} missing?", span)
    if token.type == "RETURN" and not opened:
        return GraphSyntaxError("'return' is only allowed inside a gate body", span)
    if previous is not None and previous.type in ("INPUT", "PARAM", "OUTPUT", "GATE") and \
            token.type in ("_NL", "SEMICOLON", "$END"):  # a bare 'output': the name is missing
        return GraphSyntaxError(f"expected a name after '{previous}', found {_describe(token)}", span)
    if previous is not None and previous.type in ("INPUT", "PARAM", "OUTPUT", "GATE") and \
            token.type in ("EQUAL", "COMMA", "COLON"):
        return GraphSyntaxError(f"'{previous}' is a keyword and cannot be used as a name",
                                _span(file, lines, previous.line, previous.column))
    if token.type in ("INPUT", "PARAM", "OUTPUT", "GATE", "RETURN") and "NAME" in expected:
        return GraphSyntaxError(f"'{token}' is a keyword and cannot be used as a name", span)
    if _EXPR_START <= expected and previous is not None and previous.type in _OPERATORS | _OPEN.keys():
        return GraphSyntaxError(f"missing operand: expected an expression after {_describe(previous)}"
                                f", found {_describe(token)}", span)
    if token.type == "EQUAL" and "NAME" not in expected:
        return GraphSyntaxError("the left side of '=' must be a single name", span)
    if {"PLUS", "STAR"} <= expected and token.type in ("NAME", "NUMBER") and previous is not None:
        return GraphSyntaxError(f"expected an operator between {_describe(previous)} and "
                                f"{_describe(token)} (multiplication is written '*')", span)
    return GraphSyntaxError(f"expected {_expected(_closers_open(expected, opened))}, found "
                            f"{_describe(token)}", span)


def _closers_open(expected: set, opened: list) -> set:
    """Only the innermost open bracket may be closed: drop the other closers LALR allows."""
    allowed = {name for name, opener in _CLOSE.items() if opened and opened[-1].type == opener}
    return {name for name in expected if name not in _CLOSE or name in allowed}


def _expected(expected: set) -> str:
    words = []
    if _EXPR_START <= expected:
        words.append("an expression")
        expected = expected - _EXPR_START
    if expected & {"_NL", "SEMICOLON", "$END"}:
        words.append("the end of the statement")
        expected = expected - {"_NL", "SEMICOLON", "$END"}
    if {"PLUS", "STAR"} <= expected:
        words.append("an operator")
        expected = expected - _ARITHMETIC - _COMPARISONS
    words += sorted(_WORDS.get(name, name.lower()) for name in expected)
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else (words[0] if words else "nothing")


_TO_SYNTAX = ToSyntax()
_LOCK = threading.Lock()

"""What students type that the language does not have, and what to write instead.

The parser asks here when a character or a token stops it (parse.py); each hint is
written once.
"""
from __future__ import annotations

import difflib
import re
import unicodedata

from .syntax import KEYWORDS


CHAINED = ("comparisons do not chain: write 'a < b < c' as '(a < b) * (b < c)' (1 where both hold), "
           "or put parentheses around the comparison meant first")
ASSIGNED_ENTRY = ("'{name}[...] = ...' cannot change entries: each name is defined once, as a whole; "
                  "give the new value a name of its own, built with where(c, a, b), concat or stack")
OUTPUT_ENTRY = "an output is a name: give the entry one, e.g. 'output first = {name}[...]'"
EMPTY_INDEX = "an index needs at least one item, e.g. x[0], x[-1], x[1:3] or x[:, 0]"
NOT = "'!' is not an operator: write 'a != b' for 'not equal', and '1 - c' for the opposite of a comparison c"
GATE_EXAMPLE = "gate {name}({params}) {{ return {body} }}"

# Unicode operators -> (the ASCII to write, what it does).
_OPERATORS = {
    **dict.fromkeys("×·⋅∙∗⨯✕✖⊙＊", ("*", "multiplication")),
    **dict.fromkeys("÷∕⁄／", ("/", "division")),
    **dict.fromkeys("−–—‐‑‒﹣－", ("-", "subtraction and negation")),
    **dict.fromkeys("＋﹢", ("+", "addition")),
    **dict.fromkeys("≔＝", ("=", "assignment")),
    **{c: (plain, "comparison") for c, plain in (("≤", "<="), ("⩽", "<="), ("≥", ">="), ("⩾", ">="),
                                                ("≠", "!="), ("＜", "<"), ("＞", ">"))},
}
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_WORDS = {"√": "write square roots as sqrt(x)", "∑": "write sums as sum(x)", "Σ": "write sums as sum(x)",
          "π": "write the number 3.141592653589793", "∞": "there is no infinity literal: bind inf "
          "to an input (--inputs x=inf)"}
_METHODS = {"T": "transpose"}  # numpy attribute -> the gate
_OPERAND_BEFORE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*|[0-9.]+|\))\s*$")
_DEFINITION = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(([^()]*)\)\s*(=(?!=)\s*(.*))?$")
_PYTHON_DEF = ("def", "function", "func", "fn", "fun", "lambda")
_COMPARISONS = {"LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL_EQUAL", "NOT_EQUAL"}
_BINARY = {"PLUS", "MINUS", "STAR", "SLASH", "AT", "POW"} | _COMPARISONS


def for_character(char: str, line: str, column: int) -> str | None:
    """The message for a character the lexer does not know, at ``column`` (1-based) of ``line``."""
    following = line[column:column + 1]
    if char == "!":
        return NOT
    if char == "." and following.isalpha():  # numpy's x.sum(), x.T
        method = re.match(r"[A-Za-z_][A-Za-z0-9_]*", line[column:]).group()
        return (f"'.{method}' is not part of the language: gates are called as functions, "
                f"e.g. {_METHODS.get(method, method)}(x) for x.{method}")
    if char in _OPERATORS:
        plain, what = _OPERATORS[char]
        return f"'{char}' is not an operator here: write '{plain}' for {what}"
    if char in "⁰¹²³⁴⁵⁶⁷⁸⁹⁻":
        power = re.match(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+", line[column - 1:]).group().translate(_SUPERSCRIPTS)
        base = _OPERAND_BEFORE.search(line[:column - 1])
        base = "(...)" if base and base.group(1) == ")" else base.group(1) if base else "x"
        return f"'{char}' is not an operator here: write powers with '**', e.g. {base} ** {power}"
    if char in _WORDS:
        return f"'{char}' is not part of the language: {_WORDS[char]}"
    if char.isspace():
        return (f"a Unicode space (U+{ord(char):04X}, {unicodedata.name(char, 'unnamed').lower()}) "
                f"where an ordinary space belongs: retype it as a plain space")
    if unicodedata.category(char) == "Cf":
        return (f"an invisible character (U+{ord(char):04X}, {unicodedata.name(char, 'unnamed').lower()}), "
                f"often pasted with text: delete it")
    return None


def for_token(token, previous, expected: set, lines: list):
    """(message, the token to point at) for a token the parser did not expect after
    ``previous``, or None. Tokens are Lark's: ``type``, ``line`` and ``column`` (1-based)."""
    if previous is None:
        return None
    line = lines[token.line - 1] if 0 < token.line <= len(lines) else ""
    at_start = previous.type == "NAME" and _starts_statement(lines, previous)
    if token.type in _COMPARISONS and previous.type in ("NAME", "NUMBER", "RPAR", "RSQB") and \
            _compared_before(line, token.column):
        return CHAINED, token
    after = line[token.column:token.column + 1]
    if token.type == "EQUAL" and after in ("<", ">"):  # '=<': nothing can start with '<'
        return f"'={after}' is not an operator: write '{after}='", token
    if previous.type == "EQUAL" and str(token)[0] in "<>" and (previous.line, previous.column + 1) == \
            (token.line, token.column):
        return f"'={str(token)[0]}' is not an operator: write '{str(token)[0]}='", previous
    if token.type == "RSQB" and previous.type == "LSQB" and _OPERAND_BEFORE.search(line[:previous.column - 1]):
        return EMPTY_INDEX, token
    name = str(previous) if len(previous) <= 20 else "x"  # in examples
    if token.type == "LSQB" and at_start:
        return ASSIGNED_ENTRY.format(name=name), token
    if token.type == "LSQB" and previous.type == "NAME" and _an_output(line[:previous.column - 1]):
        return OUTPUT_ENTRY.format(name=name), token
    if not at_start:
        return None
    word = str(previous)
    if token.type in ("NAME", "NUMBER"):
        message = _statement_word(word, lines[previous.line - 1][previous.column - 1:])
        return (message, previous) if message else None
    if token.type == "LPAR":
        return _call_statement(lines[previous.line - 1][previous.column - 1:]), previous
    if token.type in _BINARY:
        if line[token.column - 1 + len(token):].startswith("="):
            return (f"'{token}=' is not supported: each name is defined once, so give the new value "
                    f"a new name, e.g. '{word}2 = {word} {token} 1'"), token
        return (f"an expression on its own is not a statement: name its value ('y = {word} {token} ...') "
                f"or output it ('output y = ...')"), token
    return None


def _statement_word(word: str, text: str) -> str | None:
    """``word NAME`` at the start of a statement (``text``): a misspelt keyword, or Python's def."""
    if word.lower() in _PYTHON_DEF:
        match = re.match(r"[A-Za-z_]+\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([^()]*)\)", text)
        name, params = match.groups() if match else ("f", "x")
        example = GATE_EXAMPLE.format(name=name, params=params.strip(), body="...")
        return f"'{word}' is not a keyword: define a gate with '{example}'"
    if word.lower() in KEYWORDS:
        return f"keywords are lower case: write '{word.lower()}'"
    close = difflib.get_close_matches(word.lower(), KEYWORDS, n=1, cutoff=0.6)
    return f"'{word}' is not a keyword: did you mean '{close[0]}'?" if close else None


def _call_statement(text: str) -> str:
    """``f(x) = x * 2`` (a function written as in mathematics), or a call on its own."""
    match = _DEFINITION.match(text.split("#", 1)[0].rstrip().rstrip(";"))
    if match is None or match.group(3) is None:
        return ("a call on its own is not a statement: name its value ('y = f(x)') or output it "
                "('output y = f(x)')")
    name, params, _, body = match.groups()
    body = body.strip() or "..."
    body = body if len(body) <= 40 else body[:37] + "..."
    return (f"a gate is not defined with '=': write "
            f"'{GATE_EXAMPLE.format(name=name, params=params.strip(), body=body)}'")


def _compared_before(line: str, column: int) -> bool:
    """Whether a comparison stands before ``column`` (1-based) of ``line`` in the same
    expression: read backwards, at the token's bracket depth, up to its start."""
    depth = 0
    for i in range(column - 2, -1, -1):
        char = line[i]
        if char in ")]":
            depth += 1
        elif char in "([":
            if depth == 0:
                return False
            depth -= 1
        elif depth == 0 and (char in "<>" or char == "=" and line[i - 1:i] in ("<", ">", "=", "!")):
            return True
        elif depth == 0 and char in "=,;{":
            return False
    return False


def _an_output(before: str) -> bool:
    """Whether the text before a name makes it an output's name: ``output f, g``."""
    before = before.rstrip()
    return before.lstrip().startswith("output") and (before.endswith("output") or before.endswith(","))


def _starts_statement(lines: list, token) -> bool:
    if not 0 < token.line <= len(lines):
        return False
    before = lines[token.line - 1][:token.column - 1].rstrip()
    return before == "" or before.endswith((";", "{"))

"""Random valid .graph programs in hostile layouts, for the formatter and the lexers.

A program is drawn from a seed: inputs and params with defaults spelled every way the
language allows, compound gates, assignments whose expressions nest operators, calls,
unary minus and needless parentheses, and outputs; its statements are shuffled (the
language is declarative). The layout is hostile: tabs and form feeds, no spaces or
many, ';' between statements, line breaks and comments inside brackets, blank lines,
CRLF, no final newline. Every comment carries a marker ``@N@`` and the writer records
the statement it belongs to by SPEC §5's rule, so a test can check where it ends up.

Statement ids, as ``owners`` reads them back from the formatted text: ``leaf:x0`` (a
declaration, by its first name), ``n3`` (an assignment), ``out:f`` (an output line, by
its first name), ``gate:g1``, ``g1.t``, ``g1.return``, ``close:g1`` (a gate's '}'),
``header`` (comments that head the file) and ``end`` (after the last statement).
"""
from __future__ import annotations

import random
import re

NUMBERS = ("3", "0.5", ".5", "1e-1", "2.5E+0", "4.", "10", "0.25e1", "7.000", "1E1")
UNARY = ("sin", "tanh", "exp", "square", "sigmoid", "cos", "abs")
BINARY = ("+", "-", "*", "/", "**")  # (no '@': the values are scalars and 2-vectors)
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")  # parenthesised: they do not chain
SUBSCRIPTS = ("0", "-1", "::2", "1:", ":-1", "::-1", "0:1", " 1 ", "-2:", "1,")
SPACES = ("", " ", "  ", "\t", " \t", "\f ")


class Writer:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.comments: dict = {}  # marker -> the statement id it belongs to
        self.count = 0

    # ------------------------------------------------------------ pieces
    def ws(self, needed: bool = False) -> str:
        """Whitespace between tokens; ``needed`` between two words."""
        return self.rng.choice(SPACES) or (" " if needed else "")

    def comment(self, owner: str) -> str:
        self.count += 1
        marker = f"@{self.count}@"
        self.comments[marker] = owner
        junk = self.rng.choice(("", " x = (1 + [", "\tindented", " ünïcödé ✓", " # again", " ;{}"))
        return "#" + self.rng.choice(("", " ")) + marker + junk + self.rng.choice(("", " ", "\t"))

    def inside_break(self, owner: str) -> str:
        """Between two tokens inside brackets: nothing, a line break, or a comment."""
        roll = self.rng.random()
        if roll < 0.75:
            return self.ws()
        if roll < 0.9:
            return "\n" + self.ws()
        return self.ws() + self.comment(owner) + "\n" + self.ws()

    def number(self) -> str:
        return self.rng.choice(NUMBERS)

    # ------------------------------------------------------------ expressions
    def expr(self, names: list, depth: int, owner: str, gates: dict) -> str:
        rng = self.rng
        if depth <= 0 or rng.random() < 0.25:
            return rng.choice(names) if rng.random() < 0.7 else self.number()
        kind = rng.random()
        sub = lambda: self.expr(names, depth - 1, owner, gates)
        if kind < 0.35:
            op = rng.choice(BINARY)
            text = f"{sub()}{self.ws()}{op}{self.ws()}{sub()}"
        elif kind < 0.4:
            text = f"({sub()}{self.ws()}{rng.choice(COMPARISONS)}{self.ws()}{sub()})"
        elif kind < 0.55:
            text = "-" + self.ws() + sub()
        elif kind < 0.75:
            text = f"{rng.choice(UNARY)}({self.inside_break(owner)}{sub()}{self.inside_break(owner)})"
        elif kind < 0.85 and gates:
            name, arity = rng.choice(sorted(gates.items()))
            args = [self.inside_break(owner) + sub() for _ in range(arity)]
            text = f"{name}({','.join(args)})"
        elif kind < 0.92:
            pick = rng.randrange(4)  # (each choice draws its own comments: only one is written)
            text = (f"max({sub()}, {sub()})" if pick == 0 else f"sum({sub()})" if pick == 1 else
                    f"mean({sub()},{self.inside_break(owner)}axis=None)" if pick == 2 else
                    f"repeat(sin,{self.ws()}2, {sub()})")
        elif kind < 0.96:
            text = self.newer(names, sub, owner)
        else:
            text = f"[{self.number()},{self.inside_break(owner)}-{self.number()}]"
        if rng.random() < 0.35:  # needless (or needed) parentheses, sometimes doubled
            depth = rng.randint(1, 2)
            text = "(" * depth + self.inside_break(owner) + text + ")" * depth
        return text

    def newer(self, names: list, sub, owner: str) -> str:
        """Indexing, literal-list options and the gates of SPEC §1 "More gates and syntax",
        on values of any of the programs' shapes (a name n stacked twice has two rows);
        every result's dimensions are 1 or 2, so it broadcasts with every other value."""
        rng = self.rng
        n = rng.choice(names)
        twice = f"stack({n},{self.ws()}{n})"
        pick = rng.randrange(6)
        if pick == 0:
            return f"{twice}{self.ws()}[{self.ws()}{rng.choice(SUBSCRIPTS)}]"
        if pick == 1:
            return f"reshape({twice},{self.inside_break(owner)}shape={self.ws()}[2,{self.ws()}-1])[::-1]"
        if pick == 2:
            return f"concat({twice}, {twice}, axis={self.ws()}0)[::2]"
        if pick == 3:
            return f"clip({sub()}, lo=-1,{self.inside_break(owner)}hi={rng.choice(('0.5', 'None', '2'))})"
        if pick == 4:
            return f"where(({sub()} > 0), {sub()}, log_softmax({sub()}))"
        return f"sum(onehot(0 * ({n} == {n}), n=2))"

    # ------------------------------------------------------------ statements
    def leaf(self, name: str, kind: str, owner: str) -> str:
        rng = self.rng
        roll = rng.random()
        if kind == "param" and roll < 0.2:
            init = rng.choice(("normal(0, 1)", "uniform(-1,1)", "zeros()"))
            return f"{name}{self.ws()}:{self.ws()}[2]{self.ws()}~{self.ws()}{init}"
        if roll < 0.4:
            first, second = self.signed(), self.signed()
            return f"{name}: [2{self.ws()}]{self.ws()}={self.ws()}[{first},{self.inside_break(owner)}{second}]"
        return f"{name}{self.ws()}={self.ws()}{self.signed()}"

    def signed(self) -> str:
        sign = self.rng.choice(("", "", "-", "- ", "-(", "- -"))
        return sign + self.number() + (")" if sign.endswith("(") else "")


def program(seed: int) -> tuple:
    """(text, {marker: owner}) of a random valid program."""
    w = Writer(seed)
    rng = w.rng
    statements = []  # (id, text, body) with body a list of (id, text) for gates
    leaves = [f"x{i}" for i in range(rng.randint(1, 3))]
    params = [f"p{i}" for i in range(rng.randint(0, 2))]
    for kind, names in (("input", leaves), ("param", params)):
        groups = [names[i:i + 2] for i in range(0, len(names), 2)]
        for group in groups:
            sid = f"leaf:{group[0]}"
            text = f"{kind}{w.ws(True)}" + f",{w.ws()}".join(w.leaf(n, kind, sid) for n in group)
            statements.append((sid, text, None))
    gates = {}
    for g in range(rng.randint(0, 2)):
        name, arity = f"g{g}", rng.randint(1, 2)
        args = ["a", "b"][:arity]
        body = []
        local = list(args)
        for t in range(rng.randint(0, 2)):
            sid = f"{name}.t{t}"
            body.append((sid, f"t{t}{w.ws()}={w.ws()}{w.expr(local, 2, sid, gates)}"))
            local.append(f"t{t}")
        body.append((f"{name}.return", "return" + w.ws(True) + w.expr(local, 2, f"{name}.return", gates)))
        header = f"gate{w.ws(True)}{name}({w.inside_break('gate:' + name)}{', '.join(args)})"
        statements.append((f"gate:{name}", header, body))
        gates[name] = arity
    known = leaves + params
    for k in range(rng.randint(1, 5)):
        sid = f"n{k}"
        statements.append((sid, f"n{k}{w.ws()}={w.ws()}{w.expr(known, 3, sid, gates)}", None))
        known.append(f"n{k}")
    first = rng.choice(known[len(leaves) + len(params):])
    statements.append(("out:f", f"output{w.ws(True)}f{w.ws()}={w.ws()}sum({first})", None))
    if rng.random() < 0.5:
        statements.append((f"out:{known[-1]}", f"output {known[-1]}", None))
    rng.shuffle(statements)
    return _layout(w, statements), w.comments


def _layout(w: Writer, statements: list) -> str:
    rng = w.rng
    parts = []
    if rng.random() < 0.3:
        parts.append("\n" * rng.randint(1, 3))
    for i, (sid, text, body) in enumerate(statements):
        same_line = parts and parts[-1].endswith(";")
        if not same_line:
            parts.append(_prelude(w, sid, first=i == 0))
        parts.append(w.ws() + text)
        if body is not None:
            parts.append(_body(w, sid[5:], body))
        end_owner = f"close:{sid[5:]}" if body is not None else sid
        last = i == len(statements) - 1
        roll = rng.random()
        if roll < 0.2 and not last:
            parts.append(w.ws() + ";")
        elif roll < 0.5:
            parts.append(w.ws() + w.comment(end_owner) + "\n")
        else:
            parts.append(w.ws() + "\n")
    if rng.random() < 0.4:
        parts.append("\n" * rng.randint(0, 2) + w.comment("end") + "\n")
    text = "".join(parts)
    if rng.random() < 0.3:
        text = text.rstrip("\n")
    if rng.random() < 0.3:
        text = text.replace("\n", "\r\n")
    return text


def _prelude(w: Writer, owner: str, first: bool) -> str:
    """Blank lines and full-line comments above a statement: its own, or, above the
    file's first statement and followed by a blank line, the file's header."""
    rng = w.rng
    lines = ["" if rng.random() < 0.4 else None for _ in range(rng.randint(0, 4))]
    text = []
    for index, line in enumerate(lines):
        if line == "":
            text.append(w.ws() + "\n")
        else:
            header = first and "" in lines[index + 1:]
            text.append(w.ws() + w.comment("header" if header else owner) + "\n")
    return "".join(text)


def _body(w: Writer, gate: str, body: list) -> str:
    rng = w.rng
    parts = []
    roll = rng.random()
    if roll < 0.1:
        parts.append("\n")  # the '{' on the line after the header
    elif roll < 0.2:
        parts.append(w.ws() + w.comment(f"gate:{gate}") + "\n")
    parts.append(w.ws() + "{")
    if rng.random() < 0.3:
        parts.append(w.ws() + w.comment(f"gate:{gate}"))
    if "#" in parts[-1] or rng.random() < 0.6:
        parts.append("\n")
    for sid, text in body:
        if parts[-1].endswith("\n"):
            parts.append(_prelude(w, sid, first=False))
        parts.append(w.ws() + text)
        roll = rng.random()
        if roll < 0.25 and sid.endswith(".return"):
            continue  # '}' right after the return
        if roll < 0.45:
            parts.append(w.ws() + ";")
        elif roll < 0.7:
            parts.append(w.ws() + w.comment(sid) + "\n")
        else:
            parts.append("\n")
    if parts[-1].endswith("\n"):
        for _ in range(rng.randint(0, 2)):
            parts.append(w.ws() + (w.comment(f"close:{gate}") if rng.random() < 0.7 else "") + "\n")
    parts.append(w.ws() + "}")
    return "".join(parts)


# ---------------------------------------------------------------- reading the result
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*) = ")


def misplaced(expected: dict, formatted: str) -> dict:
    """{marker: (expected, found)} for every comment not on the statement it belongs to.
    Comments that head the file look like the first statement's, when a blank line
    separates them from it: either is right there."""
    found, first = owners(formatted)
    wrong = {}
    for marker, owner in expected.items():
        if found.get(marker) != owner and {found.get(marker), owner} != {"header", first}:
            wrong[marker] = (owner, found.get(marker))
    return wrong


def owners(formatted: str) -> tuple:
    """{marker: the statement id its comment sits on} in canonical text (a trailing
    comment's line, or the first statement below a comment line), and the id of the
    first statement."""
    found, waiting, gate, seen_code, first = {}, [], None, False, None
    for line in formatted.split("\n"):
        code, _, comment = line.partition("#") if not line.lstrip().startswith("#") else ("", "", line)
        markers = re.findall(r"@\d+@", comment)
        code = code.strip()
        if not line and not seen_code:  # a blank line before the first statement ends the header
            found.update((marker, "header") for marker in waiting)
            waiting = []
        if not code:
            waiting += markers
            continue
        seen_code = True
        if code.startswith("gate "):
            gate = code[5:code.index("(")]
            sid = f"gate:{gate}"
        elif code == "}":
            sid, gate = f"close:{gate}", None
        elif code.startswith(("input ", "param ")):
            sid = "leaf:" + re.match(r"\w+ (\w+)", code).group(1)
        elif code.startswith("output "):
            sid = "out:" + re.match(r"output (\w+)", code).group(1)
        elif code.startswith("return "):
            sid = f"{gate}.return"
        else:
            name = _ASSIGN.match(code).group(1)
            sid = f"{gate}.{name}" if gate else name
        for marker in waiting + markers:
            found[marker] = sid
        waiting, first = [], first or sid
    for marker in waiting:
        found[marker] = "end"
    return found, first

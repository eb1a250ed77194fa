"""Statements to source: dead code dropped, values deleted after their last use, long
listings cut into chunks, and the source compiled into a function.

A statement records the names it reads and writes, so that dead steps are dropped,
values are deleted right after their last use (the memory of a long chain stays flat),
and a listing too long for one function is cut into chunks that pass live names
through a list (CPython's compiler slows down superlinearly on functions of 100,000
lines). Names are generated (``v12``, ``g12``, namespace entries in upper case); user
text only ever enters as namespace values, never as source.
"""
from __future__ import annotations

import re
from typing import NamedTuple

CHUNK = 100_000  # statements per function: CPython compiles longer ones superlinearly


class Stmt(NamedTuple):
    text: str
    reads: tuple = ()
    writes: tuple = ()
    inplace: str = ""  # the value written into a ``{dst}`` array (see with_deletes)...
    donors: tuple = ()  # ...any of these, if it is not read again


_PREFIXES = frozenset("vgtds")


def variables(names) -> tuple:
    """The generated variables among operand sources (not literals or namespace constants)."""
    # (A list, not a generator: called once a statement, 22,000 times on W6's first run.)
    found = [n for n in dict.fromkeys(names) if n[:1] in _PREFIXES and n[1:2].isdigit()]
    for n in names:
        if n[:1] == "(":  # a value written out where it is read (floatcode): the names in it
            found += _GENERATED.findall(n)
    return tuple(dict.fromkeys(found))


def live(statements: list) -> list:
    """The statements whose results are read later (or returned); all are pure."""
    needed, out = set(), []
    for stmt in reversed(statements):
        if not stmt.writes or any(name in needed for name in stmt.writes):
            needed.update(stmt.reads)
            out.append(stmt)
    return out[::-1]


def with_deletes(statements: list, keep: set) -> list:
    """Insert ``del name`` right after the last statement that reads each name; a statement
    with a donor that dies there writes its value into the donor's array instead."""
    last = {}
    for i, stmt in enumerate(statements):
        for name in stmt.reads:
            last[name] = i
    out = []
    for i, stmt in enumerate(statements):
        dead = [name for name in stmt.reads if last[name] == i and name not in keep]
        donor = next((name for name in stmt.donors if name in dead), None)
        if donor:  # the same ufunc, written into an array that is about to be deleted
            stmt = stmt._replace(text=f"{stmt.writes[0]} = {stmt.inplace.format(dst=donor)}")
        out.append(stmt)
        if dead and not stmt.text.startswith("return"):
            out.append(Stmt("del " + ", ".join(dict.fromkeys(dead)), tuple(dead)))
    return out


def source(statements: list, params: tuple, name: str) -> str:
    """The statements as one function ``name(*params)``, or as chunks called in turn that
    hand the names still needed on in one list (one unpacking statement per chunk)."""
    if len(statements) <= CHUNK:
        return function(name, params, [s.text for s in statements])
    pieces = [statements[i:i + CHUNK] for i in range(0, len(statements), CHUNK)]
    first_write = dict.fromkeys(params, -1)
    last_read = {}
    for k, piece in enumerate(pieces):
        for stmt in piece:
            for n in stmt.reads:
                last_read[n] = k
            for n in stmt.writes:
                first_write.setdefault(n, k)
    live_in = [[n for n in first_write if first_write[n] < k <= last_read.get(n, -1)]
               for k in range(len(pieces) + 1)]
    chunks = []
    for k, piece in enumerate(pieces):
        head = [f"{_targets(live_in[k])} = S", "S.clear()"] if live_in[k] else []
        tail = [f"S[:] = {_targets(live_in[k + 1])}"] if live_in[k + 1] else []
        chunks.append(function(f"{name}_{k}", ("S",), head + [s.text for s in piece] + tail))
    calls = [f"{name}_{k}(S)" for k in range(len(pieces) - 1)] + [f"return {name}_{len(pieces) - 1}(S)"]
    main = function(name, params, [f"S = [{', '.join(live_in[0])}]"] + calls)
    return "\n".join(chunks + [main])


def _targets(names) -> str:
    return "(" + ", ".join(names) + ",)"


def function(name: str, params, lines) -> str:
    return f"def {name}({', '.join(params)}):\n" + "".join(f"    {line}\n" for line in lines)


def build(text: str, namespace: dict, name: str):
    """Compile generated source and return the function ``name`` it defines."""
    code = compile(text, f"<graphdsl {name}>", "exec")
    exec(code, namespace)  # noqa: S102 -- generated from the gate table's templates only
    return namespace[name]


def inline_once_read(statements: list, depth: int = 8) -> list:
    """Each value read exactly once written into the expression that reads it, in
    parentheses (``g10 = -(g15 * v12) + ...``): the same operations on the same operands,
    so the same numbers, with fewer names stored and loaded. Over Python floats that is
    ~10% of a deep chain's time (W3). Only plain ``name = expression`` statements move; a
    value whose operands are written again before it is read is written where it was;
    ``depth`` bounds the nesting (CPython's parser has a limit)."""
    uses, current = {}, {}
    for i, stmt in enumerate(statements):
        for name in stmt.reads:
            if name in current:
                uses[current[name]] = uses.get(current[name], 0) + 1
        for name in stmt.writes:
            current[name] = i
    out, pending = [], {}  # name -> (expression, its reads, its depth, its statement)
    for i, stmt in enumerate(statements):
        for name, (_, reads, _, original) in list(pending.items()):
            if any(w in reads for w in stmt.writes):  # its operands change here: write it now
                out.append(original)
                del pending[name]
        target, _, rhs = stmt.text.partition(" = ")
        simple = bool(rhs) and "; " not in stmt.text and stmt.writes == (target,)
        text = rhs if simple else stmt.text
        reads, level = list(stmt.reads), 0
        for name in stmt.reads:
            if name in pending:
                expr, expr_reads, expr_depth, original = pending.pop(name)
                pattern = _NAME(name)
                if len(pattern.findall(text)) != 1:  # read twice in one expression (x * x)
                    out.append(original)
                    continue
                text = pattern.sub(lambda _: f"({expr})", text)
                reads = [r for r in reads if r != name] + list(expr_reads)
                level = max(level, expr_depth + 1)
        reads = tuple(dict.fromkeys(reads))
        if simple and uses.get(i) == 1 and level < depth:
            pending[target] = (text, reads, level, Stmt(f"{target} = {text}", reads, stmt.writes))
            continue
        out.append(stmt._replace(text=f"{target} = {text}" if simple else text, reads=reads))
    return out + [original for *_, original in pending.values()]


def reuse_names(statements: list, keep) -> list:
    """Each generated name renamed to one whose value is dead by then, for code over Python
    floats (nothing is written in place, so only names change): a deep chain keeps a few
    locals instead of one per value, and a float is freed when last read, its memory
    reused while still in cache (W3 depth 1,000: 103 -> 85 µs). ``keep`` (the parameters)
    are never renamed or reused: the entry's array lane reads them after float code fails."""
    last = {}
    for i, stmt in enumerate(statements):
        for name in stmt.reads:
            last[name] = i
    keep = set(keep)
    rename, holder, free = {}, {}, []  # holder: register -> the name it holds now
    for i, stmt in enumerate(statements):
        for name in stmt.reads:
            if last[name] == i and name not in keep and holder.get(rename.get(name)) == name:
                register = rename[name]
                del holder[register]
                free.append(register)
        for name in stmt.writes:
            if name in keep or name in rename:
                continue
            if free:
                register = free.pop()
            elif name not in holder:
                register = name
            else:
                register = f"{name}r{i}"
            rename[name] = register
            holder[register] = name
            if name not in last:  # never read: free again at once
                del holder[register]
                free.append(register)
    # A name keeps its register for its whole life: the texts are renamed in one pass
    # (split and join: W6's 22,000 statements in ~20 ms, a callback per name cost 90).
    parts = _GENERATED.split("\n".join(stmt.text for stmt in statements))
    get = rename.get
    parts[1::2] = [get(name, name) for name in parts[1::2]]
    texts = "".join(parts).split("\n")
    make = Stmt._make
    return [make((text, tuple(map(get, stmt.reads, stmt.reads)), tuple(map(get, stmt.writes, stmt.writes)),
                  stmt.inplace, stmt.donors)) if text != stmt.text else stmt
            for text, stmt in zip(texts, statements)]


_GENERATED = re.compile(r"(?<![\w.])([vgtd][0-9]\w*)")


def _NAME(name: str):
    return re.compile(rf"(?<![\w.]){name}(?!\w)")

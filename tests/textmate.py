"""A small TextMate tokenizer, enough to test editors/graph.tmLanguage.json without an
editor: ``match`` rules, ``begin``/``end`` regions with their own patterns, ``include``
of the repository, captures, ``$1`` in names. At each position the rule matching
earliest wins (the region's end first on a tie, then the patterns in order), as in
vscode-textmate; lines are matched one at a time, each with its newline.

The grammar's regular expressions are written in the part of Oniguruma's syntax that
Python's ``re`` reads the same way.
"""
from __future__ import annotations

import json
import re


class Grammar:
    def __init__(self, path):
        with open(path, encoding="utf-8") as file:
            self.data = json.load(file)
        self.scope = self.data["scopeName"]
        self._compiled: dict = {}

    def scopes(self, text: str) -> list:
        """For each line, for each of its characters, the list of scopes it is in
        (the grammar's own scope first)."""
        stack = [({"patterns": self.data["patterns"]}, None, [self.scope])]
        result = []
        for line in text.split("\n"):
            line = line + "\n"
            scopes = [None] * len(line)
            pos = 0
            while pos < len(line):
                rule, end, base = stack[-1]
                found = self._first(rule, end, line, pos)
                if found is None:
                    break
                kind, chosen, match = found
                for i in range(pos, match.start()):
                    scopes[i] = base
                if kind == "end":
                    self._paint(scopes, match, base, rule.get("endCaptures", {}))
                    stack.pop()
                elif "match" in chosen:
                    self._paint(scopes, match, base + self._name(chosen, match),
                                chosen.get("captures", {}))
                else:
                    inner = base + self._name(chosen, match)
                    self._paint(scopes, match, inner, chosen.get("beginCaptures", {}))
                    stack.append((chosen, self._regex(chosen["end"]), inner))
                pos = match.end() if match.end() > pos or kind == "begin" else pos + 1
            for i in range(len(line)):
                scopes[i] = scopes[i] or stack[-1][2]
            result.append(scopes[:-1])
        return result

    def _first(self, rule, end, line, pos):
        best = None
        if end is not None:
            match = end.search(line, pos)
            if match:
                best = ((match.start(), 0), "end", None, match)
        for order, candidate in enumerate(self._rules(rule.get("patterns", [])), 1):
            match = self._regex(candidate.get("match") or candidate["begin"]).search(line, pos)
            if match and (best is None or (match.start(), order) < best[0]):
                best = ((match.start(), order), "match" if "match" in candidate else "begin", candidate, match)
        return None if best is None else best[1:]

    def _rules(self, patterns) -> list:
        rules = []
        for pattern in patterns:
            if "include" in pattern:
                rules += self._rules([self.data["repository"][pattern["include"].lstrip("#")]])
            elif "match" in pattern or "begin" in pattern:
                rules.append(pattern)
            else:
                rules += self._rules(pattern["patterns"])
        return rules

    def _regex(self, source: str):
        if source not in self._compiled:
            self._compiled[source] = re.compile(source)
        return self._compiled[source]

    @staticmethod
    def _name(rule, match) -> list:
        name = rule.get("name")
        if not name:
            return []
        return [re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))) or "", name)]

    @staticmethod
    def _paint(scopes, match, base, captures) -> None:
        for i in range(match.start(), match.end()):
            scopes[i] = base
        for group, capture in sorted(captures.items(), key=lambda item: int(item[0])):
            start, stop = match.span(int(group))
            for i in range(max(start, 0), stop):
                scopes[i] = base + [capture["name"]]

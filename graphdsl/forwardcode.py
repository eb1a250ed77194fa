"""The listings of ``forward`` and ``jvp`` (see forwardmode.py): the forward pass alone,
or followed by the tangents of forward mode, over floats or over numpy.

Their numbers are the reference interpreter's bit for bit (``forward`` and ``jvp`` ran
on it before they were compiled, and ``run``'s float code may differ from it by an
ulp): the float code takes rules' templates with numpy's functions in place of
math's (rules.EXACT_FUNCTIONS), and the numpy code calls the gates' own rules where it
does not write a bare operator. A tangent is computed as execute.tangents does it:

* in float code, the sum over the operands that have a tangent, in operand order, of
  ``t * partial`` (rules.FLOAT_VJP with the operand's tangent in place of the
  cotangent: the same product the gate table's jvp forms); a tangent passed on
  unchanged is read under the name it has (a copy of a float is the same float);
* in numpy code, a call of the gate's jvp rule, broadcast to the value's shape.

Which leaves have a tangent is fixed per listing; an operand without one is zero and
not written. An operand no gradient flows through (a gate's ``vjps[i]`` is None, e.g.
the labels of a loss) is ignored by the gate's jvp, so it is here.
"""
from __future__ import annotations

from . import rules
from .codegen import Listing, NoRule, Stmt, _variables
from .execute import broadcast_to
from .floatcode import FloatListing, _vjps


class ForwardFloatListing(FloatListing):
    """``floats(*leaf values) -> outputs`` (a dict of floats)."""

    functions = rules.EXACT_FUNCTIONS

    def _later(self, schedule, of, names) -> list:
        return [Stmt(f"return {self._outputs(schedule, names)}", tuple(names[s] for _, s in schedule.outputs))]

    def _outputs(self, schedule, names) -> str:
        # float(): a value computed by numpy's functions is a numpy scalar; the API hands out floats.
        return "{" + ", ".join(f"{self._const('K', name)}: float({names[slot]})"
                               for name, slot in schedule.outputs) + "}"


class TangentFloatListing(ForwardFloatListing):
    """``floats(*leaf values, *tangents of the seeded leaves) -> (outputs, output tangents)``."""

    def __init__(self, schedule, seeded: tuple):
        self.seeded = seeded  # indices into schedule.leaves of the leaves given a tangent
        super().__init__(schedule, schedule.outputs[0][0])
        self.params += tuple(f"t{schedule.leaves[k].slot}" for k in seeded)

    def _later(self, schedule, of, names) -> list:
        tangents = {schedule.leaves[k].slot: f"t{schedule.leaves[k].slot}" for k in self.seeded}
        out, templates = [], {}
        for step in schedule.steps:
            key = (step.gate.name, step.options.get("axis") if step.options else None)
            vjps = templates.get(key) or templates.setdefault(key, _vjps(step))
            fields = [None, names[step.slot]] + [names[a] for a in step.args]  # {t}, {out}, {0}...
            terms, reads, copy = [], [], False
            for i, a in enumerate(step.args):
                if a not in tangents or step.gate.vjps[i] is None:
                    continue
                if vjps[i] is None:
                    raise NoRule(step.gate.name)
                template, positions = vjps[i]
                fields[0] = tangents[a]
                terms.append(template.format(*fields))
                reads += [fields[k] for k in positions]
                copy = template == "{0}"
            if not terms:
                continue
            if len(terms) == 1 and copy:
                tangents[step.slot] = terms[0]  # passed on unchanged: read under its own name
                continue
            target = f"t{step.slot}"
            tangents[step.slot] = target
            out.append(Stmt(f"{target} = " + " + ".join(f"({term})" for term in terms), reads, (target,)))
        result = ", ".join(f"{self._const('K', name)}: " + (f"float({tangents[slot]})" if slot in tangents
                                                            else "0.0")
                           for name, slot in schedule.outputs)
        reads = [names[s] for _, s in schedule.outputs] + [tangents[s] for _, s in schedule.outputs
                                                           if s in tangents]
        out.append(Stmt(f"return {self._outputs(schedule, names)}, {{{result}}}", tuple(reads)))
        return out


class ForwardListing(Listing):
    """``arrays(*leaf values) -> outputs``: the numpy code of one set of shapes."""

    def __init__(self, schedule, shapes, float64: bool = False):
        super().__init__(schedule, schedule.outputs[0][0], shapes, float64)

    def _later(self) -> list:
        outputs = self._outputs()
        text = f"UNSHARED({outputs}, {{}})[0]" if self._may_share() else outputs
        return [Stmt(f"return {text}", self._output_reads())]

    def _outputs(self) -> str:
        return "{" + ", ".join(f"{self.const('K', name)}: EXPORT({self._name(slot)})"
                               for name, slot in self.schedule.outputs) + "}"

    def _output_reads(self) -> tuple:
        return _variables([self._name(slot) for _, slot in self.schedule.outputs])


class TangentListing(ForwardListing):
    """``arrays(*leaf values, *tangents of the seeded leaves) -> (outputs, output tangents)``."""

    def __init__(self, schedule, seeded: tuple, shapes, float64: bool = False):
        self.seeded = seeded
        super().__init__(schedule, shapes, float64)

    def _params(self) -> tuple:
        leaves = self.schedule.leaves
        return super()._params() + tuple(f"t{leaves[k].slot}" for k in self.seeded)

    def _later(self) -> list:
        leaves = self.schedule.leaves
        tangents = {leaves[k].slot: f"t{leaves[k].slot}" for k in self.seeded}
        self.namespace["BT"] = broadcast_to
        out = []
        for step in self.schedule.steps:
            if not any(a in tangents and step.gate.vjps[i] is not None for i, a in enumerate(step.args)):
                continue
            given = [tangents.get(a, "None") for a in step.args]
            args = [f"v{step.slot}"] + [self._name(a) for a in step.args]
            call = f"{self.const('J', step.gate.jvp)}([{', '.join(given)}], {', '.join(args + self._options(step))})"
            target = f"t{step.slot}"
            reads = [t for t in given if t != "None"] + list(_variables(args))
            out.append(Stmt(f"{target} = BT({call}, {self.const('S', self.shapes[step.slot])})",
                            tuple(dict.fromkeys(reads)), (target,)))
            tangents[step.slot] = target
        items, reads = [], []
        for name, slot in self.schedule.outputs:
            if slot in tangents:
                items.append(f"{self.const('K', name)}: EXPORT({tangents[slot]})")
                reads.append(tangents[slot])
            else:
                items.append(f"{self.const('K', name)}: EXPORT(ZEROS_LIKE({self._name(slot)}))")
                reads += _variables([self._name(slot)])
        outputs, tangents = self._outputs(), "{" + ", ".join(items) + "}"
        text = f"UNSHARED({outputs}, {tangents})" if self._may_share() else f"{outputs}, {tangents}"
        return out + [Stmt(f"return {text}", tuple(dict.fromkeys(self._output_reads() + tuple(reads))))]

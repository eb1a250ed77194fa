"""How Program's methods take bindings: a positional mapping, keywords, or both.

``prog.run({"x": 1.0})`` and ``prog.run(x=1.0)`` bind the same input. A positional
mapping always means bindings, whatever its names. A keyword means a binding unless
it names one of the method's own options (``of``, ``check_finite``...); a keyword
that names both an option and an input or param of the model could mean either, so
it is refused with a BindingError that says to pass the binding in the mapping,
unless the mapping binds that name already (then the keyword can only be the
option). An input named ``self`` or ``bindings`` is an ordinary keyword: those
parameters are positional-only. No name given is ever silently left unbound.
"""
from __future__ import annotations

from collections.abc import Mapping
from numbers import Real

from ..errors import BindingError

# The methods' own keywords: a leaf of one of these names is bound through a mapping.
OPTIONS = frozenset({"of", "check_finite", "eps", "tolerance", "shared"})


def resolve(method: str, leaves: frozenset, positional, named: dict, options: dict) -> dict:
    """The bindings of one call, as a new dict; ``options`` (name -> value, None when not
    given) gets the output named positionally. Raises BindingError or TypeError."""
    if isinstance(positional, str):  # the output, positional as it always was: run("f", x=1)
        if options.get("of") is not None:
            raise TypeError(f"{method}() got the output twice: {positional!r} and of={options['of']!r}")
        if "of" not in options:
            raise TypeError(f"{method}() takes the bindings as a mapping or as keywords, got a str")
        options["of"] = positional
        positional = None
    if positional is None:
        bindings = named
    elif isinstance(positional, Mapping):
        bindings = dict(positional)
        twice = sorted(set(bindings) & set(named))
        if twice:
            raise BindingError(f"{', '.join(map(repr, twice))} given both in the mapping and as a "
                               f"keyword of {method}()")
        bindings.update(named)
    else:
        raise TypeError(f"{method}() takes the bindings as a mapping of name -> value, "
                        f"{method}({{'x': 1.0}}), or as keywords, {method}(x=1.0); "
                        f"got {type(positional).__name__}")
    for option, value in options.items():
        if value is not None and option in leaves and option not in bindings:
            raise BindingError(ambiguous(method, option))
    return bindings


def ambiguous(method: str, option: str) -> str:
    return (f"'{option}' is both an input or param of this graph and an option of {method}(), so the "
            f"keyword {option}=... could mean either: bind it in a mapping, "
            f"{method}({{'{option}': 1.0}}), and give the option as a keyword next to it")


def expect_dict(method: str, what: str, value) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{method} takes {what} as a dict of name -> value, got {type(value).__name__}")


def positive(method: str, defaults: tuple, **numbers) -> tuple:
    """Each option's value (its default where None), which must be a positive finite number."""
    out = []
    for (what, number), default in zip(numbers.items(), defaults):
        number = default if number is None else number
        if isinstance(number, bool) or not (isinstance(number, Real) and 0 < number < float("inf")):
            raise ValueError(f"{method}: {what} must be a positive number, got {number!r}")
        out.append(number)
    return tuple(out)


def output_name(outputs: tuple, of) -> str:
    """The output ``of`` names (the first for None), or the error of a wrong one."""
    if of is None:
        return outputs[0]
    if not isinstance(of, str):
        raise TypeError(f"of must be the name of an output, got {type(of).__name__}; bindings go "
                        f"as keywords, run(x=1.0), or as a mapping, run({{'x': 1.0}})")
    if of not in outputs:
        raise BindingError(f"'{of}' is not an output (outputs: {', '.join(outputs)})")
    return of

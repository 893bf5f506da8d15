"""The rule language of ``where:`` blocks: parsed with lark, compiled to Ibis.

A rule picks events by their fields and properties::

    properties.page starts with '/blog' and channel in ('web', 'app')
    value between 10 and 100 or not (properties.topic = 'sizing')
    ts >= '2024-05-01' and properties["utm source"] is not null

Grammar (keywords are case-insensitive; ``and`` binds tighter than ``or``)::

    rule      := rule "or" rule | rule "and" rule | "not" rule | "(" rule ")" | condition
    condition := operand ("=" | "!=" | "<" | "<=" | ">" | ">=") value
               | operand ["not"] "in" "(" value {"," value} ")"
               | operand ("contains" | "starts with" | "ends with") string
               | operand "between" value "and" value
               | operand "is" ["not"] "null"
    operand   := event | channel | value | ts | ... (see ``EVENT_FIELDS``)
               | properties.NAME | properties["any name"]
    value     := 'text' | "text" | number | true | false

Semantics (``Rule.matches`` is the reference, ``compile_rule`` agrees with it):

* A condition on a missing (null) field or property is false, so ``not`` of it is
  true. ``x != 1`` is false when ``x`` is null; ``x not in (a, b)`` means
  ``x != a and x != b``; ``x in (a, b)`` means ``x = a or x = b``.
* Properties (and other text fields) compared with a number are read as numbers
  when they look like one (``12``, ``-3.5``, ``.5``, ``1e3``: no spaces); a text
  that is not a number matches no numeric condition, ``!=`` included. Compared
  with ``true``/``false`` they match ``'true'``/``'false'`` in any case.
* ``ts`` is compared with quoted ISO dates or times (``'2024-05-01'``,
  ``'2024-05-01T13:30:00'``; an offset is converted to UTC). A date is its
  midnight: ``ts between '2024-05-01' and '2024-05-01T23:59:59.999999'`` is a day.
* ``contains``, ``starts with`` and ``ends with`` are case-sensitive and take
  the text literally (``%`` and ``_`` are not wildcards). ``between`` is inclusive.
* Numbers are compared as 64-bit floats.

User text never reaches SQL: every value becomes an ``ibis.literal``.

>>> rule = parse_rule("properties.page starts with '/blog' and value > 10")
>>> rule.matches({"properties": {"page": "/blog/shoes"}, "value": 12.5})
True
>>> str(rule)
"properties.page starts with '/blog' and value > 10"
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import math
import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal, TypeAlias

import ibis
import ibis.expr.types as ir
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from jornada.errors import JornadaError
from jornada.events.schema import EVENT_COLUMNS, EVENT_FIELDS

__all__ = [
    "FIELD_KINDS",
    "And",
    "Between",
    "Compare",
    "Field",
    "InList",
    "IsNull",
    "Not",
    "Or",
    "Property",
    "Rule",
    "RuleError",
    "TextMatch",
    "compile_rule",
    "parse_rule",
]

Kind = Literal["text", "number", "time"]
"""What an operand holds: text (strings and every property), a number, or ``ts``."""

Scalar: TypeAlias = str | float | bool | dt.datetime
"""A literal after parsing: text, a number, true/false, or a time (compared with ``ts``)."""

CompareOp = Literal["=", "!=", "<", "<=", ">", ">="]
MatchOp = Literal["contains", "starts with", "ends with"]

_KINDS: Final[dict[str, Kind]] = {
    "string": "text",
    "float64": "number",
    "int64": "number",
    "timestamp": "time",
}
FIELD_KINDS: Final[dict[str, Kind]] = {
    name: _KINDS[EVENT_COLUMNS[name]] for name in sorted(EVENT_FIELDS)
}
"""Every field a rule may name, with what it holds."""

NUMBER_PATTERN: Final = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
"""Text that counts as a number when compared with one (no spaces, no ``inf``)."""
_NUMBER_TEXT: Final = re.compile(NUMBER_PATTERN.removesuffix("$") + r"\Z")
_PLAIN_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_OPERATORS: Final[dict[CompareOp, Callable[[Any, Any], Any]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_OPERATOR_ALIASES: Final[dict[str, CompareOp]] = {"==": "=", "<>": "!="}
_COMPARE_OPS: Final[dict[str, CompareOp]] = {op: op for op in _OPERATORS}
_MATCH_OPS: Final[dict[str, MatchOp]] = {
    "CONTAINS": "contains",
    "STARTS": "starts with",
    "ENDS": "ends with",
}


# --- errors ------------------------------------------------------------------------


class RuleError(JornadaError, ValueError):
    """A rule that cannot be read or does not fit the data, shown with a caret.

    ``position`` is the 0-based offset in ``rule`` of the problem; ``line`` and
    ``column`` are 1-based.

    >>> try:
    ...     parse_rule("properties.x = ")
    ... except RuleError as error:
    ...     print(error)
    expected a value (a quoted string, a number, true or false) after '=' at column 16, found the end of the rule
        properties.x =
                       ^
    """

    def __init__(
        self,
        problem: str,
        *,
        rule: str,
        position: int,
        found: str | None = None,
        hint: str | None = None,
        context: str | None = None,
    ) -> None:
        self.problem = problem
        self.rule = rule
        self.position = max(0, position)
        self.found = found
        self.hint = hint
        self.context = context
        before = rule[: self.position]
        self.line = before.count("\n") + 1
        self.column = self.position - (before.rfind("\n") + 1) + 1
        super().__init__(self._render())

    def with_context(self, context: str) -> RuleError:
        """The same error, introduced by where the rule comes from (``touchpoint 'cart'``)."""
        return RuleError(
            self.problem,
            rule=self.rule,
            position=self.position,
            found=self.found,
            hint=self.hint,
            context=context,
        )

    def _render(self) -> str:
        lines = self.rule.split("\n")
        where = (
            f"at column {self.column}"
            if len(lines) == 1
            else f"at line {self.line}, column {self.column}"
        )
        head = f"{self.problem} {where}"
        if self.found is not None:
            head += f", found {self.found}"
        if self.context:
            head = f"{self.context}: {head}"
        shown = lines[self.line - 1].replace("\t", " ").rstrip()
        parts = [head, f"    {shown}", "    " + " " * (self.column - 1) + "^"]
        if self.hint:
            parts.append(self.hint)
        return "\n".join(parts)


class _ProblemError(Exception):
    """Raised while building the tree; turned into a :class:`RuleError` with the text."""

    def __init__(self, problem: str, position: int, hint: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.position = position
        self.hint = hint


# --- the tree ----------------------------------------------------------------------


def _is_null(raw: object) -> bool:
    # None, and NaN / NaT as pandas hands missing values back (NaN != NaN).
    return raw is None or raw != raw


def _as_number(text: str) -> float | None:
    return float(text) if _NUMBER_TEXT.match(text) else None


@dataclass(frozen=True)
class Field:
    """A column of the events table named directly: ``event``, ``value``, ``ts``..."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in FIELD_KINDS:
            raise ValueError(f"unknown field {self.name!r}")

    @property
    def kind(self) -> Kind:
        return FIELD_KINDS[self.name]

    def __str__(self) -> str:
        return self.name

    def lookup(self, event: Mapping[str, Any]) -> Any:
        raw = event.get(self.name)
        return None if _is_null(raw) else raw

    def column(self, table: ir.Table) -> ir.Value:
        return table[self.name]


@dataclass(frozen=True)
class Property:
    """An entry of the ``properties`` map: ``properties.page``, ``properties["utm source"]``."""

    key: str
    kind: ClassVar[Kind] = "text"

    def __str__(self) -> str:
        if _PLAIN_NAME.match(self.key):
            return f"properties.{self.key}"
        return f"properties[{_quote(self.key)}]"

    def lookup(self, event: Mapping[str, Any]) -> Any:
        properties = event.get("properties")
        if properties is None:
            return None
        if not isinstance(properties, Mapping):  # a map read back as (key, value) pairs
            properties = dict(properties)
        raw = properties.get(self.key)
        return None if _is_null(raw) else raw

    def column(self, table: ir.Table) -> ir.Value:
        return table["properties"].get(ibis.literal(self.key, type="string"))


Operand: TypeAlias = Field | Property


def _quote(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f"'{escaped}'"


def _format(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return _quote(value.isoformat())
    return _quote(value)


def _sides(operand: Operand, raw: Any, value: Scalar) -> tuple[Any, Any] | None:
    """The two things to compare in Python, or None when the condition is false
    (a null, or a text that is not a number compared with a number)."""
    if _is_null(raw):
        return None
    if operand.kind != "text":
        return (float(raw), value) if operand.kind == "number" else (raw, value)
    text = str(raw)
    if isinstance(value, bool):
        return text.lower(), ("true" if value else "false")
    if isinstance(value, float):
        number = _as_number(text)
        return None if number is None else (number, value)
    return text, value


def _literal(operand: Operand, value: Scalar) -> ir.Value:
    if isinstance(value, bool):
        return ibis.literal("true" if value else "false", type="string")
    if isinstance(value, float):
        return ibis.literal(value, type="float64")
    if isinstance(value, dt.datetime):
        return ibis.literal(value, type="timestamp")
    return ibis.literal(value, type="string")


def _side(
    operand: Operand, table: ir.Table, value: Scalar
) -> tuple[ir.Value, ir.BooleanValue | None]:
    """The column to compare with ``value`` and a guard that must hold as well."""
    column = operand.column(table)
    if operand.kind != "text":
        return column, None
    if isinstance(value, bool):
        return column.lower(), None
    if isinstance(value, float):
        return column.try_cast("float64"), column.re_search(NUMBER_PATTERN)
    return column, None


def _guarded(guard: ir.BooleanValue | None, condition: ir.BooleanValue) -> ir.BooleanValue:
    # Null means "no match": coalescing every condition keeps the logic two-valued,
    # so `not` agrees with Rule.matches.
    if guard is not None:
        condition = guard & condition
    return condition.fill_null(False)


class Rule(ABC):
    """A parsed rule: a tree of conditions joined by ``and``, ``or`` and ``not``.

    ``matches`` evaluates it on one event in Python (the reference semantics);
    ``compile`` turns it into an Ibis boolean on an events table; ``str`` gives
    canonical rule text that parses back to an equal tree.

    >>> parse_rule("event = 'purchase' and not value < 10").matches({"event": "purchase"})
    True
    """

    __slots__ = ()

    @abstractmethod
    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether one event (a mapping of column to value) satisfies the rule."""

    @abstractmethod
    def compile(self, table: ir.Table) -> ir.BooleanValue:
        """The rule as an Ibis boolean expression on ``table`` (never null)."""

    @abstractmethod
    def operands(self) -> Iterable[Operand]:
        """Every field and property the rule reads, in order of appearance."""


@dataclass(frozen=True)
class Compare(Rule):
    """``operand = value`` and the other comparisons."""

    operand: Operand
    op: CompareOp
    value: Scalar

    def __str__(self) -> str:
        return f"{self.operand} {self.op} {_format(self.value)}"

    def matches(self, event: Mapping[str, Any]) -> bool:
        sides = _sides(self.operand, self.operand.lookup(event), self.value)
        return sides is not None and bool(_OPERATORS[self.op](*sides))

    def compile(self, table: ir.Table) -> ir.BooleanValue:
        column, guard = _side(self.operand, table, self.value)
        literal = _literal(self.operand, self.value)
        return _guarded(guard, _OPERATORS[self.op](column, literal))

    def operands(self) -> Iterable[Operand]:
        return (self.operand,)


@dataclass(frozen=True)
class InList(Rule):
    """``operand in (a, b)`` (any is equal) or ``operand not in (a, b)`` (all differ)."""

    operand: Operand
    values: tuple[Scalar, ...]
    negated: bool = False

    def __str__(self) -> str:
        keyword = "not in" if self.negated else "in"
        return f"{self.operand} {keyword} ({', '.join(_format(v) for v in self.values)})"

    def matches(self, event: Mapping[str, Any]) -> bool:
        raw = self.operand.lookup(event)
        op: CompareOp = "!=" if self.negated else "="
        results = (_compare_raw(self.operand, raw, op, v) for v in self.values)
        return all(results) if self.negated else any(results)

    def compile(self, table: ir.Table) -> ir.BooleanValue:
        groups: dict[type, list[Scalar]] = {}
        for value in self.values:
            groups.setdefault(type(value), []).append(value)
        parts = []
        for values in groups.values():
            column, guard = _side(self.operand, table, values[0])
            literals = [_literal(self.operand, v) for v in values]
            test = column.notin(literals) if self.negated else column.isin(literals)
            parts.append(_guarded(guard, test))
        return functools.reduce(operator.and_ if self.negated else operator.or_, parts)

    def operands(self) -> Iterable[Operand]:
        return (self.operand,)


def _compare_raw(operand: Operand, raw: Any, op: CompareOp, value: Scalar) -> bool:
    sides = _sides(operand, raw, value)
    return sides is not None and bool(_OPERATORS[op](*sides))


@dataclass(frozen=True)
class TextMatch(Rule):
    """``operand contains 'x'``, ``starts with``, ``ends with`` (case-sensitive)."""

    operand: Operand
    op: MatchOp
    text: str

    def __str__(self) -> str:
        return f"{self.operand} {self.op} {_quote(self.text)}"

    def matches(self, event: Mapping[str, Any]) -> bool:
        raw = self.operand.lookup(event)
        if raw is None:
            return False
        text = str(raw)
        if self.op == "contains":
            return self.text in text
        if self.op == "starts with":
            return text.startswith(self.text)
        return text.endswith(self.text)

    def compile(self, table: ir.Table) -> ir.BooleanValue:
        column = self.operand.column(table)
        literal = ibis.literal(self.text, type="string")
        if self.op == "contains":
            test = column.contains(literal)
        elif self.op == "starts with":
            test = column.startswith(literal)
        else:
            test = column.endswith(literal)
        return _guarded(None, test)

    def operands(self) -> Iterable[Operand]:
        return (self.operand,)


@dataclass(frozen=True)
class Between(Rule):
    """``operand between low and high``, both ends included."""

    operand: Operand
    low: float | dt.datetime
    high: float | dt.datetime

    def __str__(self) -> str:
        return f"{self.operand} between {_format(self.low)} and {_format(self.high)}"

    def matches(self, event: Mapping[str, Any]) -> bool:
        raw = self.operand.lookup(event)
        low = _sides(self.operand, raw, self.low)
        high = _sides(self.operand, raw, self.high)
        return low is not None and high is not None and low[1] <= low[0] <= high[1]

    def compile(self, table: ir.Table) -> ir.BooleanValue:
        column, guard = _side(self.operand, table, self.low)
        low = _literal(self.operand, self.low)
        high = _literal(self.operand, self.high)
        return _guarded(guard, (column >= low) & (column <= high))

    def operands(self) -> Iterable[Operand]:
        return (self.operand,)


@dataclass(frozen=True)
class IsNull(Rule):
    """``operand is null`` (missing) or ``operand is not null``."""

    operand: Operand
    negated: bool = False

    def __str__(self) -> str:
        return f"{self.operand} is {'not ' if self.negated else ''}null"

    def matches(self, event: Mapping[str, Any]) -> bool:
        return (self.operand.lookup(event) is None) != self.negated

    def compile(self, table: ir.Table) -> ir.BooleanValue:
        column = self.operand.column(table)
        return column.notnull() if self.negated else column.isnull()

    def operands(self) -> Iterable[Operand]:
        return (self.operand,)


def _wrap(rule: Rule, *kinds: type[Rule]) -> str:
    return f"({rule})" if isinstance(rule, kinds) else str(rule)


@dataclass(frozen=True)
class And(Rule):
    """Every part holds."""

    rules: tuple[Rule, ...]

    def __str__(self) -> str:
        return " and ".join(_wrap(rule, And, Or) for rule in self.rules)

    def matches(self, event: Mapping[str, Any]) -> bool:
        return all(rule.matches(event) for rule in self.rules)

    def compile(self, table: ir.Table) -> ir.BooleanValue:
        return functools.reduce(operator.and_, (rule.compile(table) for rule in self.rules))

    def operands(self) -> Iterable[Operand]:
        for rule in self.rules:
            yield from rule.operands()


@dataclass(frozen=True)
class Or(Rule):
    """Some part holds."""

    rules: tuple[Rule, ...]

    def __str__(self) -> str:
        return " or ".join(_wrap(rule, Or) for rule in self.rules)

    def matches(self, event: Mapping[str, Any]) -> bool:
        return any(rule.matches(event) for rule in self.rules)

    def compile(self, table: ir.Table) -> ir.BooleanValue:
        return functools.reduce(operator.or_, (rule.compile(table) for rule in self.rules))

    def operands(self) -> Iterable[Operand]:
        for rule in self.rules:
            yield from rule.operands()


@dataclass(frozen=True)
class Not(Rule):
    """The part does not hold (true when it tests a missing value)."""

    rule: Rule

    def __str__(self) -> str:
        return f"not {_wrap(self.rule, And, Or)}"

    def matches(self, event: Mapping[str, Any]) -> bool:
        return not self.rule.matches(event)

    def compile(self, table: ir.Table) -> ir.BooleanValue:
        return ~self.rule.compile(table)

    def operands(self) -> Iterable[Operand]:
        return self.rule.operands()


# --- parsing -----------------------------------------------------------------------

_GRAMMAR: Final = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr                        -> negation
         | atom
?atom: _LPAR or_expr _RPAR
     | condition
?condition: operand OP value                    -> compare
     | operand _IN _LPAR values _RPAR           -> isin
     | operand _NOT _IN _LPAR values _RPAR      -> notin
     | operand CONTAINS value                   -> text_match
     | operand STARTS _WITH value               -> text_match
     | operand ENDS _WITH value                 -> text_match
     | operand BETWEEN value _AND value         -> between
     | operand _IS _NULL                        -> is_null
     | operand _IS _NOT _NULL                   -> is_not_null
values: value (_COMMA value)* _COMMA?
operand: NAME                                   -> field
       | PROPERTY                               -> dotted_property
       | _PROPERTIES _LSQB STRING _RSQB         -> bracket_property
value: STRING | NUMBER | TRUE | FALSE

_OR: "or"i
_AND: "and"i
_NOT: "not"i
_IN: "in"i
CONTAINS: "contains"i
STARTS: "starts"i
ENDS: "ends"i
_WITH: "with"i
BETWEEN: "between"i
_IS: "is"i
_NULL: "null"i
TRUE: "true"i
FALSE: "false"i
_PROPERTIES: "properties"i
_LPAR: "("
_RPAR: ")"
_LSQB: "["
_RSQB: "]"
_COMMA: ","
OP: "==" | "!=" | "<>" | "<=" | ">=" | "=" | "<" | ">"
PROPERTY.2: /properties\.[A-Za-z_][A-Za-z0-9_]*/i
STRING: /'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/s
NUMBER: /[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
%ignore /\s+/
"""


@functools.cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", lexer="basic", propagate_positions=True)


@functools.lru_cache(maxsize=1024)
def parse_rule(text: str) -> Rule:
    """Read rule text into a :class:`Rule`, or raise :class:`RuleError` saying where and why.

    >>> parse_rule("channel in ('web', 'app') and properties.topic = 'sizing'")
    And(rules=(InList(operand=Field(name='channel'), values=('web', 'app'), negated=False), Compare(operand=Property(key='topic'), op='=', value='sizing')))
    >>> parse_rule("value > 'ten'")
    Traceback (most recent call last):
    ...
    jornada.events.rules.RuleError: 'value' is a number: compare it with a number such as 10, without quotes at column 9
        value > 'ten'
                ^
    """
    if not isinstance(text, str):
        raise TypeError(f"a rule is text, not {type(text).__name__}")
    if not text.strip():
        raise RuleError(
            "the rule is empty: expected a condition such as event = 'purchase'",
            rule=text,
            position=0,
        )
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    try:
        return _build(tree)
    except _ProblemError as problem:
        raise RuleError(
            problem.problem, rule=text, position=problem.position, hint=problem.hint
        ) from None


def compile_rule(rule: Rule | str, table: ir.Table) -> ir.BooleanValue:
    """The rule as an Ibis boolean on an events table: true where an event matches.

    Never null (a condition on a missing value is false), so it can be negated,
    summed or used in ``ibis.cases`` directly.

    >>> import ibis
    >>> events = ibis.table({"event": "string", "value": "float64"}, name="events")
    >>> condition = compile_rule("event = 'purchase' and value >= 100", events)
    >>> condition.type()
    Boolean(nullable=True)
    """
    parsed = parse_rule(rule) if isinstance(rule, str) else rule
    columns = set(table.columns)
    for operand in parsed.operands():
        needed = operand.name if isinstance(operand, Field) else "properties"
        if needed not in columns:
            text = str(parsed)
            raise RuleError(
                f"the events table has no column {needed!r}",
                rule=text,
                position=max(0, text.find(str(operand))),
                hint=f"its columns are {', '.join(table.columns)}",
            )
    return parsed.compile(table)


# --- from lark's tree to ours ------------------------------------------------------


def _unquote(token: Token) -> str:
    body = str(token)[1:-1]
    return re.sub(
        r"\\(.)",
        lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)),
        body,
        flags=re.DOTALL,
    )


_FIELD_LIST: Final = ", ".join(FIELD_KINDS)


def _operand(tree: Tree[Token]) -> Operand:
    token = tree.children[0]
    assert isinstance(token, Token)
    if tree.data == "field":
        name = str(token).lower()
        if name in FIELD_KINDS:
            return Field(name)
        close = difflib.get_close_matches(name, FIELD_KINDS, n=1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise _ProblemError(
            f"unknown field {str(token)!r}",
            token.start_pos or 0,
            f"{guess}The fields are {_FIELD_LIST}; any other column of your data "
            f'is a property: properties.{token} (or properties["any name"]).',
        )
    if tree.data == "dotted_property":
        return Property(str(token).split(".", 1)[1])
    return Property(_unquote(token))


def _describe_kind(operand: Operand) -> str:
    return {"text": "text", "number": "a number", "time": "a date and time"}[operand.kind]


def _value(operand: Operand, tree: Tree[Token], *, how: str) -> Scalar:
    """A literal checked against what the operand holds; ``how`` is "compare",
    "equal" (= != in: true/false allowed), "between" or the text operator."""
    token = tree.children[0]
    assert isinstance(token, Token)
    position = token.start_pos or 0
    kind = token.type
    name = f"'{operand}'"
    if how in ("contains", "starts with", "ends with"):
        if kind != "STRING":
            raise _ProblemError(f"'{how}' takes quoted text, not {token}", position)
        return _unquote(token)
    if kind in ("TRUE", "FALSE"):
        if operand.kind != "text":
            raise _ProblemError(f"{name} is {_describe_kind(operand)}, not true or false", position)
        if how != "equal":
            raise _ProblemError("true and false can only be compared with =, != or in", position)
        return kind == "TRUE"
    if kind == "NUMBER":
        if operand.kind == "time":
            raise _ProblemError(
                f"{name} is a date and time: compare it with a quoted date such as "
                "'2024-05-01' or '2024-05-01T13:30:00'",
                position,
            )
        number = float(token)
        if not math.isfinite(number):
            raise _ProblemError(f"the number {token} is too large", position)
        return number
    text = _unquote(token)
    if operand.kind == "number":
        raise _ProblemError(
            f"{name} is a number: compare it with a number such as 10, without quotes", position
        )
    if operand.kind == "time":
        moment = _parse_time(text)
        if moment is None:
            raise _ProblemError(
                f"{token} is not a date or time: write it like '2024-05-01' or "
                "'2024-05-01T13:30:00'",
                position,
            )
        return moment
    if how == "between":
        raise _ProblemError(
            "between takes numbers (or dates for ts); for text use >= and <=", position
        )
    return text


def _parse_time(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def _subtrees(tree: Tree[Token]) -> list[Tree[Token]]:
    return [child for child in tree.children if isinstance(child, Tree)]


def _build(tree: Tree[Token]) -> Rule:
    kind = tree.data
    children = _subtrees(tree)
    if kind == "or_expr":
        return Or(tuple(_build(child) for child in children))
    if kind == "and_expr":
        return And(tuple(_build(child) for child in children))
    if kind == "negation":
        return Not(_build(children[0]))
    operand = _operand(children[0])
    if kind == "compare":
        symbol = str(next(c for c in tree.children if isinstance(c, Token) and c.type == "OP"))
        compare_op = _OPERATOR_ALIASES.get(symbol) or _COMPARE_OPS[symbol]
        how = "equal" if compare_op in ("=", "!=") else "compare"
        return Compare(operand, compare_op, _value(operand, children[1], how=how))
    if kind in ("isin", "notin"):
        values = tuple(_value(operand, value, how="equal") for value in _subtrees(children[1]))
        return InList(operand, values, negated=kind == "notin")
    if kind == "text_match":
        word = next(c for c in tree.children if isinstance(c, Token))
        op = _MATCH_OPS[word.type]
        if operand.kind != "text":
            raise _ProblemError(
                f"'{op}' works on text, and '{operand}' is {_describe_kind(operand)}",
                word.start_pos or 0,
            )
        return TextMatch(operand, op, str(_value(operand, children[1], how=op)))
    if kind == "between":
        low = _value(operand, children[1], how="between")
        high = _value(operand, children[2], how="between")
        assert isinstance(low, float | dt.datetime)
        assert isinstance(high, float | dt.datetime)
        return Between(operand, low, high)
    if kind in ("is_null", "is_not_null"):
        return IsNull(operand, negated=kind == "is_not_null")
    raise AssertionError(f"unexpected rule node {kind}")  # pragma: no cover


# --- syntax errors -----------------------------------------------------------------

_VALUE: Final = "a value (a quoted string, a number, true or false)"
_FIELD: Final = "a field (event, channel, value, ts... or properties.NAME)"
_CONDITION: Final = "a condition such as event = 'purchase'"
_OPERATOR: Final = (
    "an operator (=, !=, <, <=, >, >=, in, not in, contains, starts with, ends with, "
    "between, is null, is not null)"
)
# Terminal names (as lark reports them) to words, in the order they are listed.
_WORDS: Final[dict[str, str]] = {
    "NAME": _FIELD,
    "PROPERTY": _FIELD,
    "_PROPERTIES": _FIELD,
    "OP": _OPERATOR,
    "STRING": _VALUE,
    "NUMBER": _VALUE,
    "TRUE": _VALUE,
    "FALSE": _VALUE,
    "_NULL": "'null'",
    "_NOT": "'not'",
    "_IN": "'in'",
    "_WITH": "'with'",
    "_LPAR": "'('",
    "_LSQB": "'['",
    "_RSQB": "']'",
    "_COMMA": "','",
    "_AND": "'and'",
    "_OR": "'or'",
    "_RPAR": "')'",
    "$END": "the end of the rule",
}
_OPERATOR_WORDS: Final = {"OP", "_IN", "_NOT", "CONTAINS", "STARTS", "ENDS", "BETWEEN", "_IS"}
_CONDITION_WORDS: Final = {"NAME", "PROPERTY", "_PROPERTIES", "_LPAR", "_NOT"}


def _describe(expected: Iterable[str]) -> str:
    names = set(expected)
    words: list[str] = []
    if "OP" in names:
        names -= _OPERATOR_WORDS
        words.append(_OPERATOR)
    if names >= _CONDITION_WORDS:
        names -= _CONDITION_WORDS
        words.append(_CONDITION)
    if names == {"STRING"}:
        return "a quoted string"
    for name, word in _WORDS.items():
        if name in names and word not in words:
            words.append(word)
    words += sorted(n.lower() for n in names if n not in _WORDS and n.lower() not in words)
    if len(words) <= 1:
        return words[0] if words else "something else"
    return ", ".join(words[:-1]) + " or " + words[-1]


def _tokens_before(text: str, position: int) -> list[Token]:
    tokens: list[Token] = []
    try:
        for token in _parser().lex(text[:position]):
            tokens.append(token)
    except UnexpectedInput:
        pass
    return tokens


def _accepts(text: str, position: int) -> set[str]:
    """The terminals the parser would take at ``position`` (the text before it is valid)."""
    interactive = _parser().parse_interactive(text[:position])
    try:
        interactive.exhaust_lexer()
    except UnexpectedInput:
        return set()
    accepted: set[str] = interactive.accepts()  # type: ignore[no-untyped-call]
    return accepted


def _shown(token: Token) -> str:
    text = str(token) if len(token) <= 24 else f"{token[:20]}..."
    return text if token.type == "STRING" else f"'{text}'"


def _syntax_error(text: str, error: UnexpectedInput) -> RuleError:
    at_end = isinstance(error, UnexpectedToken) and error.token.type == "$END"
    position = len(text.rstrip()) + 1 if at_end else (error.pos_in_stream or 0)
    parsed = len(text) if at_end else position
    tokens = _tokens_before(text, parsed)
    # LALR's own list can include tokens of merged states; ask the parser instead.
    expected = _accepts(text, parsed) or set(getattr(error, "expected", ()))
    char = text[position] if position < len(text) else ""
    if at_end or not char:
        found = "the end of the rule"
    elif isinstance(error, UnexpectedToken):
        found = _shown(error.token)
    else:
        found = repr(char)
    previous = tokens[-1] if tokens else None
    after = f" after {_shown(previous)}" if previous is not None else ""
    hint: str | None = None
    if isinstance(error, UnexpectedCharacters) and char in "'\"":
        return RuleError(
            "this text has no closing quote",
            rule=text,
            position=position,
            hint=f"end it with {char} (write \\{char} for a quote inside the text)",
        )
    if previous is not None and previous.type == "_PROPERTIES" and expected == {"_LSQB"}:
        return RuleError(
            "expected .NAME or [\"any name\"] after 'properties'",
            rule=text,
            position=position,
            found=found,
            hint='for example properties.page or properties["utm source"]',
        )
    if isinstance(error, UnexpectedToken):
        kind = error.token.type
        if kind == "_NULL" and "STRING" in expected:
            hint = "to test for a missing value, write: ... is null (or: is not null)"
        elif kind == "NAME" and "STRING" in expected:
            hint = f"put text in quotes: '{error.token}'"
        elif kind == "_RPAR" and "_RPAR" not in expected:
            hint = "this ')' closes no '('"
    elif char in "&|!":
        hint = "write and, or, not (and != for 'not equal')"
    return RuleError(
        f"expected {_describe(expected)}{after}",
        rule=text,
        position=position,
        found=found,
        hint=hint,
    )

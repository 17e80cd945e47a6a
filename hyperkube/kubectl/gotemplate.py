"""``-o go-template``: the part of Go's text/template that kubectl users write.

Supported: text and ``{{pipeline}}`` actions with ``{{-``/``-}}`` trimming and ``/* */``
comments; ``if``/``else if``/``else``, ``range`` (with ``$i, $v :=`` and ``else``), ``with``,
``break``/``continue``, ``end``; variables (``$x := ...``, ``$x = ...``, ``$``); fields
(``.a.b``, ``$x.a``, ``(pipe).a``); string, raw, number, bool and nil literals; pipelines with
``|``; the builtins ``index len printf print println not and or eq ne lt le gt ge slice`` and
kubectl's ``base64decode`` and ``exists``. Parsing makes a small tree of tuples that
:func:`execute` walks against the JSON-decoded object (see :mod:`hyperkube.kubectl.gofmt`
for how values print).
"""

from __future__ import annotations

import ast
import re
from typing import Any

from hyperkube.kubectl.gofmt import NO_VALUE, go_type, value_text
from hyperkube.kubectl.gotemplate_funcs import FUNCS, TemplateError, truth

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)+')
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<num>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[()|,])
""", re.VERBOSE)

KEYWORDS = {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"}


def _lex_action(text: str) -> list[tuple[str, str, bool]]:
    """Tokens of one action: (kind, text, glued to the previous token)."""
    tokens: list[tuple[str, str, bool]] = []
    position, glued = 0, False
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise TemplateError(f"unexpected {text[position]!r} in command")
        kind = match.lastgroup or ""
        position = match.end()
        if kind == "ws":
            glued = False
            continue
        tokens.append((kind, match.group(), glued))
        glued = True
    return tokens


def _split(source: str) -> list[tuple[str, str, int]]:
    """Text and action pieces, with ``{{-``/``-}}`` trimming applied."""
    pieces: list[tuple[str, str, int]] = []
    position = 0
    trim_next = False
    while True:
        start = source.find("{{", position)
        text = source[position:] if start < 0 else source[position:start]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if start < 0:
            if text:
                pieces.append(("text", text, 0))
            return pieces
        line = source.count("\n", 0, start) + 1
        inner_start = start + 2
        if source.startswith("- ", inner_start) or source[inner_start:inner_start + 2] in ("-\t", "-\n", "-\r"):
            text = text.rstrip(" \t\r\n")
            inner_start += 2
        if text:
            pieces.append(("text", text, 0))
        if source[inner_start:].lstrip(" ").startswith("/*"):  # a comment: quotes inside don't count
            close = source.find("*/", inner_start)
            end = source.find("}}", close) if close >= 0 else -1
            if end < 0:
                raise TemplateError(f"{line}: unclosed comment")
        else:
            end = _action_end(source, inner_start, line)
        inner, trim_next = source[inner_start:end], False
        if inner.endswith(" -") or inner[-2:] in ("\t-", "\n-", "\r-"):
            inner, trim_next = inner[:-2], True
        stripped = inner.strip()
        if not (stripped.startswith("/*") and stripped.endswith("*/")):
            pieces.append(("action", inner, line))
        position = end + 2


def _action_end(source: str, start: int, line: int) -> int:
    quote = ""
    index = start
    while index < len(source):
        char = source[index]
        if quote:
            if char == "\\" and quote != "`":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"`'":
            quote = char
        elif source.startswith("}}", index):
            return index
        index += 1
    raise TemplateError(f"{line}: unclosed action")


class _Stop(Exception):
    """An ``else`` or ``end`` closing the block being parsed."""


class _Parser:
    def __init__(self, source: str) -> None:
        self.pieces = _split(source)
        self.index = 0
        self.line = source.count("\n") + 1

    def parse(self) -> list[Any]:
        body, stop = self.block()
        if stop is not None:
            raise TemplateError(f"{self.line}: unexpected {{{{{stop[0]}}}}}")
        return body

    def block(self) -> tuple[list[Any], tuple[str, list[tuple[str, str, bool]]] | None]:
        """Nodes up to an ``else``/``end`` (returned with its tokens), or the end of input."""
        nodes: list[Any] = []
        while self.index < len(self.pieces):
            kind, text, line = self.pieces[self.index]
            self.index += 1
            self.line = line or self.line
            if kind == "text":
                nodes.append(("text", text))
                continue
            try:
                self.action(nodes, text)
            except _Stop as stop:
                return nodes, stop.args[0]
            except TemplateError as error:
                if str(error)[:1].isdigit():
                    raise
                raise TemplateError(f"{line}: {error}") from None
        return nodes, None

    def action(self, nodes: list[Any], text: str) -> None:
        tokens = _lex_action(text)
        if not tokens:
            raise TemplateError("missing value for command")
        head = tokens[0][1] if tokens[0][0] == "ident" else ""
        if head in ("else", "end"):
            raise _Stop((head, tokens[1:]))
        if head in ("if", "with", "range"):
            nodes.append(self.control(head, tokens[1:]))
        elif head in ("break", "continue"):
            nodes.append((head,))
        elif head in ("define", "template", "block"):
            raise TemplateError(f"{{{{{head}}}}} is not supported")
        else:
            nodes.append(("action", _pipeline(tokens)))

    def control(self, head: str, tokens: list[tuple[str, str, bool]]) -> tuple[Any, ...]:
        pipe = _pipeline(tokens, allow_two=head == "range")
        body, stop = self.block()
        otherwise: list[Any] = []
        if stop is None:
            raise TemplateError("unexpected EOF")
        if stop[0] == "else":
            rest = stop[1]
            if rest and rest[0][1] in ("if", "with") and head != "range":
                # {{else if ...}} is {{else}}{{if ...}}...{{end}} sharing this block's end
                otherwise = [self.control(rest[0][1], rest[1:])]
                return (head, pipe, body, otherwise)
            otherwise, stop = self.block()
            if stop is None or stop[0] != "end":
                raise TemplateError(f"expected end in {head}")
        return (head, pipe, body, otherwise)


def _pipeline(tokens: list[tuple[str, str, bool]], allow_two: bool = False) -> tuple[Any, ...]:
    """(declared variables, declare?, commands)."""
    names: list[str] = []
    declare = None
    for split in range(len(tokens)):
        if tokens[split][0] in ("decl", "assign"):
            left = tokens[:split]
            variables = [t[1] for t in left if t[0] == "var"]
            if variables and len(variables) <= (2 if allow_two else 1) and \
                    all(t[0] in ("var", "punct") and (t[0] == "var" or t[1] == ",") for t in left):
                names, declare, tokens = variables, tokens[split][0] == "decl", tokens[split + 1:]
            break
    commands: list[list[Any]] = [[]]
    stack: list[list[list[Any]]] = []
    for kind, text, glued in tokens:
        current = commands[-1]
        if kind == "punct" and text == "|":
            commands.append([])
        elif kind == "punct" and text == "(":
            stack.append(commands)
            commands = [[]]
        elif kind == "punct" and text == ")":
            if not stack:
                raise TemplateError("unexpected right paren")
            inner = ("pipe", ((), None, commands), ())
            commands = stack.pop()
            commands[-1].append(inner)
        elif kind == "field" and glued and current and current[-1][0] in ("var", "pipe"):
            base = current[-1]
            current[-1] = (base[0], base[1], base[2] + tuple(text[1:].split(".")))
        elif kind == "field":
            current.append(("field", None, tuple(text[1:].split("."))))
        elif kind == "dot":
            current.append(("field", None, ()))
        elif kind == "var":
            current.append(("var", text, ()))
        elif kind in ("str", "raw", "char", "num"):
            current.append(("lit", _literal(kind, text), ()))
        elif kind == "ident" and text in ("true", "false"):
            current.append(("lit", text == "true", ()))
        elif kind == "ident" and text == "nil":
            current.append(("lit", None, ()))
        elif kind == "ident":
            if text not in FUNCS:
                raise TemplateError(f'function "{text}" not defined')
            current.append(("func", text, ()))
        else:
            raise TemplateError(f"unexpected {text!r} in command")
    if stack:
        raise TemplateError("unclosed left paren")
    if any(not command for command in commands):
        raise TemplateError("missing value for command")
    return (tuple(names), declare, commands)


def _literal(kind: str, text: str) -> Any:
    if kind == "raw":
        return text[1:-1]
    if kind == "str":
        return ast.literal_eval(text)
    if kind == "char":
        return ord(ast.literal_eval(text))
    clean = text.replace("_", "")
    if re.fullmatch(r"[+-]?(0[xX][0-9a-fA-F]+|\d+)", clean):
        return int(clean, 0) if not re.fullmatch(r"[+-]?0\d+", clean) else int(clean, 8)
    return float(clean)


def parse(source: str) -> list[Any]:
    return _Parser(source).parse()


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _State:
    def __init__(self, root: Any) -> None:
        self.variables: list[tuple[str, Any]] = [("$", root)]
        self.out: list[str] = []

    def lookup(self, name: str) -> Any:
        for key, value in reversed(self.variables):
            if key == name:
                return value
        raise TemplateError(f"undefined variable: {name}")

    def assign(self, name: str, value: Any) -> None:
        for index in range(len(self.variables) - 1, -1, -1):
            if self.variables[index][0] == name:
                self.variables[index] = (name, value)
                return
        raise TemplateError(f"undefined variable: {name}")


def _fields(value: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        if isinstance(value, dict):
            value = value.get(name, NO_VALUE)
        elif value is NO_VALUE:  # a missing key stays "no value" down the chain
            return NO_VALUE
        elif value is None:
            raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
        else:
            raise TemplateError(f"can't evaluate field {name} in type {go_type(value)}")
    return value


def _term(state: _State, dot: Any, term: tuple[Any, ...]) -> Any:
    kind, base, names = term
    if kind == "field":
        return _fields(dot, names)
    if kind == "var":
        return _fields(state.lookup(base), names)
    if kind == "lit":
        return base
    if kind == "pipe":
        return _fields(_run_pipe(state, dot, base), names)
    if kind == "func":
        return FUNCS[base]()
    raise TemplateError(f"can't evaluate {kind}")


def _run_pipe(state: _State, dot: Any, pipe: tuple[Any, ...]) -> Any:
    names, declare, commands = pipe
    value: Any = NO_VALUE
    for position, command in enumerate(commands):
        head = command[0]
        piped = [value] if position > 0 else []
        if head[0] == "func":
            args = [_term(state, dot, t) for t in command[1:]] + piped
            args = [None if a is NO_VALUE else a for a in args]  # a function sees a nil interface
            value = FUNCS[head[1]](*args)
        elif len(command) > 1 or piped:
            raise TemplateError(f"can't give argument to non-function {value_text(_term(state, dot, head))}")
        else:
            value = _term(state, dot, head)
    if names and declare is not None and len(names) == 1:
        if declare:
            state.variables.append((names[0], value))
        else:
            state.assign(names[0], value)
    return value


def _walk(state: _State, dot: Any, nodes: list[Any]) -> None:
    mark = len(state.variables)
    try:
        for node in nodes:
            kind = node[0]
            if kind == "text":
                state.out.append(node[1])
            elif kind == "action":
                value = _run_pipe(state, dot, node[1])
                if not node[1][0]:  # a nil interface leaves a pipeline as "no value"
                    state.out.append("<no value>" if value is None else value_text(value))
            elif kind in ("if", "with"):
                value = _run_pipe(state, dot, node[1])
                if truth(value):
                    _walk(state, value if kind == "with" else dot, node[2])
                else:
                    _walk(state, dot, node[3])
            elif kind == "range":
                _range(state, dot, node)
            elif kind == "break":
                raise _Break
            elif kind == "continue":
                raise _Continue
    finally:
        del state.variables[mark:]


def _range(state: _State, dot: Any, node: tuple[Any, ...]) -> None:
    _, pipe, body, otherwise = node
    names, _, commands = pipe
    value = _run_pipe(state, dot, ((), None, commands))
    if isinstance(value, dict):
        pairs: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
    elif isinstance(value, list):
        pairs = list(enumerate(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        pairs = [(i, i) for i in range(value)]
    elif value is None or value is NO_VALUE:
        pairs = []
    else:
        raise TemplateError(f"range can't iterate over {value_text(value)}")
    if not pairs:
        _walk(state, dot, otherwise)
        return
    for key, item in pairs:
        mark = len(state.variables)
        if len(names) == 1:
            state.variables.append((names[0], item))
        elif len(names) == 2:
            state.variables += [(names[0], key), (names[1], item)]
        try:
            _walk(state, item, body)
        except _Continue:
            pass
        except _Break:
            break
        finally:
            del state.variables[mark:]


def execute(nodes: list[Any], data: Any) -> str:
    """The template's text; an error carries what was written before it (``partial``), which
    kubectl has already printed by then."""
    state = _State(data)
    try:
        _walk(state, data, nodes)
    except TemplateError as error:
        error.partial = "".join(state.out)  # type: ignore[attr-defined]
        raise
    return "".join(state.out)

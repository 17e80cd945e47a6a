"""JSON and YAML exactly as kubectl writes them.

kubectl marshals unstructured objects with Go's ``encoding/json`` (``MarshalIndent`` with
four spaces: keys sorted, ``<``, ``>`` and ``&`` escaped as ``\\u003c`` ...) and with
``sigs.k8s.io/yaml``, which is go-yaml v2 underneath. go-yaml's emitter is a port of libyaml,
the same emitter PyYAML drives, so the layout (block style, 80-column folding, literal
blocks for multi-line text) already agrees; what differs is the choice of quoting, which
go-yaml makes by asking "would this text read back as something other than a string under
YAML 1.1 as *Go* resolves it?". :func:`_needs_quotes` answers that question Go's way and the
representer asks for double quotes exactly then.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import yaml

try:
    _Dumper: type = yaml.CSafeDumper
except AttributeError:  # PyYAML without libyaml
    _Dumper = yaml.SafeDumper

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029",
               "\\b": "\\u0008", "\\f": "\\u000c"}
_ESCAPE_RE = re.compile(r"[<>&\u2028\u2029]|(?<!\\)(?:\\\\)*\\[bf]")
_INDENT_RE = re.compile(rb"^( +)", re.MULTILINE)


def to_json(obj: Any) -> str:
    """``json.MarshalIndent(obj, "", "    ")`` plus the newline kubectl adds."""
    data = orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    data = _INDENT_RE.sub(lambda m: m.group(1) * 2, data)
    text = data.decode()
    if _ESCAPE_RE.search(text):
        text = _ESCAPE_RE.sub(_escape, text)
    return text + "\n"


def _escape(match: re.Match[str]) -> str:
    token = match.group(0)
    if token in _GO_ESCAPES:
        return _GO_ESCAPES[token]
    return token[:-2] + _GO_ESCAPES[token[-2:]]  # an even run of backslashes, then \b or \f


def compact_json(obj: Any) -> str:
    """``json.Marshal``: compact, keys sorted, HTML characters escaped (last-applied annotations)."""
    text = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode()
    if _ESCAPE_RE.search(text):
        text = _ESCAPE_RE.sub(_escape, text)
    return text


_BOOL_NULL = frozenset("y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF "
                       "null Null NULL ~ .inf .Inf .INF -.inf -.Inf -.INF +.inf +.Inf +.INF .nan .NaN .NAN <<".split())
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INT = re.compile(r"^[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[0-9]+)$")
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}.*)?$")


def _needs_quotes(text: str) -> bool:
    if text == "" or text in _BOOL_NULL:
        return True
    first = text[0]
    if first.isdigit() or first in "+-.":
        plain = text.replace("_", "")
        if _INT.match(plain) or _FLOAT.match(plain) or _BASE60.match(text) or _TIMESTAMP.match(text):
            return True
    return False


def _represent_str(dumper: Any, text: str) -> Any:
    if "\n" in text:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    if _needs_quotes(text):
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=None)


def _represent_float(dumper: Any, value: float) -> Any:
    if value != value:
        text = ".NaN"
    elif value in (float("inf"), float("-inf")):
        text = ".Inf" if value > 0 else "-.Inf"
    elif value.is_integer() and abs(value) < 1e21:
        text = str(int(value))
    else:
        text = repr(value)
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


class _GoYAMLDumper(_Dumper):  # type: ignore[misc, valid-type]
    def ignore_aliases(self, data: Any) -> bool:
        return True


_GoYAMLDumper.add_representer(str, _represent_str)
_GoYAMLDumper.add_representer(float, _represent_float)


def to_yaml(obj: Any) -> str:
    """``yaml.Marshal`` as kubectl calls it."""
    return yaml.dump(obj, Dumper=_GoYAMLDumper, default_flow_style=False, sort_keys=True, allow_unicode=True,
                     width=80)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML 1.1 as sigs.k8s.io/yaml reads manifests, except that timestamps stay strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def load_documents(text: str) -> list[Any]:
    """Every YAML (or JSON) document in ``text``, empty documents dropped."""
    return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]

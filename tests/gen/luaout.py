"""Lua source for fixture values: stable key order, stable number formatting, and a header
that names the generator, the seed and the sha256 of the body."""
from __future__ import annotations

import hashlib
import math

IDENT_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")
LUA_KEYWORDS = {"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
                "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"}


def num(v) -> str:
    if isinstance(v, bool):
        return "T" if v else "F"
    if isinstance(v, int):
        return str(v)
    f = float(v)
    if math.isinf(f) or math.isnan(f):
        raise ValueError("fixtures hold finite numbers only")
    r = repr(f)
    return r if ("." in r or "e" in r) else r + ".0"


def string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32:
            out.append("\\%03d" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def key(k) -> str:
    if isinstance(k, str) and k and not k[0].isdigit() and set(k) <= IDENT_OK and k not in LUA_KEYWORDS:
        return k
    return "[" + (string(k) if isinstance(k, str) else num(k)) + "]"


def value(v, indent: int = 0, width: int = 200) -> str:
    """One value; tables go on one line when that fits in `width`, else one entry a line.
    `None` inside a sequence is written `nil` (argument lists with holes)."""
    flat = _flat(v)
    if not isinstance(v, (dict, list, tuple)) or len(flat) + indent <= width or _is_array(v):
        return flat
    pad = "  " * (indent // 2 + 1)
    end = "  " * (indent // 2)
    if isinstance(v, dict):
        parts = [f"{pad}{key(k)}={value(v[k], indent + 2, width)}" for k in sorted(v)]
    else:
        parts = [pad + value(x, indent + 2, width) for x in v]
    return "{\n" + ",\n".join(parts) + "\n" + end + "}"


def _flat(v):
    if v is None:
        return "nil"
    if isinstance(v, (bool, int, float)):
        return num(v)
    if isinstance(v, str):
        return string(v)
    if isinstance(v, dict):
        if _is_array(v):
            vals = _bits(v["values"]) if v["dtype"] == "bool" else _dense(v["values"])
            return "{shape={%s},dtype=%s,values=%s}" % (",".join(str(x) for x in v["shape"]), string(v["dtype"]), vals)
        return "{" + ", ".join(f"{key(k)}={_flat(v[k])}" for k in sorted(v)) + "}"
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(_flat(x) for x in v) + "}"
    raise TypeError(type(v))


def _is_array(v):
    return isinstance(v, dict) and set(v) == {"shape", "dtype", "values"}


def _bits(v):
    """bool array values with each innermost row written as a string of 0/1 (the replay
    expands them, tests/helpers/conformance.lua M.expand_array)."""
    if isinstance(v, list) and v and isinstance(v[0], list):
        return "{" + ",".join(_bits(x) for x in v) + "}"
    if isinstance(v, list) and (not v or isinstance(v[0], bool)):
        return '"' + "".join("1" if x else "0" for x in v) + '"'
    return _dense(v)


def _dense(v):
    if isinstance(v, list):
        return "{" + ",".join(_dense(x) for x in v) + "}"
    return num(v)


def document(header_lines, body: str) -> str:
    """The file: header comment lines (the last one carries the body's sha256), then body."""
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    head = "".join(f"-- {line}\n" if line else "--\n" for line in header_lines)
    return head + f"-- sha256(body): {digest}\n" + body


def check_document(text: str) -> bool:
    """True when the body below the sha256 line still has that hash."""
    marker = "-- sha256(body): "
    at = text.find("\n" + marker)
    if at < 0:
        return False
    end = text.index("\n", at + 1)
    want = text[at + 1 + len(marker):end]
    return hashlib.sha256(text[end + 1:].encode("utf-8")).hexdigest() == want

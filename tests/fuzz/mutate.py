"""Mutators shared by the fuzz tests and ``bench/fuzz.py``: JSON trees, raw bytes, YAML text.

Each takes a ``random.Random`` so hypothesis (through ``st.randoms()``) and the bench's
plain seeds drive the same code.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

#: values that have broken JSON consumers before: wrong types, huge numbers, odd strings
NASTY: list[Any] = [
    None, True, False, 0, -1, 2**63, -(2**64), 1e308, -0.0, 0.5, "", " ", "0", "-1",
    "null", "true", "2026-02-30T10:00:00+02:00", "2026-11-23T10:00:00", "2026-11-23",
    "not a date", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00+00:00", "\u0000",
    "\ud800", "é" * 50, "x" * 5000, "<script>alert(1)</script>", "../../etc/passwd",
    "http://169.254.169.254/latest/meta-data/", "%s%s%n", "{{ 7*7 }}", "${jndi:x}",
    [], {}, [None], {"": None}, [[[[[]]]]], {"id": {"id": {"id": None}}},
]
RAW_TOKENS = [
    b"", b"{", b"}", b"[", b"null", b"NaN", b"Infinity", b"-Infinity", b"1e999", b'"\\ud800"',
    b"\xff\xfe", b"\xef\xbb\xbf{}", b"\x00", b'{"a":1,"a":2}', b"[" * 50 + b"]" * 50,
    b'{"ticket":' * 600 + b"1" + b"}" * 600,
]
#: nesting deeper than the JSON decoder's recursion limit (kept apart: see test_deep_nesting)
DEEP = b"[" * 3000 + b"]" * 3000  # 6 KB: under the body limits


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node's path in a JSON tree (the root is ``()``)."""
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += paths(v, (*prefix, i))
    return out


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.5 or depth > 2:
        return copy.deepcopy(rng.choice(NASTY))
    if roll < 0.6:
        return rng.randint(-(2**70), 2**70)
    if roll < 0.75:
        return "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 12)))
    if roll < 0.88:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {str(_random_value(rng, 3)): _random_value(rng, depth + 1)
            for _ in range(rng.randint(0, 3))}


def mutate_tree(data: Any, rng: random.Random, steps: int = 0) -> Any:
    """``data`` with 1-3 random edits: replace a node, delete a key, duplicate or swap."""
    data = copy.deepcopy(data)
    for _ in range(steps or rng.randint(1, 3)):
        where = rng.choice(paths(data))
        if not where:
            data = _random_value(rng) if rng.random() < 0.1 else data
            continue
        parent: Any = data
        for step in where[:-1]:
            parent = parent[step]
        key = where[-1]
        action = rng.random()
        if action < 0.55:
            parent[key] = _random_value(rng)
        elif action < 0.75 and isinstance(parent, dict):
            del parent[key]
        elif action < 0.85 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif action < 0.95:
            node = parent[key]
            parent[key] = str(node) if not isinstance(node, str) else _flip_type(node)
        else:
            parent[key] = copy.deepcopy(data) if len(json.dumps(data)) < 20000 else None
    return data


def _flip_type(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return [text]


def mutate_bytes(body: bytes, rng: random.Random) -> bytes:
    """Byte-level damage: truncation, flipped bytes, injected tokens."""
    roll = rng.random()
    if roll < 0.25 and body:
        return body[: rng.randrange(len(body))]
    if roll < 0.5 and body:
        b = bytearray(body)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if roll < 0.75:
        at = rng.randrange(len(body) + 1)
        return body[:at] + rng.choice(RAW_TOKENS) + body[at:]
    return rng.choice(RAW_TOKENS)


YAML_SNIPPETS = [
    "", " ", "  ", "\t", ":", "- ", "? ", "&a ", "*a", "!!python/object:os.system ", "{", "[",
    "'", '"', "#", "|", ">", "~", "null", "yes", "2026-02-30", "99:99", "-1", "1e999", "x" * 300,
    "!!binary AAA", "<<: *a", "%YAML 1.1", "---", "...", "\u00e9", "\x00", "\ud7ff",
]


def mutate_yaml(text: str, rng: random.Random) -> str:
    """Line-level and character-level damage to a YAML file."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        if not lines:
            lines = [""]
        i = rng.randrange(len(lines))
        roll = rng.random()
        if roll < 0.2:
            del lines[i]
        elif roll < 0.35:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif roll < 0.5:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif roll < 0.65:
            lines[i] = " " * rng.randint(1, 4) + lines[i] if rng.random() < 0.5 \
                else lines[i].lstrip()
        elif roll < 0.85 and ":" in lines[i]:
            head, _, _ = lines[i].partition(":")
            lines[i] = f"{head}: {rng.choice(YAML_SNIPPETS)}"
        else:
            at = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:at] + rng.choice(YAML_SNIPPETS) + lines[i][at:]
    return "\n".join(lines)

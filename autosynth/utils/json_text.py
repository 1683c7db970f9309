"""JSON that a person can read and edit: indented objects, lists of numbers on one line.

``json.dumps(indent=2)`` puts every number of a list on its own line, which turns a spacing
into five lines and a per-slice count into hundreds; here a list of scalars stays on one line.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any

from autosynth.utils.files import write_text_atomic


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (list, tuple, dict))


def _is_flat(value: Any) -> bool:
    """Scalars only, or a few short lists of scalars (a crop box, a handful of runs)."""
    if all(_is_scalar(v) for v in value):
        return True
    return len(value) <= 8 and all(
        isinstance(v, (list, tuple)) and len(v) <= 3 and all(_is_scalar(w) for w in v)
        for v in value)


def _scalar(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot write the non-finite number {value} to JSON")
    return value


def dumps(value: Any, indent: int = 2, _level: int = 0) -> str:
    pad, inner = " " * indent * _level, " " * indent * (_level + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {dumps(v, indent, _level + 1)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, (list, tuple)):
        if _is_flat(value):
            return json.dumps(value, default=_scalar, allow_nan=False)
        items = [inner + dumps(v, indent, _level + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(_scalar(value), allow_nan=False)


def write_json_readable(path: str | os.PathLike, value: Any) -> None:
    """Write ``value`` as readable JSON, atomically."""
    write_text_atomic(path, dumps(value) + "\n")

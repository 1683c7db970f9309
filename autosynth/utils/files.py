"""Atomic file writing: a reader never sees half a file, a killed writer leaves no debris.

Every output of autosynth goes through :func:`atomic_path`: the data are written to a
temporary name in the destination folder (same file system, so the final ``os.replace`` is
atomic) and renamed only once complete.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


def _full_suffix(name: str) -> str:
    """'.nii.gz' for 'a.nii.gz': writers such as SimpleITK choose the format from it."""
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return Path(name).suffix


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``destination``; rename it over ``destination`` on success.

    The temporary name keeps the destination's extension so that format-sniffing writers work.
    On any exception the temporary file is removed and ``destination`` is left untouched.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".tmp" + _full_suffix(destination.name),
        dir=destination.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp_path, destination)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def interrupted_writes(folder: str | os.PathLike, name_glob: str) -> list[Path]:
    """Temporary files that :func:`atomic_path` left behind for destinations matching
    ``name_glob`` because a kill interrupted the write (the destination itself is whole)."""
    return sorted(Path(folder).glob(f".{name_glob}.*.tmp*"))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text_atomic(destination: str | os.PathLike, text: str) -> None:
    with atomic_path(destination) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(destination: str | os.PathLike, data: Any) -> None:
    """Readable JSON (indented, keys in insertion order), written atomically."""
    write_text_atomic(destination, json.dumps(data, indent=2) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_json_document(path: str | os.PathLike, file_name: str, error: type[Exception],
                       missing_hint: str = "file not found") -> tuple[Path, Any]:
    """(path, data) of a JSON document a person may have edited; a folder means its
    ``file_name``. A missing file or invalid JSON raises ``error`` naming the file."""
    path = Path(path)
    if path.is_dir():
        path = path / file_name
    if not path.is_file():
        raise error(f"{path}: {missing_hint}")
    try:
        return path, read_json(path)
    except (ValueError, UnicodeDecodeError) as err:
        raise error(f"{path}: not valid JSON ({err})") from None

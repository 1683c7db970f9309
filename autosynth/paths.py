"""Where autosynth keeps its data: three roots, each from an environment variable.

``AUTOSYNTH_RAW``, ``AUTOSYNTH_PREPROCESSED`` and ``AUTOSYNTH_RESULTS`` default to
``$AUTOSYNTH_HOME/{raw,preprocessed,results}`` and ``AUTOSYNTH_HOME`` to ``~/autosynth_data``,
so a new user is never stopped by an unset variable. The variables are read on every call, so
tests and scripts may change them at run time.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT_VARIABLES = {
    "raw": "AUTOSYNTH_RAW",
    "preprocessed": "AUTOSYNTH_PREPROCESSED",
    "results": "AUTOSYNTH_RESULTS",
}
_DATASET_NAME = re.compile(r"^Dataset(\d{3})_([A-Za-z0-9][A-Za-z0-9_\-]*)$")
_announced: set[str] = set()


class DatasetNotFoundError(LookupError):
    """No dataset matches the identifier the user gave."""


def autosynth_home() -> Path:
    return Path(os.environ.get("AUTOSYNTH_HOME", Path.home() / "autosynth_data")).expanduser()


def _root(kind: str, create: bool = True) -> Path:
    variable = ROOT_VARIABLES[kind]
    value = os.environ.get(variable)
    if value:
        path = Path(value).expanduser()
    else:
        path = autosynth_home() / kind
        if variable not in _announced:
            _announced.add(variable)
            print(f"autosynth: {variable} is not set, using {path}", file=sys.stderr)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def raw_root(create: bool = True) -> Path:
    return _root("raw", create)


def preprocessed_root(create: bool = True) -> Path:
    return _root("preprocessed", create)


def results_root(create: bool = True) -> Path:
    return _root("results", create)


def dataset_name(dataset_id: int, name: str) -> str:
    """The folder name of a dataset: ``Dataset001_BraTS2018``."""
    if not 0 <= dataset_id <= 999:
        raise ValueError(f"dataset id must be 0-999, got {dataset_id}")
    return f"Dataset{dataset_id:03d}_{name}"


def parse_dataset_name(name: str) -> tuple[int, str] | None:
    match = _DATASET_NAME.match(name)
    return (int(match.group(1)), match.group(2)) if match else None


def _datasets_in(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and parse_dataset_name(p.name))


def find_dataset_name(identifier: str | int) -> str:
    """Resolve ``1``, ``"001"`` or ``"Dataset001_Name"`` to the full dataset name.

    The three roots are searched; an unknown identifier raises :class:`DatasetNotFoundError`
    listing the datasets that do exist, and an id shared by two names is refused.
    """
    identifier = str(identifier).strip()
    found: set[str] = set()
    for root in (raw_root(False), preprocessed_root(False), results_root(False)):
        found.update(_datasets_in(root))
    if parse_dataset_name(identifier):
        if identifier in found:
            return identifier
        matches = []
    elif identifier.isdigit():
        wanted = int(identifier)
        matches = sorted(n for n in found if parse_dataset_name(n)[0] == wanted)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise DatasetNotFoundError(
                f"dataset id {wanted:03d} is ambiguous: {', '.join(matches)}; give the full name")
    else:
        matches = [n for n in found if parse_dataset_name(n)[1] == identifier]
        if len(matches) == 1:
            return matches[0]
    existing = ", ".join(sorted(found)) or "none"
    raise DatasetNotFoundError(
        f"no dataset matches '{identifier}' in {raw_root(False)}, {preprocessed_root(False)} "
        f"or {results_root(False)}; datasets that exist: {existing}")


def raw_dataset_folder(identifier: str | int) -> Path:
    name = find_dataset_name(identifier)
    folder = raw_root() / name
    if not folder.is_dir():
        raise DatasetNotFoundError(f"dataset {name} has no raw folder under {raw_root()}")
    return folder


def preprocessed_dataset_folder(identifier: str | int) -> Path:
    return preprocessed_root() / find_dataset_name(identifier)


def results_dataset_folder(identifier: str | int) -> Path:
    return results_root() / find_dataset_name(identifier)

"""File names and I/O of preprocessed cases; the trainer reads cases through :func:`load_case`.

``<configuration>/CASE.npy`` float32/float16 ``(C, S, H, W)``; ``CASE_mask.npy`` and
``CASE_labels.npy`` uint8 ``(S, H, W)``; ``CASE.json`` the :class:`CaseProperties`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from autosynth.preprocessing.properties import CaseProperties
from autosynth.utils.files import atomic_path


def case_paths(folder: str | Path, case_id: str) -> dict[str, Path]:
    folder = Path(folder)
    return {"data": folder / f"{case_id}.npy", "mask": folder / f"{case_id}_mask.npy",
            "labels": folder / f"{case_id}_labels.npy", "properties": folder / f"{case_id}.json"}


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write a ``.npy`` atomically (so a reader never memory-maps half a file)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(array))


def list_cases(folder: str | Path) -> list[str]:
    """Case ids of a configuration folder: those whose properties file exists."""
    return sorted(p.stem for p in Path(folder).glob("*.json") if not p.name.startswith("."))


def load_case(folder: str | Path, case_id: str, mmap: bool = True
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, CaseProperties]:
    """(data (C, S, H, W), mask (S, H, W), labels (S, H, W) or None, properties).

    With ``mmap`` the arrays are memory-mapped read-only: ``data[:, s]`` reads one slice.
    """
    paths = case_paths(folder, case_id)
    properties = CaseProperties.load(paths["properties"])
    mode = "r" if mmap else None
    data = np.load(paths["data"], mmap_mode=mode)
    mask = np.load(paths["mask"], mmap_mode=mode)
    labels = np.load(paths["labels"], mmap_mode=mode) if properties.has_labels else None
    return data, mask, labels, properties

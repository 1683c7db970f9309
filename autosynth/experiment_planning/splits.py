"""The split file: a held-out test set and five cross-validation folds, by patient.

This module owns the file (:data:`SPLITS_FILE` in the preprocessed dataset folder): every stage
reads it through :func:`load_splits` and asks :func:`cases_of_fold`, :func:`development_cases` or
:func:`test_cases`, so nnU-Net's list format is converted in one place.


The split is by patient so that no patient's slices appear on both sides (the paper's published
code split by slice, which leaks). Seeded: 20 % of the patients are held out for testing, the
rest are divided into 5 folds; fold k validates on its fifth and trains on the others, i.e.
64 % / 16 % / 20 % of the whole, as the paper. With fewer than 5 development patients each fold
draws its own random validation fifth instead.

Format: ``{"seed": int, "test": [case ids], "folds": [{"train": [...], "val": [...]}, ...]}``.
A user's split file in the raw dataset folder is used instead, after validation; a
plain list of folds (nnU-Net's format) is accepted and means "no test set".
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autosynth.utils.json_text import write_json_readable
from autosynth.utils.files import read_json

SPLITS_FILE = "splits_final.json"
N_FOLDS, TEST_FRACTION, DEFAULT_SEED = 5, 0.2, 12345


class SplitsError(ValueError):
    """A split is invalid (unknown cases, a patient on two sides); names the file."""


def make_splits(case_ids: list[str], seed: int = DEFAULT_SEED,
                patients: dict[str, str] | None = None, n_folds: int = N_FOLDS,
                test_fraction: float = TEST_FRACTION) -> dict:
    """Seeded patient-level split of ``case_ids`` (``patients`` maps case -> patient)."""
    patients = patients or {}
    groups: dict[str, list[str]] = {}
    for case in sorted(case_ids):
        groups.setdefault(str(patients.get(case, case)), []).append(case)
    names = sorted(groups)
    if len(names) < 3:
        raise SplitsError(f"a split needs at least 3 patients, the dataset has {len(names)}")
    rng = np.random.default_rng(seed)
    order = [names[i] for i in rng.permutation(len(names))]
    n_test = max(1, int(round(test_fraction * len(names)))) if test_fraction > 0 else 0
    test, development = order[:n_test], order[n_test:]
    folds = []
    if len(development) >= n_folds:
        chunks = np.array_split(np.arange(len(development)), n_folds)
        for chunk in chunks:
            val = {development[i] for i in chunk}
            folds.append((sorted(set(development) - val), sorted(val)))
    else:
        n_val = max(1, int(round(len(development) / n_folds)))
        for k in range(n_folds):
            shuffled = [development[i] for i in
                        np.random.default_rng([seed, k]).permutation(len(development))]
            folds.append((sorted(shuffled[n_val:]), sorted(shuffled[:n_val])))

    def cases_of(group_names) -> list[str]:
        return sorted(c for g in group_names for c in groups[g])

    return {"seed": seed, "test": cases_of(test),
            "folds": [{"train": cases_of(t), "val": cases_of(v)} for t, v in folds]}


def validate_splits(splits, case_ids: list[str], source: str,
                    patients: dict[str, str] | None = None) -> dict:
    """Check a split against the dataset; returns it in the standard format or raises."""
    splits = _standard_format(splits, source)
    known, patients = set(case_ids), patients or {}
    test = list(splits.get("test", []))
    problems = []

    def patient(case: str) -> str:
        return str(patients.get(case, case))

    unknown = sorted(set(test) - known)
    for k, fold in enumerate(splits["folds"]):
        unknown += sorted((set(fold["train"]) | set(fold["val"])) - known)
        sides = {"train": fold["train"], "val": fold["val"], "test": test}
        for name, members in sides.items():
            repeated = sorted({c for c in members if members.count(c) > 1})
            if repeated:
                problems.append(f"fold {k}: {', '.join(repeated)} listed twice in {name}")
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            shared = sorted({patient(c) for c in sides[a]} & {patient(c) for c in sides[b]})
            if shared:
                problems.append(f"fold {k}: patient(s) {', '.join(shared[:10])} in both {a} "
                                f"and {b}")
        if not fold["train"]:
            problems.append(f"fold {k}: empty training set")
    if unknown:
        problems.insert(0, f"unknown case(s) not in imagesTr: {', '.join(sorted(set(unknown))[:10])}")
    if problems:
        raise SplitsError(f"{source}: " + "; ".join(problems))
    return {"seed": splits.get("seed"), "test": sorted(test),
            "folds": [{"train": sorted(f["train"]), "val": sorted(f["val"])}
                      for f in splits["folds"]]}


def ensure_splits(raw_folder: str | os.PathLike, preprocessed_folder: str | os.PathLike,
                  case_ids: list[str], seed: int = DEFAULT_SEED,
                  patients: dict[str, str] | None = None, overwrite: bool = False) -> dict:
    """Write the split file into the preprocessed folder and return it.

    Priority: the user's file in the raw folder, then an existing (valid) file in the
    preprocessed folder unless ``overwrite``, then a new seeded split.
    """
    user_file = Path(raw_folder) / SPLITS_FILE
    target = Path(preprocessed_folder) / SPLITS_FILE
    if user_file.is_file():
        splits = validate_splits(_read(user_file), case_ids, str(user_file), patients)
    elif target.is_file() and not overwrite:
        return validate_splits(_read(target), case_ids, str(target), patients)
    else:
        splits = make_splits(case_ids, seed, patients)
    write_json_readable(target, splits)
    return splits


@dataclass(frozen=True)
class Splits:
    """A loaded split file: what the stages after planning ask of it."""

    file: Path
    test: list[str]
    folds: list[dict]
    seed: int | None = None

    def cases_of_fold(self, fold: int | str) -> tuple[list[str], list[str]]:
        """(training cases, validation cases) of a fold; ``all`` trains and validates on
        every development case."""
        if str(fold) == "all":
            return self.development_cases, self.development_cases
        if not str(fold).isdigit() or not 0 <= int(fold) < len(self.folds):
            raise SplitsError(f"fold {fold} does not exist: {self.file} has folds 0-"
                              f"{len(self.folds) - 1} (or 'all')")
        train, val = self.folds[int(fold)]["train"], self.folds[int(fold)]["val"]
        if not train or not val:
            raise SplitsError(f"{self.file}: fold {fold} has no "
                              f"{'training' if not train else 'validation'} case")
        return list(train), list(val)

    @property
    def development_cases(self) -> list[str]:
        """Every case of any fold (training or validation): all but the held-out test set."""
        return sorted({c for fold in self.folds for c in fold["train"] + fold["val"]})


def load_splits(preprocessed_folder: str | os.PathLike) -> Splits:
    """The split file of a preprocessed dataset; a list of folds (nnU-Net's format) means
    'no test set'."""
    path = Path(preprocessed_folder) / SPLITS_FILE
    if not path.is_file():
        raise SplitsError(f"{path}: not found; run autosynth_plan_and_preprocess -d "
                          f"{Path(preprocessed_folder).name}")
    splits = _standard_format(_read(path), str(path))
    return Splits(path, sorted(splits.get("test", [])), splits["folds"], splits.get("seed"))


def _standard_format(splits, source: str) -> dict:
    if isinstance(splits, list):
        splits = {"seed": None, "test": [], "folds": splits}
    if not isinstance(splits, dict) or not isinstance(splits.get("folds"), list) \
            or not splits["folds"]:
        raise SplitsError(f"{source}: expected {{\"test\": [...], \"folds\": [{{\"train\": "
                          "[...], \"val\": [...]}}, ...]}} or a list of folds")
    for k, fold in enumerate(splits["folds"]):
        if not isinstance(fold, dict) or set(fold) != {"train", "val"}:
            raise SplitsError(f"{source}: fold {k} must be an object with exactly 'train' and "
                              "'val'")
    return splits


def _read(path: Path):
    try:
        return read_json(path)
    except ValueError as err:
        raise SplitsError(f"{path}: not valid JSON ({err})") from None

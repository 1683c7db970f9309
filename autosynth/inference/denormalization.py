"""Map predictions from the normalised [0, 1] scale back to a target-contrast intensity scale.

A synthetic image has no acquisition of its own, so its per-case mean and standard deviation
(which the normalisation removed) are unknown. ``--denormalize`` uses typical values instead:
the **median over the development cases** (splits' train + val, all cases without splits) of
each case's in-brain statistics of the target contrast, taken from the dataset's
``fingerprint.json``. Each scheme turns those typical values into its per-case parameters
(``denormalization_parameters`` of its class in ``autosynth/normalization/``); with m, s (median
brain mean, median brain SD) and the plan's window:

- ``brain_zscore_01``: x = m + s * (z_low + y * (z_high - z_low))
- ``percentile_01``:   x = p_low + y * (p_high - p_low), p = median brain 0.5 / 99.5 percentiles
- ``none``:            x = y

The median of per-case values is used, not the pooled voxel statistics of the fingerprint,
because the pooled SD mixes the variation between cases (scanner gain) into the within-case
spread a single image has. The values are copied from the fingerprint into the model folder
(``intensity_reference.json``) on first use, so the model folder stays self-contained.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from autosynth.experiment_planning.splits import SplitsError, load_splits
from autosynth.inference.errors import PredictionError
from autosynth.normalization import (NormalizationError, NormalizationPlan, denormalize,
                                     get_scheme, reference_statistics)
from autosynth.utils.files import read_json, write_json_atomic
from autosynth.paths import preprocessed_root

REFERENCE_FILE = "intensity_reference.json"


def reference_from_fingerprint(fingerprint: dict, cases: list[str] | None = None) -> dict:
    """Per contrast, the median over ``cases`` (all when None) of the per-case statistics."""
    records = fingerprint.get("cases", {})
    chosen = [c for c in (cases or records) if c in records]
    out = {}
    for contrast in fingerprint.get("contrasts", []):
        values = [records[c]["intensity"][contrast] for c in chosen
                  if contrast in records[c].get("intensity", {})]
        if values:   # a statistic some case lacks is left out (and named when it is needed)
            out[contrast] = {k: float(np.median([v[k] for v in values]))
                             for k in reference_statistics() if all(k in v for v in values)}
            out[contrast]["n_cases"] = len(values)
        elif contrast in fingerprint.get("intensity_properties", {}):
            pooled = fingerprint["intensity_properties"][contrast]
            out[contrast] = {k: float(pooled[k]) for k in reference_statistics()
                             if k in pooled} | {"n_cases": 0}
    return out


def _development_cases(preprocessed: Path) -> list[str] | None:
    try:
        return load_splits(preprocessed).development_cases
    except SplitsError:
        return None  # no split (or an unreadable one): every case of the fingerprint


def intensity_reference(model_folder: Path, dataset_name: str) -> dict:
    """The model folder's ``intensity_reference.json``, created from the fingerprint if needed."""
    stored = model_folder / REFERENCE_FILE
    if stored.is_file():
        return read_json(stored)

    preprocessed = preprocessed_root(create=False) / dataset_name
    fingerprint_file = preprocessed / "fingerprint.json"
    if not fingerprint_file.is_file():
        raise PredictionError(f"{stored}: not found, and no {fingerprint_file} to create it "
                              "from; --denormalize needs the training set's intensity statistics")
    cases = _development_cases(preprocessed)
    reference = {"source": str(fingerprint_file),
                 "cases": "development cases (splits train + val)" if cases else "all cases",
                 "statistic": "median over cases of the per-case in-brain value",
                 "contrasts": reference_from_fingerprint(read_json(fingerprint_file), cases)}
    try:
        write_json_atomic(stored, reference)
    except OSError as err:
        print(f"autosynth: could not store {stored} ({err}); using the values in memory",
              file=sys.stderr)
    return reference


def denormalization_parameters(reference: dict, target: str, plan: NormalizationPlan) -> dict:
    """Parameters for :func:`autosynth.normalization.denormalize` of the ``target`` contrast."""
    scheme = get_scheme(plan.scheme)
    stats: dict = {}
    if scheme.reference_statistics:
        where = reference.get("source", REFERENCE_FILE)
        stats = reference.get("contrasts", {}).get(target)
        if stats is None:
            raise PredictionError(f"no intensity statistics of '{target}' in the intensity "
                                  f"reference ({where})")
        missing = [k for k in scheme.reference_statistics if k not in stats]
        if missing:
            raise PredictionError(f"the intensity reference ({where}) has no {', '.join(missing)} "
                                  f"of '{target}', which --denormalize needs for {plan.scheme}")
    try:
        return {"scheme": plan.scheme, **scheme.denormalization_parameters(stats, plan)}
    except NormalizationError as err:
        raise PredictionError(str(err)) from None


def to_target_scale(prediction: np.ndarray, params: dict, brain: np.ndarray) -> np.ndarray:
    """Apply the formula above inside the brain; 0 outside."""
    return denormalize(prediction, params, brain)

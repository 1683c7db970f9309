"""Score predictions against references case by case, in parallel, and write the summary.

Per case: read the prediction and the reference (one grid, or an error), take the brain mask
(file, or derived from the reference: non-zero, largest component, holes filled), score it
with each requested protocol (``protocols.py``: the corrected default puts the reference on the
predictions' scale without clipping, ``reference_scale.py``) and draw the case's figure.
"""
from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from autosynth.dataset.image_io import ImageIOError, read_image, read_image_on_grid
from autosynth.evaluation.errors import EvaluationError
from autosynth.evaluation.protocols import (DATA_RANGE, DEFAULT_PROTOCOL, PREFIX,
                                            PROTOCOL_TITLES, CaseImages, score_case)
from autosynth.evaluation.reference_scale import ReferenceScale, normalise_reference
from autosynth.evaluation.summary import (finite_or_none, mean_sd, per_case_table,
                                          region_table)
from autosynth.preprocessing.brain_mask import derive_brain_mask
from autosynth.utils.files import write_json_atomic, write_text_atomic


@dataclass(frozen=True)
class EvaluationCase:
    """The files of one case; ``source`` only feeds the figure."""

    case_id: str
    prediction: Path
    reference: Path
    mask: Path | None = None
    labels: Path | None = None
    source: Path | None = None


def _read_on_grid(path: Path, geometry, what: str, dtype=np.float32) -> np.ndarray:
    try:
        return read_image_on_grid(path, geometry, f"the prediction's (as {what})", dtype)
    except ImageIOError as err:
        raise EvaluationError(str(err)) from None


def evaluate_case(case: EvaluationCase, scale: ReferenceScale, slice_axis: int | None = None,
                  figure: Path | None = None, title: str = "",
                  protocols: tuple[str, ...] = (DEFAULT_PROTOCOL,)) -> dict[str, float]:
    """Every metric of one case under each protocol (floats; see ``protocols.py``)."""
    from autosynth.experiment_planning.fingerprint import axial_array_axis

    try:
        prediction, geometry = read_image(case.prediction)
    except ImageIOError as err:
        raise EvaluationError(str(err)) from None
    reference = _read_on_grid(case.reference, geometry, "reference")
    if case.mask is not None:
        brain = _read_on_grid(case.mask, geometry, "mask") > 0
    else:
        brain = derive_brain_mask(reference[None])
    if not brain.any():
        raise EvaluationError(f"case {case.case_id}: empty brain mask "
                              f"({case.mask or 'derived from an all-zero reference'})")
    labels = None
    if case.labels is not None:
        labels = np.rint(_read_on_grid(case.labels, geometry, "labels")).astype(np.uint8)
    axis = axial_array_axis(geometry.direction) if slice_axis is None else slice_axis
    metrics = score_case(CaseImages(prediction, reference, brain, labels, scale, axis),
                         protocols)
    if figure is not None:
        from autosynth.evaluation.figures import case_figure

        normalised = normalise_reference(reference, brain, scale, clip=False)
        source = None if case.source is None else _read_on_grid(case.source, geometry, "source")
        case_figure(figure, case.case_id, geometry, prediction, normalised, brain, labels,
                    source, title or case.case_id)
    return {k: float(v) for k, v in metrics.items() if np.isscalar(v)}


def _evaluate_job(job: tuple) -> tuple[str, dict | str]:
    case = job[0]
    try:
        return case.case_id, evaluate_case(*job)
    except EvaluationError as err:
        return case.case_id, str(err)


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def evaluate_cases(cases: list[EvaluationCase], scale: ReferenceScale,
                   slice_axis: int | None = None, figures: Path | None = None,
                   num_processes: int = 1, progress: bool = True, title: str = "",
                   protocols: tuple[str, ...] = (DEFAULT_PROTOCOL,)
                   ) -> dict[str, dict[str, float]]:
    """Metrics of every case, by case id (sorted); the first failing case raises."""
    jobs = [(c, scale, slice_axis, None if figures is None else figures / f"{c.case_id}.png",
             f"{title}: {c.case_id}" if title else c.case_id, protocols) for c in cases]
    results: dict[str, dict[str, float]] = {}
    bar = tqdm(total=len(jobs), desc="evaluate", unit="case", disable=not progress)
    workers = max(1, min(num_processes, len(jobs)))
    try:
        if workers == 1:
            _collect(map(_evaluate_job, jobs), results, bar)
        else:
            context = multiprocessing.get_context("spawn")
            threads = max(1, (os.cpu_count() or 1) // workers)
            with context.Pool(workers, _set_threads, (threads,)) as pool:
                _collect(pool.imap_unordered(_evaluate_job, jobs), results, bar)
    finally:
        bar.close()
    return dict(sorted(results.items()))


def _collect(outputs, results: dict, bar) -> None:
    for case_id, result in outputs:
        if isinstance(result, str):
            raise EvaluationError(result)
        results[case_id] = result
        bar.update()


def write_summary(folder: Path, per_case: dict[str, dict[str, float]], scale: ReferenceScale,
                  title: str, meta: dict | None = None) -> dict:
    """``summary.json`` (per case, mean ± SD and bootstrap 95 % interval per metric) and
    ``summary.md`` (Table 1 form, one table per protocol scored)."""
    summary = {**(meta or {}), "normalization": scale.to_dict(), "data_range": DATA_RANGE,
               "n_cases": len(per_case), "mean_sd": mean_sd(per_case), "cases": per_case}
    write_json_atomic(folder / "summary.json", finite_or_none(summary))
    present = {k for m in per_case.values() for k in m}
    tables = []
    for protocol, prefix in PREFIX.items():
        if any(k.startswith(prefix + "psnr") for k in present) and (
                prefix or "psnr_brain" in present):
            tables += [f"## {PROTOCOL_TITLES[protocol]}", "",
                       region_table(per_case, protocol), ""]
    text = [f"# {title}", "",
            f"{len(per_case)} case(s). References normalised with `{scale.plan.scheme}` "
            f"({scale.origin}); metrics on that scale with data range {DATA_RANGE:g}.", "",
            *tables,
            "Mean ± SD (population SD) over cases [seeded case-level bootstrap 95 % interval "
            "of the mean]. See documentation/evaluation.md for what each protocol forgives.",
            "", "## Per case (inside the brain)", "", per_case_table(per_case, "_brain")]
    write_text_atomic(folder / "summary.md", "\n".join(text))
    return summary

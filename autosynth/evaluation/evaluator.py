"""Score predictions against references case by case, in parallel, and write the summary.

Per case: read the prediction and the reference (one grid, or an error), take the brain mask
(file, or derived from the reference: non-zero, largest component, holes filled), score it
with each requested protocol (``protocols.py``: the corrected default puts the reference on the
predictions' scale without clipping, ``reference_scale.py``) and draw the case's figure.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from autosynth.dataset.image_io import ImageIOError, read_image, read_image_on_grid
from autosynth.dataset.integrity import check_images, problems_line
from autosynth.evaluation.errors import EvaluationError
from autosynth.evaluation.protocols import (DATA_RANGE, DEFAULT_PROTOCOL, PREFIX,
                                            PROTOCOL_TITLES, CaseImages, score_case)
from autosynth.evaluation.reference_scale import ReferenceScale, normalise_reference
from autosynth.evaluation.summary import (finite_or_none, mean_sd, per_case_table,
                                          region_table)
from autosynth.dataset.brain_mask import derive_brain_mask
from autosynth.utils.files import write_json_atomic, write_text_atomic
from autosynth.dataset.orientation import head_foot_axis, stored_axis
from autosynth.evaluation.figures import case_figure
from autosynth.utils.parent_death import die_with_parent
import torch


@dataclass(frozen=True)
class EvaluationCase:
    """The files of one case; ``source`` only feeds the figure."""

    case_id: str
    prediction: Path
    reference: Path
    mask: Path | None = None
    labels: Path | None = None
    source: Path | None = None

    def files(self) -> list[tuple[Path, str]]:
        """(file, role) of every file, the prediction first (its grid is the case's)."""
        roles = ((self.prediction, "image"), (self.reference, "image"), (self.mask, "mask"),
                 (self.labels, "labels"), (self.source, "image"))
        return [(path, role) for path, role in roles if path is not None]


def _read_on_grid(path: Path, geometry, what: str, dtype=np.float32) -> np.ndarray:
    try:
        return read_image_on_grid(path, geometry, f"the prediction's (as {what})", dtype)
    except ImageIOError as err:
        raise EvaluationError(str(err)) from None


def evaluate_case(case: EvaluationCase, scale: ReferenceScale, slice_axis: int | None = None,
                  figure: Path | None = None, title: str = "",
                  protocols: tuple[str, ...] = (DEFAULT_PROTOCOL,)) -> dict[str, float]:
    """Every metric of one case under each protocol (floats; see ``protocols.py``).

    ``slice_axis`` is an axis of the canonical orientation (a plan's ``slice_axis``; the
    head-foot axis when None); the slices of the paper's per-slice SSIM run along the file's
    own axis that becomes it."""

    problems = check_images(case.files())  # SimpleITK alone reads NaN and truncation as 0
    if problems:
        raise EvaluationError(f"case {case.case_id}: {problems_line(problems)}")
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
    axis = stored_axis(geometry.direction, head_foot_axis() if slice_axis is None else slice_axis)
    metrics = score_case(CaseImages(prediction, reference, brain, labels, scale, axis),
                         protocols)
    if figure is not None:

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


def _set_threads(threads: int, parent_pid: int) -> None:
    die_with_parent(parent_pid)
    torch.set_num_threads(threads)


def _report_to_stderr(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def evaluate_cases(cases: list[EvaluationCase], scale: ReferenceScale,
                   slice_axis: int | None = None, figures: Path | None = None,
                   num_processes: int = 1, progress: bool = True, title: str = "",
                   report: Callable[[str], None] = _report_to_stderr,
                   protocols: tuple[str, ...] = (DEFAULT_PROTOCOL,)
                   ) -> dict[str, dict[str, float]]:
    """Metrics of every case, by case id (sorted).

    Every case is tried; each failing one is passed to ``report`` (one line), and then
    :class:`EvaluationError` is raised with their count: a mean over fewer cases than asked
    for would pass for the cohort's.
    """
    jobs = [(c, scale, slice_axis, None if figures is None else figures / f"{c.case_id}.png",
             f"{title}: {c.case_id}" if title else c.case_id, protocols) for c in cases]
    results: dict[str, dict[str, float]] = {}
    failed: dict[str, str] = {}
    bar = tqdm(total=len(jobs), desc="evaluate", unit="case", disable=not progress)
    workers = max(1, min(num_processes, len(jobs)))
    try:
        if workers == 1:
            _collect(map(_evaluate_job, jobs), results, failed, bar, report)
        else:
            context = multiprocessing.get_context("spawn")
            threads = max(1, (os.cpu_count() or 1) // workers)
            with context.Pool(workers, _set_threads, (threads, os.getpid())) as pool:
                _collect(pool.imap_unordered(_evaluate_job, jobs), results, failed, bar,
                         report)
    finally:
        bar.close()
    if failed:
        raise EvaluationError(f"{len(failed)} of {len(jobs)} case(s) failed "
                              f"({', '.join(sorted(failed))}), each named above with its "
                              "defect; no summary written")
    return dict(sorted(results.items()))


def _collect(outputs, results: dict, failed: dict, bar, report: Callable[[str], None]) -> None:
    for case_id, result in outputs:
        if isinstance(result, str):
            failed[case_id] = result
            report(result)
        else:
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

"""The table of an ablation study: spread over seeds, paired tests with Holm, bootstrap CIs.

Input: per variant, the runs (one per fold and seed), each with per-test-case metrics. Per
variant and metric:

- ``mean``: the mean over runs of each run's mean over test cases; ``sd_runs``: the SD over
  runs (training variance: what another seed would change);
- ``ci_low`` / ``ci_high``: the case-level bootstrap 95 % interval of the mean of the per-case
  values averaged over runs (test-set variance);
- ``p`` / ``p_holm``: the paired two-sided Wilcoxon signed-rank test of those per-case values
  against the reference variant's, and the same p-values Holm-adjusted over every test in the
  table (so the family of comparisons keeps its 5 % error rate).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from autosynth.evaluation.bootstrap import bootstrap_interval
from autosynth.evaluation.comparison import holm, wilcoxon_p
from autosynth.evaluation.summary import REGIONS, finite_or_none
from autosynth.utils.files import write_json_atomic, write_text_atomic

STUDY_REGIONS = ("brain", "tumour", "non-tumour brain")
STUDY_COLUMNS = (("PSNR ↑ (dB)", "psnr", 2), ("SSIM ↑", "ssim", 3), ("MAE ↓", "mae", 4))

Runs = dict[str, dict[str, dict[str, float]]]   # run name -> case -> metric -> value


def _finite_mean(values) -> float:
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    return float(data.mean()) if data.size else float("nan")


def case_means(runs: Runs, metric: str, cases: list[str]) -> np.ndarray:
    """Per test case, the metric averaged over the runs (NaN where no run has it)."""
    values = np.array([[runs[r].get(c, {}).get(metric, np.nan) for c in cases] for r in runs],
                      dtype=float)
    values[~np.isfinite(values)] = np.nan
    with np.errstate(all="ignore"):
        return np.nanmean(values, axis=0) if values.size else np.full(len(cases), np.nan)


def summarise_study(variants: dict[str, Runs], reference: str) -> dict:
    """``{"reference", "cases", "rows": {variant: {metric: entry}}}`` (module docstring)."""
    cases = sorted(set.intersection(*[{c for run in runs.values() for c in run}
                                      for runs in variants.values()]))
    metrics = [stem + REGIONS[region] for region in STUDY_REGIONS for _, stem, _ in STUDY_COLUMNS]
    rows, p_values = {}, {}
    for name, runs in variants.items():
        rows[name] = {}
        for metric in metrics:
            per_run = [_finite_mean([run[c].get(metric, np.nan) for c in cases if c in run])
                       for run in runs.values()]
            per_run = [v for v in per_run if np.isfinite(v)]
            if not per_run:
                continue
            per_case = case_means(runs, metric, cases)
            low, high = bootstrap_interval(per_case)
            entry = {"mean": float(np.mean(per_run)), "sd_runs": float(np.std(per_run)),
                     "n_runs": len(per_run), "n_cases": int(np.isfinite(per_case).sum()),
                     "ci_low": low, "ci_high": high}
            if name != reference:
                entry["p"] = wilcoxon_p(per_case, case_means(variants[reference], metric, cases))
                p_values[(name, metric)] = entry["p"]
            rows[name][metric] = entry
    for (name, metric), p in holm(p_values).items():
        rows[name][metric]["p_holm"] = p
    return {"reference": reference, "cases": cases, "n_tests": len(p_values), "rows": rows}


def _cell(entry: dict | None, decimals: int) -> str:
    if entry is None:
        return "-"
    text = (f"{entry['mean']:.{decimals}f} ± {entry['sd_runs']:.{decimals}f} "
            f"[{entry['ci_low']:.{decimals}f}, {entry['ci_high']:.{decimals}f}]")
    p = entry.get("p_holm")
    if p is not None and not math.isnan(p):
        text += f" (p_Holm={p:.2g})"
    return text


def study_markdown(summary: dict, title: str) -> str:
    lines = [f"# {title}", ""]
    for region in STUDY_REGIONS:
        suffix = REGIONS[region]
        if not any(f"psnr{suffix}" in r for r in summary["rows"].values()):
            continue
        lines += [f"## {region}", "",
                  "| Variant | " + " | ".join(h for h, _, _ in STUDY_COLUMNS) + " | runs |",
                  "|---" * (len(STUDY_COLUMNS) + 2) + "|"]
        for name, entries in summary["rows"].items():
            runs = max((e["n_runs"] for e in entries.values()), default=0)
            cells = [_cell(entries.get(stem + suffix), d) for _, stem, d in STUDY_COLUMNS]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {runs} |")
        lines.append("")
    lines.append(
        f"mean over runs (folds x seeds) ± SD over runs [case-level bootstrap 95 % interval of "
        f"the run-averaged per-case values, seeded]; p_Holm: paired two-sided Wilcoxon "
        f"signed-rank test against '{summary['reference']}' on the {len(summary['cases'])} "
        f"test cases, Holm-adjusted over the table's {summary['n_tests']} tests.")
    return "\n".join(lines) + "\n"


def write_study_table(folder: Path, variants: dict[str, Runs], reference: str, title: str,
                      stem: str = "study") -> dict:
    """``<stem>.json`` (summary and every run's per-case values) and ``<stem>.md``."""
    summary = summarise_study(variants, reference)
    write_json_atomic(Path(folder) / f"{stem}.json",
                      finite_or_none({**summary, "runs": variants}))
    write_text_atomic(Path(folder) / f"{stem}.md", study_markdown(summary, title))
    return summary

"""Compare rows (models, variants, baselines) scored on the same cases: a table, tests, a plot.

A row is a name and per-case metrics ``{case: {metric: value}}``. The table gives mean +- SD of
each metric per row (the paper's Table 1 form) with its case-level bootstrap 95 % interval,
brain, tumour and non-tumour brain beside the whole image, and, for every row but the
reference, the two-sided Wilcoxon signed-rank p-value of its per-case values against the
reference's on the cases both have (paired: same test cases), Holm-adjusted over the table.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from scipy import stats

from autosynth.evaluation.bootstrap import bootstrap_interval
from autosynth.utils.files import atomic_path, write_json_atomic, write_text_atomic

TABLE_METRICS = ("psnr_brain", "ssim_brain", "mae_brain", "mse_brain",
                 "psnr_tumour", "ssim_tumour", "mae_tumour",
                 "psnr_non_tumour_brain", "ssim_non_tumour_brain", "mae_non_tumour_brain",
                 "psnr", "ssim", "mae", "mse")
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "mae": False, "mse": False}


def _values(rows: dict, row: str, metric: str, cases: list[str]) -> np.ndarray:
    return np.array([rows[row][c].get(metric, np.nan) for c in cases], float)


def wilcoxon_p(a: np.ndarray, b: np.ndarray) -> float:
    """Paired two-sided Wilcoxon signed-rank p-value (nan when undefined: <2 pairs, all equal)."""
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < 2 or np.all(a == b):
        return float("nan")
    return float(stats.wilcoxon(a, b).pvalue)


def compare(rows: dict[str, dict[str, dict[str, float]]], reference: str | None = None,
            metrics: tuple[str, ...] = TABLE_METRICS) -> dict:
    """Summary per row and metric: mean, sd, n and the p-value against ``reference``."""
    reference = reference or next(iter(rows))
    summary = {}
    for row, per_case in rows.items():
        cases = sorted(set(per_case) & set(rows[reference]))
        summary[row] = {}
        for metric in metrics:
            values = _values(rows, row, metric, sorted(per_case))
            values = values[np.isfinite(values)]
            if values.size == 0:
                continue
            low, high = bootstrap_interval(values)
            entry = {"mean": float(values.mean()), "sd": float(values.std()), "n": int(values.size),
                     "ci_low": low, "ci_high": high}
            if row != reference:
                entry["p_vs_reference"] = wilcoxon_p(_values(rows, row, metric, cases),
                                                     _values(rows, reference, metric, cases))
            summary[row][metric] = entry
    tests = {(row, metric): entry["p_vs_reference"] for row, entries in summary.items()
             for metric, entry in entries.items() if "p_vs_reference" in entry}
    for (row, metric), p in holm(tests).items():
        summary[row][metric]["p_holm"] = p
    return {"reference": reference, "rows": summary, "n_tests": len(tests)}


def holm(p_values: dict) -> dict:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count)."""
    finite = sorted((p, k) for k, p in p_values.items() if not math.isnan(p))
    m, running, out = len(finite), 0.0, {k: float("nan") for k in p_values}
    for rank, (p, key) in enumerate(finite):
        running = max(running, min(1.0, (m - rank) * p))
        out[key] = running
    return out


def _cell(entry: dict | None, metric: str) -> str:
    if entry is None:
        return "-"
    digits = 2 if metric.startswith("psnr") else 4
    text = (f"{entry['mean']:.{digits}f} ± {entry['sd']:.{digits}f} "
            f"[{entry['ci_low']:.{digits}f}, {entry['ci_high']:.{digits}f}]")
    p = entry.get("p_holm", entry.get("p_vs_reference"))
    if p is not None and not math.isnan(p):
        text += f" (p_Holm={p:.2g})"
    return text


def markdown_table(comparison: dict, metrics: tuple[str, ...] = TABLE_METRICS) -> str:
    present = [m for m in metrics if any(m in r for r in comparison["rows"].values())]
    lines = ["| | " + " | ".join(present) + " |", "|---|" + "---|" * len(present)]
    for row, entries in comparison["rows"].items():
        lines.append(f"| {row} | " + " | ".join(_cell(entries.get(m), m) for m in present) + " |")
    lines.append("")
    lines.append(f"mean ± SD over cases [seeded case-level bootstrap 95 % interval]; p_Holm: "
                 f"paired two-sided Wilcoxon signed-rank test against "
                 f"'{comparison['reference']}', Holm-adjusted over the table's "
                 f"{comparison.get('n_tests', 0)} tests. *_brain: inside the brain mask; "
                 f"*_tumour, *_non_tumour_brain: the lesion and the rest of the brain.")
    return "\n".join(lines) + "\n"


def plot_rows(rows: dict, path: str | os.PathLike,
              metrics: tuple[str, ...] = ("psnr_brain", "ssim_brain", "mae_brain")) -> None:
    """One box plot per metric, one box per row (per-case values)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if any(m in v for r in rows.values() for v in r.values())]
    if not metrics:
        return
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 4), dpi=100,
                             squeeze=False)
    for axis, metric in zip(axes[0], metrics):
        data = [_values(rows, r, metric, sorted(rows[r])) for r in rows]
        axis.boxplot([d[np.isfinite(d)] for d in data], showmeans=True)
        axis.set_xticks(range(1, len(rows) + 1), list(rows), rotation=25, ha="right",
                        fontsize=8)
        axis.set_title(metric)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def write_comparison(rows: dict, folder: Path, stem: str, reference: str | None = None,
                     title: str = "", metrics: tuple[str, ...] = TABLE_METRICS) -> dict:
    """``<stem>.json`` (summary + per-case values), ``<stem>.md`` and ``<stem>.png``."""
    comparison = compare(rows, reference, metrics)
    write_json_atomic(folder / f"{stem}.json", {**comparison, "cases": rows})
    write_text_atomic(folder / f"{stem}.md", (f"# {title}\n\n" if title else "")
                      + markdown_table(comparison, metrics))
    plot_rows(rows, folder / f"{stem}.png")
    return comparison

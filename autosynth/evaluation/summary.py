"""Mean ± SD over cases and tables in the form of the paper's Table 1.

A *row* is a name and per-case metric dicts ``{case: {metric: value}}``: a translation, a
trainer variant or a baseline alike, so any of them can be added to a table later. SD is the
population SD (ddof 0) over cases; non-finite values (PSNR of identical images) are left out of
the mean and counted in ``n`` only when finite. Every mean carries its seeded case-level
bootstrap 95 % interval (``bootstrap.py``), printed in brackets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from autosynth.evaluation.bootstrap import bootstrap_interval
from autosynth.evaluation.protocols import DEFAULT_PROTOCOL, PREFIX, PROTOCOL_REGIONS

# (header, metric stem, decimals) in the paper's column order
TABLE1_COLUMNS = (("PSNR ↑ (dB)", "psnr", 2), ("MAE ↓", "mae", 4), ("MSE ↓", "mse", 4),
                  ("SSIM ↑", "ssim", 3))
REGIONS = {"whole image": "", "brain": "_brain", "tumour": "_tumour",
           "non-tumour brain": "_non_tumour_brain"}


@dataclass
class Row:
    """One line of a table: a name and its per-case metrics (plus anything worth keeping)."""

    name: str
    cases: dict[str, dict[str, float]]
    info: dict = field(default_factory=dict)


def mean_sd(per_case: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """``{metric: {"mean", "sd", "n", "ci_low", "ci_high"}}`` over the cases' finite values."""
    keys = sorted({k for metrics in per_case.values() for k in metrics})
    out = {}
    for key in keys:
        values = np.array([m[key] for m in per_case.values() if m.get(key) is not None], float)
        values = values[np.isfinite(values)]
        low, high = bootstrap_interval(values)
        out[key] = {"mean": float(values.mean()) if values.size else float("nan"),
                    "sd": float(values.std()) if values.size else float("nan"),
                    "n": int(values.size), "ci_low": low, "ci_high": high}
    return out


def metric_key(stem: str, suffix: str, available: set[str], prefix: str = "") -> str:
    """The key of a column: without a protocol prefix, whole-image SSIM is the paper's mean of
    2D slice SSIMs when known."""
    if not prefix and stem == "ssim" and suffix == "" and "ssim_per_slice" in available:
        return "ssim_per_slice"
    return prefix + stem + suffix


def format_mean(stats: dict | None, decimals: int) -> str:
    """``mean ± SD [low, high]``: the bracket is the bootstrap 95 % interval of the mean."""
    if not stats or stats["n"] == 0 or math.isnan(stats["mean"]):
        return "-"
    text = f"{stats['mean']:.{decimals}f} ± {stats['sd']:.{decimals}f}"
    low, high = stats.get("ci_low"), stats.get("ci_high")
    if low is not None and high is not None and not (math.isnan(low) or math.isnan(high)):
        text += f" [{low:.{decimals}f}, {high:.{decimals}f}]"
    return text



def _header(first: str) -> list[str]:
    return [f"| {first} | " + " | ".join(h for h, _, _ in TABLE1_COLUMNS) + " | n |",
            "|---" * (len(TABLE1_COLUMNS) + 2) + "|"]


def _line(name: str, per_case: dict[str, dict[str, float]], suffix: str, prefix: str = "") -> str:
    stats = mean_sd(per_case)
    keys = [metric_key(stem, suffix, set(stats), prefix) for _, stem, _ in TABLE1_COLUMNS]
    n = max((stats[k]["n"] for k in keys if k in stats), default=0)
    cells = [format_mean(stats.get(k), d) for k, (_, _, d) in zip(keys, TABLE1_COLUMNS)]
    return f"| {name} | " + " | ".join(cells) + f" | {n} |"


def table1(lines: dict[str, dict[str, dict[str, float]]], suffix: str = "_brain",
           first_header: str = "Translation", prefix: str = "") -> str:
    """Markdown table, one line per entry of ``lines`` (name -> per-case metrics)."""
    return "\n".join(_header(first_header) + [_line(name, per_case, suffix, prefix)
                                              for name, per_case in lines.items()]) + "\n"


def region_table(per_case: dict[str, dict[str, float]],
                 protocol: str = DEFAULT_PROTOCOL) -> str:
    """One case set, one line per region of ``protocol`` that has values."""
    present = {k for m in per_case.values() for k in m}
    prefix = PREFIX[protocol]
    regions = [(r, REGIONS[r]) for r in PROTOCOL_REGIONS[protocol]
               if f"{prefix}psnr{REGIONS[r]}" in present]
    return "\n".join(_header("Region") + [_line(region, per_case, suffix, prefix)
                                          for region, suffix in regions]) + "\n"


def per_case_table(per_case: dict[str, dict[str, float]], suffix: str = "_brain") -> str:
    """Markdown table of every case's Table-1 metrics in one region."""
    present = {k for m in per_case.values() for k in m}
    keys = [(h, metric_key(stem, suffix, present), d) for h, stem, d in TABLE1_COLUMNS]
    out = ["| Case | " + " | ".join(h for h, _, _ in keys) + " |",
           "|---" * (len(keys) + 1) + "|"]
    for case, metrics in sorted(per_case.items()):
        cells = [f"{metrics[k]:.{d}f}" if metrics.get(k) is not None else "-" for _, k, d in keys]
        out.append(f"| {case} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def finite_or_none(value):
    """JSON-safe numbers: inf and NaN become null (strict JSON has neither)."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

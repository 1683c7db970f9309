"""Markdown tables of the segmentation utility (names of its columns are defined here).

Kept free of torch and the segmenter so that the test summary can render utility columns
without importing either.
"""
from __future__ import annotations

import math

from autosynth.evaluation.overlap import REGION_KEYS
from autosynth.evaluation.summary import mean_sd

REAL = "real"
METRICS = (("dice", "Dice", 3), ("hd95", "HD95 (mm)", 1))
TEST_PREFIX = "utility_"          # per-case keys a test-summary row gets with --utility
READING = ("Mean over test cases [seeded case-level bootstrap 95 % interval]. Δ = real − "
           "substitute per case: a Dice Δ above 0 and an HD95 Δ below 0 mean the substitute "
           "costs the segmenter accuracy (documentation/evaluation.md, segmentation utility).")


def difference_key(metric: str) -> str:
    return f"delta_{metric}"


def _cell(stat: dict | None, digits: int) -> str:
    if not stat or stat.get("mean") is None or not math.isfinite(stat["mean"]):
        return "–"
    low, high = stat.get("ci_low"), stat.get("ci_high")
    interval = (f" [{low:.{digits}f}, {high:.{digits}f}]" if low is not None and high is not None
                and math.isfinite(low) and math.isfinite(high) else "")
    return f"{stat['mean']:.{digits}f}{interval}"


def utility_table(summary: dict[str, dict[str, dict]], regions: dict, title: str,
                  n_cases: int) -> str:
    """One table of the inputs' scores and one of their differences from the real input."""
    keys = [REGION_KEYS[r] for r in regions]
    header = "| input | " + " | ".join(f"{k.upper()} {label}" for k in keys
                                        for _, label, _ in METRICS) + " |"
    rule = "|---" * (1 + len(keys) * len(METRICS)) + "|"
    lines = [f"# {title}", "",
             f"{n_cases} held-out test case(s); regions: "
             + ", ".join(f"{k.upper()} = {name} ({'+'.join(map(str, v))})"
                         for k, (name, v) in zip(keys, regions.items())) + ".", "",
             header, rule]
    for name, stats in summary.items():
        lines.append(f"| {name} | " + " | ".join(_cell(stats.get(f"{m}_{k}"), d) for k in keys
                                                  for m, _, d in METRICS) + " |")
    substitutes = [n for n in summary if n != REAL]
    if substitutes:
        lines += ["", "| Δ real − input | " + " | ".join(
            f"Δ {k.upper()} {label}" for k in keys for _, label, _ in METRICS) + " |", rule]
        for name in substitutes:
            lines.append(f"| {name} | " + " | ".join(
                _cell(summary[name].get(difference_key(f"{m}_{k}")), d) for k in keys
                for m, _, d in METRICS) + " |")
    return "\n".join(lines + ["", READING, ""])


def test_case_metrics(real: dict[str, float], substitute: dict[str, float]) -> dict[str, float]:
    """A test-summary row's per-case utility keys: real, synthetic and their difference."""
    out = {}
    for key, value in substitute.items():
        if key.startswith("delta_"):
            out[f"{TEST_PREFIX}{key}"] = value
        else:
            out[f"{TEST_PREFIX}{key}"] = value
            out[f"{TEST_PREFIX}{key}_{REAL}"] = real[key]
    return out


def utility_section(lines: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """The test summary's utility columns (``lines``: row name -> per-case metrics): per
    translation, real vs synthetic per region; empty when no row has them."""
    present = {k for cases in lines.values() for m in cases.values() for k in m
               if k.startswith(TEST_PREFIX)}
    keys = [k for k in REGION_KEYS.values() if f"{TEST_PREFIX}dice_{k}" in present]
    if not keys:
        return []
    means = {name: mean_sd(cases) for name, cases in lines.items()}
    out = ["## Segmentation utility (real vs synthetic target)", ""]
    for key in keys:
        columns = [(f"{m}_{key}_{REAL}", f"{label} real", d) for m, label, d in METRICS] + \
                  [(f"{m}_{key}", f"{label} synthetic", d) for m, label, d in METRICS] + \
                  [(difference_key(f"{m}_{key}"), f"Δ {label}", d) for m, label, d in METRICS]
        out += [f"### {key.upper()}", "",
                "| translation | " + " | ".join(c[1] for c in columns) + " |",
                "|---" * (1 + len(columns)) + "|"]
        for name, stats in means.items():
            if f"{TEST_PREFIX}dice_{key}" in stats:
                out.append(f"| {name} | " + " | ".join(
                    _cell(stats.get(f"{TEST_PREFIX}{c}"), d) for c, _, d in columns) + " |")
        out.append("")
    return out + [READING, ""]

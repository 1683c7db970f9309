"""``results/DatasetXXX/test_summary.{md,json}``: one line per translation (or baseline).

The JSON keeps every row's per-case metrics, so a later tool can load the rows, add its own
(e.g. a baseline scored on the same cases) and write the table again.
"""
from __future__ import annotations

from pathlib import Path

from autosynth.evaluation.protocols import PREFIX, PROTOCOL_REGIONS, PROTOCOL_TITLES
from autosynth.evaluation.summary import REGIONS, Row, finite_or_none, mean_sd, table1
from autosynth.evaluation.utility_table import utility_section
from autosynth.experiment_planning.splits import SPLITS_FILE
from autosynth.utils.files import read_json, write_json_atomic, write_text_atomic

STEM = "test_summary"


def load_rows(folder: Path) -> list[Row]:
    """The rows of an existing ``test_summary.json`` (empty when there is none)."""
    path = Path(folder) / f"{STEM}.json"
    if not path.is_file():
        return []
    return [Row(name, row["cases"], row.get("info", {}))
            for name, row in read_json(path)["rows"].items()]


def protocol_sections(lines: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """One section per protocol scored, one table per region (brain, tumour, ...) in it."""
    present = {k for cases in lines.values() for m in cases.values() for k in m}
    out = []
    for protocol, prefix in PREFIX.items():
        regions = [r for r in PROTOCOL_REGIONS[protocol]
                   if f"{prefix}psnr{REGIONS[r]}" in present]
        if not regions:
            continue
        out += [f"## {PROTOCOL_TITLES[protocol]}", ""]
        for region in regions:
            out += [f"### {region}", "", table1(lines, REGIONS[region], prefix=prefix)]
    return out


def render(rows: list[Row], dataset: str, test_cases: list[str]) -> str:
    lines = {row.name: row.cases for row in rows}
    return "\n".join([
        f"# Test set of {dataset}", "",
        f"{len(test_cases)} held-out test case(s) ({SPLITS_FILE} 'test'), scored in each "
        "input's original space, data range 1.", "",
        *protocol_sections(lines),
        *utility_section(lines),
        "Mean ± SD (population SD) over test cases [seeded case-level bootstrap 95 % interval "
        "of the mean]. The corrected protocol is the one to read; the BraSyn and paper "
        "protocols forgive errors it counts (documentation/evaluation.md).", ""])


def write_test_summary(folder: Path, rows: list[Row], dataset: str,
                       test_cases: list[str]) -> str:
    """Write both files; returns the Markdown (which the command prints)."""
    data = {"dataset": dataset, "test_cases": list(test_cases), "data_range": 1.0,
            "rows": {row.name: {"info": row.info, "mean_sd": mean_sd(row.cases),
                                "cases": row.cases} for row in rows}}
    write_json_atomic(Path(folder) / f"{STEM}.json", finite_or_none(data))
    text = render(rows, dataset, test_cases)
    write_text_atomic(Path(folder) / f"{STEM}.md", text)
    return text

"""``results/DatasetXXX/test_summary.{md,json}``: one line per translation (or baseline).

The JSON keeps every row's per-case metrics, so a later tool can load the rows, add its own
(e.g. a baseline scored on the same cases) and write the table again.
"""
from __future__ import annotations

from pathlib import Path

from autosynth.evaluation.summary import Row, finite_or_none, mean_sd, table1
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


def render(rows: list[Row], dataset: str, test_cases: list[str]) -> str:
    lines = {row.name: row.cases for row in rows}
    return "\n".join([
        f"# Test set of {dataset}", "",
        f"{len(test_cases)} held-out test case(s) ({SPLITS_FILE} 'test'), scored in each "
        "input's original space on the normalised [0, 1] scale (data range 1).", "",
        "## Inside the brain", "", table1(lines, "_brain"),
        "## Whole image (the paper's protocol)", "", table1(lines, ""),
        "Mean ± SD (population SD) over test cases. Whole-image SSIM: mean of 2D SSIMs over "
        "the brain slices, as the paper; brain SSIM: the 3D SSIM map averaged inside the "
        "brain mask. See documentation/evaluation.md.", ""])


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

import json

import numpy as np
from scipy import stats

from autosynth.evaluation.comparison import compare, holm, markdown_table, write_comparison


def _rows():
    rng = np.random.default_rng(0)
    cases = [f"c{i}" for i in range(8)]
    base = {c: {"psnr_brain": 20 + rng.normal(), "ssim_brain": 0.8} for c in cases}
    better = {c: {"psnr_brain": base[c]["psnr_brain"] + 2 + 0.1 * i, "ssim_brain": 0.9}
              for i, c in enumerate(cases)}
    return {"default": base, "variant": better}


def test_summary_and_paired_wilcoxon_against_the_reference():
    rows = _rows()
    result = compare(rows, "default")
    values = [rows["default"][c]["psnr_brain"] for c in sorted(rows["default"])]
    assert np.isclose(result["rows"]["default"]["psnr_brain"]["mean"], np.mean(values))
    assert np.isclose(result["rows"]["default"]["psnr_brain"]["sd"], np.std(values))
    assert "p_vs_reference" not in result["rows"]["default"]["psnr_brain"]
    expected = stats.wilcoxon([rows["variant"][c]["psnr_brain"] for c in sorted(rows["variant"])],
                              values).pvalue
    assert np.isclose(result["rows"]["variant"]["psnr_brain"]["p_vs_reference"], expected)


def test_written_files_have_one_row_per_entry(tmp_path):
    write_comparison(_rows(), tmp_path, "ablation", title="Ablation")
    table = (tmp_path / "ablation.md").read_text()
    assert table.count("| default |") == 1 and table.count("| variant |") == 1
    assert "(p_Holm=" in table and "Holm-adjusted over the table's 2 tests" in table
    data = json.loads((tmp_path / "ablation.json").read_text())
    assert set(data["rows"]) == {"default", "variant"} and "cases" in data
    assert (tmp_path / "ablation.png").stat().st_size > 1000
    assert "psnr_brain" in markdown_table(compare(_rows()))


def test_holm_adjustment_by_hand():
    p = {"a": 0.01, "b": 0.04, "c": 0.03, "d": float("nan")}
    adjusted = holm(p)
    # sorted 0.01, 0.03, 0.04 with m = 3: 0.03, max(0.03, 0.06), max(0.06, 0.04) = 0.06
    assert np.isclose(adjusted["a"], 0.03) and np.isclose(adjusted["c"], 0.06)
    assert np.isclose(adjusted["b"], 0.06) and np.isnan(adjusted["d"])
    result = compare(_rows(), "default")
    entry = result["rows"]["variant"]["psnr_brain"]
    assert entry["p_holm"] >= entry["p_vs_reference"] and result["n_tests"] == 2
    assert entry["ci_low"] < entry["mean"] < entry["ci_high"]

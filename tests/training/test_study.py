"""Ablation studies from YAML: variants x seeds, spread over seeds, Holm, intervals."""
import json
from pathlib import Path

import pytest

from autosynth.architectures.config import UNetConfig
from autosynth.experiment_planning.plans import TrainingPlan

from autosynth.cli.ablation import main as ablation_main
from autosynth.evaluation.study_table import summarise_study
from autosynth.training.study import Study, StudyError, run_trainer_class

PAPER_STUDY = Path(__file__).parents[2] / "autosynth" / "studies" / "paper_ablations.yaml"


def test_the_paper_study_ships_and_loads():
    study = Study.load(PAPER_STUDY)
    assert [v.name for v in study.variants][0] == study.reference_name == "paper_unet"
    assert {v.trainer for v in study.variants} >= {"SynthesisTrainer_TransposedConv",
                                                   "SynthesisTrainer_BatchNorm",
                                                   "SynthesisTrainer_MAELoss"}
    assert len(study.seeds) >= 2


def test_plan_edits_and_seed_reach_the_trainer_hooks():
    study = Study.from_dict({"source": "T1", "target": "FLAIR", "variants": [
        {"name": "base"},
        {"name": "no-dropout", "plan": {"network.dropout_per_stage": 0.0,
                                        "training.loss": "mae"}}]})
    cls = run_trainer_class(study.variants[1], seed=3)
    assert cls.__name__ == "SynthesisTrainer_no-dropout_seed3"
    network = cls.configure_network(None, UNetConfig(features_per_stage=[4, 8, 16],
                                                     dropout_per_stage=[0.1, 0.2, 0.3]))
    assert network.dropout_per_stage == [0.0, 0.0, 0.0] and network.norm == "none"
    schedule = cls.configure_schedule(None, TrainingPlan(5, 1, 1, 1, loss="mse", seed=0))
    assert (schedule.loss, schedule.seed, schedule.epochs) == ("mae", 3, 5)


@pytest.mark.parametrize("data, message", [
    ({"source": "T1", "target": "FLAIR", "variants": [{"name": "a", "plan": {"x.y": 1}}]},
     "cannot edit 'x.y'"),
    ({"source": "T1", "target": "FLAIR", "variants": [
        {"name": "a", "plan": {"normalization.FLAIR": "percentile_01"}}]}, "configuration"),
    ({"source": "T1", "target": "FLAIR", "variants": [{"name": "a", "trainer": "Nope"}]},
     "unknown trainer 'Nope'"),
    ({"source": "T1", "target": "FLAIR", "variants": ["a", "a"]}, "repeat"),
    ({"source": "T1", "target": "FLAIR", "variants": ["a__b"]}, "folder name"),
    ({"source": "T1", "variants": ["a"]}, "'target' is missing"),
    ({"source": "T1", "target": "FLAIR", "reference": "z", "variants": ["a"]}, "reference"),
])
def test_bad_studies_are_one_clear_line(data, message):
    with pytest.raises(StudyError, match=message):
        Study.from_dict(data, "my_study.yaml")


def test_spread_over_seeds_and_run_averaged_cases():
    cases = {f"c{i}": i for i in range(6)}
    variants = {"a": {f"s{s}": {c: {"psnr_brain": 20.0 + v + s} for c, v in cases.items()}
                      for s in (0, 1)},
                "b": {f"s{s}": {c: {"psnr_brain": 21.0 + v + 2 * s} for c, v in cases.items()}
                      for s in (0, 1)}}
    summary = summarise_study(variants, "a")
    a, b = summary["rows"]["a"]["psnr_brain"], summary["rows"]["b"]["psnr_brain"]
    assert a["mean"] == pytest.approx(23.0) and a["sd_runs"] == pytest.approx(0.5)
    assert b["mean"] == pytest.approx(24.5) and b["sd_runs"] == pytest.approx(1.0)
    assert a["ci_low"] < a["mean"] < a["ci_high"] and a["n_runs"] == 2
    assert 0 < b["p"] <= b["p_holm"] <= 1 and "p" not in a


@pytest.mark.slow
def test_two_variants_two_seeds_give_one_row_each_with_spread(preprocessed_tiny, tmp_path):
    study = tmp_path / "tiny_study.yaml"
    study.write_text("name: tiny\nsource: T1\ntarget: FLAIR\nfolds: [0]\nseeds: [0]\n"
                     "epochs: 1\nvariants:\n  - name: base\n  - name: mae\n"
                     "    plan: {training.loss: mae}\n")
    argv = ["-d", "42", "--study", str(study), "--seeds", "2", "--num-workers", "0",
            "--no-progress"]
    assert ablation_main(argv) == 0
    folder = preprocessed_tiny / "results" / "Dataset042_Tiny" / "ablation" / "tiny"
    table = (folder / "study.md").read_text()
    assert table.count("| base |") == table.count("| mae |") >= 1
    data = json.loads((folder / "study.json").read_text())
    assert list(data["rows"]) == ["base", "mae"]
    assert sorted(data["runs"]["mae"]) == ["fold0_seed0", "fold0_seed1"]
    entry = data["rows"]["mae"]["psnr_brain"]
    assert entry["n_runs"] == 2 and entry["sd_runs"] > 0     # two seeds train differently
    assert "p_holm" in entry
    results = preprocessed_tiny / "results" / "Dataset042_Tiny"
    assert (results / "SynthesisTrainer_mae_seed1__autosynthPlans__2d").is_dir()
    # finished runs are collected, not trained again
    assert ablation_main(argv + ["--collect"]) == 0

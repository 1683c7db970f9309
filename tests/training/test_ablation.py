import json

import pytest

from autosynth.cli.ablation import main as ablation_main


@pytest.mark.slow
def test_ablation_trains_missing_variants_and_writes_one_row_each(preprocessed_tiny, capsys):
    variants = "SynthesisTrainer,SynthesisTrainer_TransposedConv"
    argv = ["-d", "42", "-s", "T1", "-t", "FLAIR", "-f", "0", "--variants", variants,
            "--epochs", "2", "--num-workers", "0", "--no-progress"]
    assert ablation_main(argv) == 0
    folder = (preprocessed_tiny / "results" / "Dataset042_Tiny" / "ablation" /
              "T1_to_FLAIR__2d__fold0")
    table = (folder / "ablation.md").read_text()
    assert table.count("| SynthesisTrainer |") == 1
    assert table.count("| SynthesisTrainer_TransposedConv |") == 1
    data = json.loads((folder / "ablation.json").read_text())
    assert list(data["rows"]) == variants.split(",")
    assert data["reference"] == "SynthesisTrainer"
    assert "psnr_brain" in data["rows"]["SynthesisTrainer_TransposedConv"]
    # --collect only gathers finished variants, without training the missing one
    assert ablation_main(["-d", "42", "-s", "T1", "-t", "FLAIR", "--collect", "--no-progress",
                          "--variants", variants + ",SynthesisTrainer_MAELoss"]) == 0
    assert "SynthesisTrainer_MAELoss has no finished model" in capsys.readouterr().err
    assert "SynthesisTrainer_MAELoss" not in json.loads((folder / "ablation.json").read_text())["rows"]

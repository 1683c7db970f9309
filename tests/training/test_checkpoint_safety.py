"""A checkpoint that carries a pickled object which would run code is refused, and nothing runs."""
from pathlib import Path

import pytest
import torch

from autosynth.cli.predict import main as predict_main
from autosynth.training.checkpointing import CheckpointError, load_checkpoint, save_checkpoint
from tests.inference.model_builders import make_model_folder, write_cohort


class CreatesMarker:
    """Unpickling this calls ``open(marker, "w")``: a harmless stand-in for any code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_loading_refuses_code_and_runs_none(tmp_path):
    marker = tmp_path / "code_ran"
    save_checkpoint({"network": {}, "payload": CreatesMarker(marker)}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match=r"evil.pth: refused: it holds a pickled .*open"):
        load_checkpoint(tmp_path / "evil.pth")
    assert not marker.exists()
    # without the protection the payload does run: the test sees what it guards against
    torch.load(tmp_path / "evil.pth", weights_only=False)
    assert marker.exists()


def test_prediction_refuses_a_booby_trapped_fold_in_one_line(tmp_path, autosynth_env, capsys):
    model = make_model_folder(autosynth_env / "results")
    marker = tmp_path / "code_ran"
    checkpoint = model / "fold_0" / "checkpoint_best.pth"
    state = load_checkpoint(checkpoint)  # our own checkpoint, with its RNG-free state, loads
    save_checkpoint({**state, "payload": CreatesMarker(marker)}, checkpoint)
    write_cohort(tmp_path / "in", n_cases=1)
    code = predict_main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-m",
                         str(model), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not marker.exists()
    assert len([line for line in err if "refused" in line]) == 1
    assert "checkpoint_best.pth: refused" in err[-1]
    assert not list((tmp_path / "out").glob("*.nii.gz"))

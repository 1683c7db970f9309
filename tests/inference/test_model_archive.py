"""Archive safety: a booby-trapped checkpoint, a damaged file or an unsafe name is refused at
install time in one line, before anything is written, and no code runs."""
import hashlib
import json
import zipfile

import pytest
import torch

from autosynth.cli.model_archive import export_main, install_main
from autosynth.training.checkpointing import load_checkpoint
from autosynth.utils.files import write_json_atomic
from tests.inference.model_builders import make_model_folder
from tests.training.test_checkpoint_safety import CreatesMarker


@pytest.fixture
def archive(tmp_path, autosynth_env):
    model = make_model_folder(autosynth_env / "results", folds=("0", "1"))
    write_json_atomic(model / "intensity_reference.json", {"contrasts": {}})
    path = tmp_path / "model.zip"
    assert export_main(["-o", str(path), "-m", str(model), "-f", "0"]) == 0
    return path, model


def _rewrite(path, name, data, fix_hash=True):
    """A copy of the archive with ``name`` replaced by ``data`` (manifest hash updated)."""
    with zipfile.ZipFile(path) as old:
        files = {n: old.read(n) for n in old.namelist()}
    files[name] = data
    if fix_hash:
        manifest = json.loads(files["autosynth_archive.json"])
        manifest["files"][name] = hashlib.sha256(data).hexdigest()
        files["autosynth_archive.json"] = json.dumps(manifest).encode()
    out = path.with_name("altered.zip")
    with zipfile.ZipFile(out, "w") as new:
        for n, d in files.items():
            new.writestr(n, d)
    return out


def test_exported_checkpoints_hold_only_what_prediction_reads(archive):
    path, model = archive
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        checkpoint = [n for n in names if n.endswith(".pth")]
    assert checkpoint == ["Dataset042_Tiny/SynthesisTrainer__autosynthPlans__2d/T1_to_FLAIR/"
                          "fold_0/checkpoint_best.pth"]  # only the chosen fold
    assert "autosynth_archive.json" in names and "README.md" in names


def test_a_checkpoint_that_would_run_code_is_refused_and_nothing_runs(archive, tmp_path,
                                                                      autosynth_env, capsys):
    path, model = archive
    marker = tmp_path / "code_ran"
    evil = tmp_path / "evil.pth"
    torch.save({**load_checkpoint(model / "fold_0" / "checkpoint_best.pth"),
                "payload": CreatesMarker(marker)}, evil)
    name = ("Dataset042_Tiny/SynthesisTrainer__autosynthPlans__2d/T1_to_FLAIR/fold_0/"
            "checkpoint_best.pth")
    altered = _rewrite(path, name, evil.read_bytes())
    results = autosynth_env / "results"
    for p in sorted(results.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    capsys.readouterr()
    assert install_main([str(altered)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refused: it holds a pickled" in err[0] and name in err[0]
    assert not marker.exists()
    assert not list(results.rglob("*.json"))          # nothing was installed


def test_damaged_files_and_unsafe_names_are_refused(archive, capsys):
    path, _ = archive
    name = "Dataset042_Tiny/SynthesisTrainer__autosynthPlans__2d/T1_to_FLAIR/plans.json"
    assert install_main([str(_rewrite(path, name, b"{}", fix_hash=False))]) == 2
    assert "does not match its SHA-256" in capsys.readouterr().err
    assert install_main([str(_rewrite(path, "../outside.txt", b"x"))]) == 2
    assert "unsafe file name '../outside.txt'" in capsys.readouterr().err
    assert not (path.parent.parent / "outside.txt").exists()

"""autosynth_predict: parts, --continue, real checkpoints, and one-line errors (exit code 2)."""
import json
import os

import numpy as np
import pytest

from autosynth.cli.predict import main as predict_main
from autosynth.dataset.image_io import Geometry, read_image, write_image
from autosynth.inference import networks
from tests.inference.model_builders import OneMinus, make_model_folder, smooth_case, write_cohort


def _predict(model, inputs, out, *extra):
    return predict_main(["-i", str(inputs), "-o", str(out), "-m", str(model), "--no-progress",
                         *extra])


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def _failed_case_lines(capsys, n_failed: int) -> list[str]:
    """The one line per failed case, after checking the closing count line."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(lines), lines
    assert len(lines) == n_failed + 1 and f"{n_failed} case(s) failed" in lines[-1], lines
    return lines[:-1]


@pytest.fixture
def one_minus(monkeypatch):
    monkeypatch.setattr(networks, "load_network", lambda path, device: OneMinus())


def test_parts_cover_the_cohort_exactly_once(tmp_path, autosynth_env, one_minus):
    model = make_model_folder(autosynth_env / "results")
    ids = write_cohort(tmp_path / "in", n_cases=5)
    seen = []
    for part in range(3):
        out = tmp_path / f"out{part}"
        assert _predict(model, tmp_path / "in", out, "--num-parts", "3", "--part-id",
                        str(part)) == 0
        seen += sorted(p.name[:-7] for p in out.glob("*.nii.gz"))
    assert sorted(seen) == ids and len(seen) == len(set(seen))
    assert sorted(p.name for p in (tmp_path / "out1").glob("*.nii.gz")) == \
        [f"{ids[1]}.nii.gz", f"{ids[4]}.nii.gz"]                          # i::K of sorted ids


def test_continue_skips_finished_cases(tmp_path, autosynth_env, one_minus, capsys):
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=3)
    assert _predict(model, tmp_path / "in", tmp_path / "out") == 0
    done = tmp_path / "out" / "sub01.nii.gz"
    os.utime(done, ns=(1, 1))
    (tmp_path / "out" / "sub02.nii.gz").unlink()
    capsys.readouterr()
    assert _predict(model, tmp_path / "in", tmp_path / "out", "--continue") == 0
    assert "1 case(s) predicted, 2 skipped" in capsys.readouterr().out
    assert done.stat().st_mtime_ns == 1 and (tmp_path / "out" / "sub02.nii.gz").is_file()
    # other settings than those recorded: refused rather than mixed
    assert _predict(model, tmp_path / "in", tmp_path / "out", "--continue", "--tta") == 2
    assert "other settings" in _error_line(capsys)


def test_inputs_are_never_modified(tmp_path, autosynth_env, one_minus, capsys):
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=1, plain=True)
    before = {p.name: p.read_bytes() for p in (tmp_path / "in").iterdir()}
    assert _predict(model, tmp_path / "in", tmp_path / "in") == 2
    assert "output folder holds the input" in _error_line(capsys)
    assert _predict(model, tmp_path / "in", tmp_path / "out") == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "in").iterdir()} == before


def test_missing_contrast_is_a_clear_error(tmp_path, autosynth_env, capsys):
    model = make_model_folder(autosynth_env / "results", sources=("T1", "T2"))
    write_cohort(tmp_path / "in", n_cases=2, channels=(0, 1))
    (tmp_path / "in" / "sub01_0001.nii.gz").unlink()
    assert _predict(model, tmp_path / "in", tmp_path / "out") == 2
    [line] = _failed_case_lines(capsys, 1)
    assert "sub01_0001.nii.gz" in line and "no T2 image" in line
    assert sorted(p.name for p in (tmp_path / "out").glob("*.nii.gz")) == ["sub00.nii.gz"]


def test_geometry_mismatch_between_contrasts_is_a_clear_error(tmp_path, autosynth_env, capsys):
    model = make_model_folder(autosynth_env / "results", sources=("T1", "T2"))
    write_cohort(tmp_path / "in", n_cases=1, channels=(0, 1))
    image, mask = smooth_case()
    write_image(image, Geometry((34, 30, 18), (1.0, 1.2, 2.5), (0.0, 0.0, 0.0),
                                (1, 0, 0, 0, 1, 0, 0, 0, 1)),
                tmp_path / "in" / "sub00_0001.nii.gz")
    assert _predict(model, tmp_path / "in", tmp_path / "out") == 2
    [line] = _failed_case_lines(capsys, 1)
    assert "sub00_0001.nii.gz" in line and "spacing mismatch with sub00_0000.nii.gz" in line


def test_missing_folds_are_a_clear_error(tmp_path, autosynth_env, capsys):
    model = make_model_folder(autosynth_env / "results", folds=("0", "1"))
    write_cohort(tmp_path / "in", n_cases=1)
    assert _predict(model, tmp_path / "in", tmp_path / "out", "-f", "0", "3") == 2
    line = _error_line(capsys)
    assert "fold(s) 3" in line and "0, 1" in line
    assert not list((tmp_path / "out").glob("*.nii.gz"))


def test_unknown_model_by_name_lists_what_is_trained(tmp_path, autosynth_env, capsys):
    make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=1)
    code = predict_main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-d", "42",
                         "-s", "T2", "-t", "FLAIR", "--no-progress"])
    assert code == 2 and "T1_to_FLAIR" in _error_line(capsys)


def test_real_checkpoints_folds_and_mirroring_average(tmp_path, autosynth_env):
    """Tiny real networks: two folds with mirroring give the mean of the four passes."""
    model = make_model_folder(autosynth_env / "results", folds=("0", "1"))
    write_cohort(tmp_path / "in", n_cases=1)
    args = ["-d", "42", "-s", "T1", "-t", "FLAIR"]
    outputs = {}
    for name, extra in (("f0", ["-f", "0"]), ("f1", ["-f", "1"]), ("both", []),
                        ("tta", ["--tta"])):
        out = tmp_path / name
        assert predict_main(["-i", str(tmp_path / "in"), "-o", str(out), *args, *extra,
                             "--no-progress"]) == 0
        outputs[name] = read_image(out / "sub00.nii.gz")[0]
    info = json.loads((tmp_path / "both" / "prediction_info.json").read_text())
    assert info["model"]["folds"] == ["0", "1"] and info["model"]["folder"] == str(model)
    assert np.all((outputs["both"] >= 0) & (outputs["both"] <= 1))
    inside = (outputs["f0"] > 0) & (outputs["f1"] > 0) & (outputs["f0"] < 1) & (outputs["f1"] < 1)
    np.testing.assert_allclose(outputs["both"][inside],
                               (outputs["f0"] + outputs["f1"])[inside] / 2, atol=1e-5)
    assert not np.allclose(outputs["tta"], outputs["both"])


def test_worker_processes_give_the_same_result(tmp_path, autosynth_env):
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=2)
    assert _predict(model, tmp_path / "in", tmp_path / "one") == 0
    assert _predict(model, tmp_path / "in", tmp_path / "two", "-np", "2") == 0
    for case in ("sub00", "sub01"):
        np.testing.assert_allclose(read_image(tmp_path / "one" / f"{case}.nii.gz")[0],
                                   read_image(tmp_path / "two" / f"{case}.nii.gz")[0], atol=1e-5)


def test_uncompressed_inputs_give_outputs_in_the_models_ending(tmp_path, autosynth_env,
                                                                one_minus):
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "gz", n_cases=1, mask_folder=tmp_path / "masks")
    image, geometry = read_image(tmp_path / "gz" / "sub00_0000.nii.gz")
    write_image(image, geometry, tmp_path / "in" / "sub00_0000.nii")
    assert _predict(model, tmp_path / "in", tmp_path / "out", "--masks",
                    str(tmp_path / "masks")) == 0
    output, out_geometry = read_image(tmp_path / "out" / "sub00.nii.gz")
    assert out_geometry == geometry and output.max() > 0


@pytest.mark.slow
def test_parts_run_concurrently_into_one_folder(tmp_path, autosynth_env):
    """K processes started at once, one folder: every case once, same voxels as one run."""
    import subprocess
    import sys

    model = make_model_folder(autosynth_env / "results")
    ids = write_cohort(tmp_path / "in", n_cases=4)
    assert _predict(model, tmp_path / "in", tmp_path / "single") == 0
    command = [sys.executable, "-m", "autosynth.cli.predict", "-i", str(tmp_path / "in"),
               "-o", str(tmp_path / "shared"), "-m", str(model), "--no-progress",
               "--num-parts", "3"]
    parts = [subprocess.Popen(command + ["--part-id", str(j)]) for j in range(3)]
    assert [p.wait(timeout=300) for p in parts] == [0, 0, 0]
    written = sorted(p.name for p in (tmp_path / "shared").iterdir())
    assert written == sorted([f"{i}.nii.gz" for i in ids] + ["prediction_info.json"])
    for case in ids:
        assert np.array_equal(read_image(tmp_path / "shared" / f"{case}.nii.gz")[0],
                              read_image(tmp_path / "single" / f"{case}.nii.gz")[0])


def test_files_that_are_not_inputs_are_named(tmp_path, autosynth_env, one_minus, capsys):
    """Patients named like channels (pat_0000, pat_0001) must not vanish silently."""
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=1)
    source = next((tmp_path / "in").glob("*_0000.nii.gz"))
    (tmp_path / "in" / "pat_0000.nii.gz").write_bytes(source.read_bytes())
    (tmp_path / "in" / "pat_0001.nii.gz").write_bytes(source.read_bytes())
    assert _predict(model, tmp_path / "in", tmp_path / "out") == 0
    err = capsys.readouterr().err
    assert "pat_0001.nii.gz" in err and "not model inputs" in err

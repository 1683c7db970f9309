"""Cross-validation in the original space, find-best, and export -> install -> predict, on a
tiny dataset with two configurations (2d, 2d_paper) x two folds, really trained."""
import gzip
import json
import shutil

import numpy as np
import pytest

from autosynth.cli.find_best import main as find_best_main
from autosynth.cli.model_archive import export_main, install_main
from autosynth.cli.plan_and_preprocess import main as plan_main
from autosynth.cli.predict import main as predict_main
from autosynth.cli.train import main as train_main
from autosynth.dataset.image_io import read_image
from autosynth.evaluation.evaluator import EvaluationCase, evaluate_cases
from autosynth.evaluation.protocols import PROTOCOLS
from autosynth.evaluation.reference_scale import ReferenceScale
from autosynth.experiment_planning.plans import Plans
from autosynth.inference.inference_information import InferenceInformation
from autosynth.utils.files import read_json
from tests.builders import write_tiny_dataset

DATASET = "Dataset042_Tiny"
RUNS = {c: f"SynthesisTrainer__autosynthPlans__{c}" for c in ("2d", "2d_paper")}
pytestmark = pytest.mark.slow


def _point_at(monkeypatch, root):
    for kind, var in (("raw", "AUTOSYNTH_RAW"), ("preprocessed", "AUTOSYNTH_PREPROCESSED"),
                      ("results", "AUTOSYNTH_RESULTS")):
        monkeypatch.setenv(var, str(root / kind))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """raw/, preprocessed/ and results/ with 2d and 2d_paper trained on folds 0 and 1."""
    root = tmp_path_factory.mktemp("selection")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _point_at(monkeypatch, root)
        write_tiny_dataset(root / "raw" / DATASET, n_cases=6)
        assert plan_main(["-d", "42", "-c", "2d", "2d_paper", "-np", "1", "--no-progress"]) == 0
        plans_file = root / "preprocessed" / DATASET / "plans.json"
        plans = json.loads(plans_file.read_text())
        for config in plans["configurations"].values():   # tiny networks, two updates
            config["batch_size"] = 4
            stages = config["network"]["n_stages"]
            config["network"]["features_per_stage"] = [4, 8, 8, 8, 8][:stages]
            config["training"].update(epochs=1, iterations_per_epoch=2, val_iterations=1,
                                      augmentation=False)
        plans_file.write_text(json.dumps(plans, indent=2))
        for configuration in ("2d", "2d_paper"):
            for fold in ("0", "1"):
                assert train_main(["T1", "FLAIR", fold, "-c", configuration, "--num-workers",
                                   "0", "--no-progress"]) == 0
    return root


@pytest.fixture
def env(trained, monkeypatch):
    _point_at(monkeypatch, trained)
    return trained


def _model(root, configuration):
    return root / "results" / DATASET / RUNS[configuration] / "T1_to_FLAIR"


def _val_case(root, fold):
    return read_json(root / "preprocessed" / DATASET / "splits_final.json")["folds"][fold]["val"]


def _inputs(root, cases, folder):
    folder.mkdir(parents=True)
    for case in cases:
        shutil.copyfile(root / "raw" / DATASET / "imagesTr" / f"{case}_0000.nii.gz",
                        folder / f"{case}_0000.nii.gz")
    return folder


def test_each_fold_is_validated_in_the_original_space_and_val_redoes_it(env, capsys):
    for configuration in ("2d", "2d_paper"):
        for fold in (0, 1):
            folder = _model(env, configuration) / f"fold_{fold}" / "validation"
            summary = read_json(folder / "summary.json")
            assert sorted(summary["cases"]) == _val_case(env, fold)
            for key in ("psnr_brain", "ssim_brain", "mae_brain", "psnr", "ssim", "mae",
                        "psnr_tumour", "psnr_non_tumour_brain"):
                assert np.isfinite(summary["mean_sd"][key]["mean"]), key
            # the prediction is on the raw image's own grid
            case = _val_case(env, fold)[0]
            assert read_image(folder / f"{case}.nii.gz")[1] == read_image(
                env / "raw" / DATASET / "imagesTr" / f"{case}_0000.nii.gz")[1]
    folder = _model(env, "2d") / "fold_1" / "validation"
    before = read_json(folder / "summary.json")["cases"]
    shutil.rmtree(folder)
    assert train_main(["T1", "FLAIR", "1", "--val"]) == 0
    assert read_json(folder / "summary.json")["cases"] == before
    assert "validation (1 case(s), original space)" in capsys.readouterr().out


def test_find_best_reports_missing_folds_clearly(env, capsys):
    assert find_best_main(["-d", "42", "-s", "T1", "-t", "FLAIR", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "no validation of fold(s) 2, 3, 4" in err and "--val" in err
    assert "Traceback" not in err


def _score(root, predictions, cases, plan_configuration):
    raw = root / "raw" / DATASET
    plans = Plans.load(_model(root, plan_configuration) / "plans.json")
    scale = ReferenceScale(plans.configuration(plan_configuration).normalization["FLAIR"], "t")
    pairs = [EvaluationCase(c, predictions[c], raw / "imagesTr" / f"{c}_0002.nii.gz",
                            raw / "masksTr" / f"{c}.nii.gz", raw / "labelsTr" / f"{c}.nii.gz",
                            raw / "imagesTr" / f"{c}_0000.nii.gz") for c in cases]
    return evaluate_cases(pairs, scale, 0, progress=False, protocols=PROTOCOLS)


def test_find_best_command_reproduces_the_reported_numbers(env, tmp_path, capsys):
    assert find_best_main(["-d", "42", "-s", "T1", "-t", "FLAIR", "-f", "0", "1",
                           "--no-progress"]) == 0
    best = env / "results" / DATASET / "find_best" / "T1_to_FLAIR"
    info = InferenceInformation.from_dict(read_json(best / "inference_information.json"))
    assert [r["name"] for r in info.ranking].count(f"{RUNS['2d']} + {RUNS['2d_paper']}") == 1
    assert len(info.ranking) == 3
    assert info.predict_command() in (best / "inference_instructions.md").read_text()
    assert info.predict_command() in capsys.readouterr().out
    chosen = info.ranking[0]
    reported = read_json(chosen["summary"])
    # the instructions' command, fold by fold on that fold's validation cases
    predictions = {}
    for fold in (0, 1):
        cases = _val_case(env, fold)
        inputs = _inputs(env, cases, tmp_path / f"in{fold}")
        arguments = info.predict_arguments(str(inputs), str(tmp_path / f"out{fold}"),
                                           folds=[str(fold)])
        assert predict_main([*arguments, "--masks", str(env / "raw" / DATASET / "masksTr"),
                             "--no-progress"]) == 0
        predictions.update({c: tmp_path / f"out{fold}" / f"{c}.nii.gz" for c in cases})
    scores = _score(env, predictions, sorted(predictions), info.members[0].configuration)
    for case, metrics in scores.items():
        for key in ("psnr_brain", "ssim_brain", "mae_brain", "psnr", "ssim"):
            assert metrics[key] == pytest.approx(reported["cases"][case][key], rel=1e-6), key
    assert chosen["psnr_brain"] == pytest.approx(
        np.mean([m["psnr_brain"] for m in scores.values()]), rel=1e-9)

    # the ensemble row: `autosynth_predict -c 2d 2d_paper -f k` gives its validation files
    ensemble = best / "ensembles" / f"{RUNS['2d']}--{RUNS['2d_paper']}"
    for fold in (0, 1):
        out = tmp_path / f"ens{fold}"
        assert predict_main(["-i", str(tmp_path / f"in{fold}"), "-o", str(out), "-d", "42",
                             "-s", "T1", "-t", "FLAIR", "-c", "2d", "2d_paper", "-f", str(fold),
                             "--masks", str(env / "raw" / DATASET / "masksTr"),
                             "--no-progress"]) == 0
        for case in _val_case(env, fold):
            assert np.array_equal(read_image(out / f"{case}.nii.gz")[0],
                                  read_image(ensemble / f"{case}.nii.gz")[0])
            members = [read_image(_model(env, c) / f"fold_{fold}" / "validation"
                                  / f"{case}.nii.gz")[0].astype(np.float64)
                       for c in ("2d", "2d_paper")]
            np.testing.assert_allclose(read_image(ensemble / f"{case}.nii.gz")[0],
                                       np.mean(members, axis=0), rtol=0, atol=1e-7)


def _nifti_bytes(path):
    return gzip.decompress(path.read_bytes())


def test_export_delete_install_predicts_bit_identically(trained, tmp_path, monkeypatch, capsys):
    root = tmp_path / "copy"
    for kind in ("raw", "preprocessed", "results"):
        shutil.copytree(trained / kind, root / kind)
    _point_at(monkeypatch, root)
    cohort = _inputs(root, ["case_004", "case_001"], tmp_path / "cohort")
    ensemble = ["-d", "42", "-s", "T1", "-t", "FLAIR", "-c", "2d", "2d_paper",
                "--no-progress"]
    before = {}
    for name, extra in (("plain", []), ("denorm", ["--denormalize"])):
        assert predict_main(["-i", str(cohort), "-o", str(tmp_path / f"before_{name}"),
                             *ensemble, *extra]) == 0
        before[name] = {p.name: _nifti_bytes(p)
                        for p in sorted((tmp_path / f"before_{name}").glob("*.nii.gz"))}
    archive = tmp_path / "model.zip"
    assert export_main(["-o", str(archive), "-d", "42", "-s", "T1", "-t", "FLAIR", "-c", "2d",
                        "2d_paper", "-f", "0", "1"]) == 0
    assert find_best_main(["-d", "42", "-s", "T1", "-t", "FLAIR", "-f", "0", "1",
                           "--no-progress"]) == 0
    chosen = tmp_path / "best.zip"
    assert export_main(["-o", str(chosen), "-d", "42", "-s", "T1", "-t", "FLAIR", "--best"]) == 0
    shutil.rmtree(root / "results")
    shutil.rmtree(root / "preprocessed")
    assert install_main([str(archive)]) == 0
    assert install_main([str(archive)]) == 0          # the same model again: a no-op
    assert install_main([str(chosen)]) == 0           # same model files, plus the choice
    assert predict_main(["-i", str(cohort), "-o", str(tmp_path / "best"), "-s", "T1", "-t",
                         "FLAIR", "--best", "--no-progress"]) == 0
    assert len(list((tmp_path / "best").glob("*.nii.gz"))) == 2
    installed = _model(root, "2d")
    assert (installed / "README.md").is_file() and (installed / "LICENCE.txt").is_file()
    assert "| fold 0 | 1 |" in (installed / "README.md").read_text()
    for name, extra in (("plain", []), ("denorm", ["--denormalize"])):
        assert predict_main(["-i", str(cohort), "-o", str(tmp_path / f"after_{name}"),
                             *ensemble, *extra]) == 0
        after = {p.name: _nifti_bytes(p)
                 for p in sorted((tmp_path / f"after_{name}").glob("*.nii.gz"))}
        assert after == before[name] and len(after) == 2
    assert before["plain"] != before["denorm"]

    # a different model in the way is never overwritten
    plans = installed / "plans.json"
    plans.write_text(plans.read_text().replace('"batch_size": 4', '"batch_size": 5'))
    capsys.readouterr()
    assert install_main([str(archive)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refusing to overwrite a different model" in err[0]
    assert '"batch_size": 5' in plans.read_text()

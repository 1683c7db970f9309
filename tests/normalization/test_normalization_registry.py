"""A normalisation scheme added as one class works through preprocess, predict and evaluate.

``BrainMinMax01`` below is the whole extension: nothing else in autosynth is edited. Each test
would fail if a stage matched scheme names itself instead of asking the registry (the plan
would be rejected, the arrays or predictions would be on another scale, or evaluation would
normalise the references differently).
"""
import json
import sys

import numpy as np
import pytest
from scipy import ndimage

from autosynth.cli.evaluate import build_parser as evaluate_parser
from autosynth.cli.evaluate import main as evaluate_main
from autosynth.cli.plan_and_preprocess import main as plan_and_preprocess_main
from autosynth.cli.plan_and_preprocess import preprocess_main
from autosynth.cli.predict import main as predict_main
from autosynth.dataset.image_io import read_image, write_image_like
from autosynth.experiment_planning.plans import NormalizationPlan, Plans, PlansError
from autosynth.inference import networks
from autosynth.normalization import (EPSILON, EXTRA_MODULES_VARIABLE, LinearWindowScheme,
                                     NormalizationError, brain_values, get_scheme,
                                     normalization_parameters, normalize, register,
                                     scheme_names, unregister)
from autosynth.preprocessing import load_case
from autosynth.utils.files import write_json_atomic
from tests.inference.model_builders import OneMinus, make_model_folder, tiny_plan, write_cohort

NAME = "brain_minmax_01"


class BrainMinMax01(LinearWindowScheme):
    """The case's brain minimum and maximum mapped to 0 and 1."""

    name = NAME
    reference_statistics = ("min", "max")

    def case_parameters(self, image, mask, plan):
        values = brain_values(image, mask)
        low, high = float(values.min()), float(values.max())
        return {"low": low, "high": max(high, low + EPSILON)}

    def window(self, params):
        return params["low"], params["high"]

    def denormalization_parameters(self, statistics, plan):
        return {"low": statistics["min"], "high": statistics["max"]}


@pytest.fixture
def extra_module(monkeypatch):
    """AUTOSYNTH_EXTRA_NORMALIZATIONS naming a module that registers ``brain_max_01``."""
    module = "tests.normalization.extra_normalization"
    monkeypatch.setenv(EXTRA_MODULES_VARIABLE, module)
    yield "brain_max_01"
    unregister("brain_max_01")
    sys.modules.pop(module, None)


@pytest.fixture
def minmax():
    register(BrainMinMax01)
    yield get_scheme(NAME)
    unregister(NAME)


def _minmax(image, brain):
    low, high = image[brain].min(), image[brain].max()
    return np.where(brain, (image - low) / (high - low), 0.0)


def test_an_unregistered_scheme_is_rejected_by_the_plan_and_the_evaluate_cli():
    plan = NormalizationPlan(NAME)
    assert plan.problems() == [f"scheme '{NAME}' is not one of brain_zscore_01, percentile_01, "
                               "none (a scheme of your own: name its module in "
                               "AUTOSYNTH_EXTRA_NORMALIZATIONS)"]
    with pytest.raises(NormalizationError, match=f"unknown normalisation scheme '{NAME}'"):
        get_scheme(NAME)
    with pytest.raises(SystemExit):
        evaluate_parser().parse_args(["-ref", "r", "-pred", "p", "--normalization", NAME])


def test_preprocessing_uses_the_edited_plan(minmax, tiny_dataset, autosynth_env):
    assert plan_and_preprocess_main(["-d", "42", "-c", "2d", "-np", "1", "--no-progress"]) == 0
    plans_file = autosynth_env / "preprocessed" / "Dataset042_Tiny" / "plans.json"
    plans = json.loads(plans_file.read_text())
    plans["configurations"]["2d"]["normalization"]["T2"] = {"scheme": NAME}
    plans_file.write_text(json.dumps(plans, indent=2))
    assert Plans.load(plans_file).configurations["2d"].normalization["T2"].scheme == NAME
    assert preprocess_main(["-d", "42", "-c", "2d", "-np", "1", "--no-progress"]) == 0

    data, mask, _, props = load_case(plans_file.parent / "2d", "case_001")
    image = read_image(tiny_dataset / "imagesTr" / "case_001_0001.nii.gz")[0]
    brain = read_image(tiny_dataset / "masksTr" / "case_001.nii.gz")[0] > 0
    assert props.normalization["T2"] == {"scheme": NAME, "low": float(image[brain].min()),
                                         "high": float(image[brain].max())}
    assert props.normalization["T1"]["scheme"] == "brain_zscore_01"
    t2 = np.asarray(data[1])[np.asarray(mask) > 0]
    assert t2.min() >= 0 and t2.max() <= 1 and t2.max() > 0.95   # the brain maximum is 1


def test_predict_denormalize_and_evaluate(minmax, tmp_path, autosynth_env, monkeypatch):
    monkeypatch.setattr(networks, "load_network", lambda path, device: OneMinus())
    plans = tiny_plan()
    for contrast in plans.contrasts:
        plans.configurations["2d"].normalization[contrast] = NormalizationPlan(NAME)
    model = make_model_folder(autosynth_env / "results", plans=plans)
    ids = write_cohort(tmp_path / "in", n_cases=2, mask_folder=tmp_path / "masks")
    common = ["-i", str(tmp_path / "in"), "-m", str(model), "--masks", str(tmp_path / "masks"),
              "--no-progress"]

    # predict: the network sees the source min-max normalised, its output is written as is
    assert predict_main([*common, "-o", str(tmp_path / "pred")]) == 0
    info = json.loads((tmp_path / "pred" / "prediction_info.json").read_text())
    assert info["target_normalization"]["scheme"] == NAME
    (tmp_path / "ref").mkdir()
    expected_mae = []
    for case in ids:
        source, _ = read_image(tmp_path / "in" / f"{case}_0000.nii.gz")
        brain = read_image(tmp_path / "masks" / f"{case}.nii.gz")[0] > 0
        prediction = read_image(tmp_path / "pred" / f"{case}.nii.gz")[0]
        inner = ndimage.binary_erosion(brain, np.ones((1, 5, 5), bool))   # away from the edge
        error = np.abs(prediction - (1 - _minmax(source, brain)))[inner]
        assert error.mean() < 0.005 and error.max() < 0.05, (error.mean(), error.max())
        # a reference on its own scale whose min-max normalisation is 1 - that of the source
        low, high = source[brain].min(), source[brain].max()
        reference = np.where(brain, 3 * (low + high - source) + 50, 0).astype(np.float32)
        write_image_like(reference, tmp_path / "in" / f"{case}_0000.nii.gz",
                         tmp_path / "ref" / f"{case}.nii.gz")
        expected_mae.append(np.abs(prediction - _minmax(reference, brain))[brain].mean())

    # evaluate: the references are put on the model's scale by the scheme from prediction_info
    # (MAE ~0.03, all at the brain edge; percentile_01 references would give 23 % more)
    for extra in ([], ["--normalization", NAME]):
        assert evaluate_main(["-ref", str(tmp_path / "ref"), "-pred", str(tmp_path / "pred"),
                              "--masks", str(tmp_path / "masks"), "--no-figures",
                              "--no-progress", *extra]) == 0
        summary = json.loads((tmp_path / "pred" / "summary.json").read_text())
        assert summary["normalization"]["scheme"] == NAME
        for case, mae in zip(ids, expected_mae):
            assert summary["cases"][case]["mae_brain"] == pytest.approx(mae, rel=1e-5)
    assert summary["normalization"]["origin"] == f"--normalization {NAME}"

    # --denormalize: x = min + y * (max - min) with the development cases' median min and max
    preprocessed = autosynth_env / "preprocessed" / "Dataset042_Tiny"
    write_json_atomic(preprocessed / "fingerprint.json", {"contrasts": ["FLAIR"], "cases": {
        f"case_{i}": {"intensity": {"FLAIR": {"mean": 1.0, "std": 1.0, "percentile_00_5": 0.0,
                                              "percentile_99_5": 1.0, "min": 10.0 + i,
                                              "max": 300.0 + 10 * i}}} for i in range(3)}})
    assert predict_main([*common, "-o", str(tmp_path / "denorm"), "--denormalize"]) == 0
    for case in ids:
        y = read_image(tmp_path / "pred" / f"{case}.nii.gz")[0]
        x = read_image(tmp_path / "denorm" / f"{case}.nii.gz")[0]
        brain = read_image(tmp_path / "masks" / f"{case}.nii.gz")[0] > 0
        np.testing.assert_allclose(x[brain], 11.0 + y[brain] * (310.0 - 11.0), rtol=1e-5)


def test_a_users_module_named_in_the_environment_registers_its_schemes(extra_module,
                                                                         monkeypatch):
    assert extra_module in evaluate_parser().parse_args(
        ["-ref", "r", "-pred", "p", "--normalization", extra_module]).normalization
    image = np.array([[[0.0, 2.0, 4.0, 8.0]]], dtype=np.float32)
    brain = image > 1
    params = normalization_parameters(image, brain, NormalizationPlan(extra_module))
    assert params == {"scheme": extra_module, "high": 8.0}
    np.testing.assert_array_equal(normalize(image, brain, params), [[[0, 0.25, 0.5, 1]]])
    monkeypatch.setenv(EXTRA_MODULES_VARIABLE, "no_such_module_for_autosynth")
    with pytest.raises(NormalizationError, match="names 'no_such_module_for_autosynth'"):
        scheme_names()


def test_denormalize_names_a_statistic_the_fingerprint_lacks(minmax, tmp_path, autosynth_env,
                                                             capsys):
    plans = tiny_plan()
    plans.configurations["2d"].normalization["FLAIR"] = NormalizationPlan(NAME)
    model = make_model_folder(autosynth_env / "results", plans=plans)
    write_json_atomic(autosynth_env / "preprocessed" / "Dataset042_Tiny" / "fingerprint.json",
                      {"contrasts": ["FLAIR"], "cases": {"case_0": {"intensity": {"FLAIR": {
                          "mean": 1.0, "std": 1.0, "percentile_00_5": 0.0,
                          "percentile_99_5": 1.0}}}}})
    write_cohort(tmp_path / "in", n_cases=1)
    assert predict_main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-m",
                         str(model), "--denormalize", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "has no min, max of 'FLAIR'" in err and len(err.strip().splitlines()) == 1


def test_a_plan_naming_the_scheme_loads_only_while_it_is_registered(minmax):
    data = tiny_plan().to_dict()
    data["configurations"]["2d"]["normalization"]["T1"] = {"scheme": NAME}
    assert Plans.from_dict(data).configurations["2d"].normalization["T1"].scheme == NAME
    unregister(NAME)
    with pytest.raises(PlansError, match=f"normalization.T1: scheme '{NAME}' is not one of"):
        Plans.from_dict(data)

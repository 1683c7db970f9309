"""Ensembles of model folders and of prediction folders, and --save-std (tiny real networks:
spatial 3x3 kernels, so a wrong slicing or flip would change the values)."""
import shutil

import numpy as np
import pytest

from autosynth.cli.ensemble import main as ensemble_main
from autosynth.cli.predict import main as predict_main
from autosynth.dataset.image_io import Geometry, read_image, write_image
from autosynth.utils.files import read_json, write_json_atomic
from tests.inference.model_builders import make_model_folder, tiny_plan, write_cohort


def _predict(model, inputs, out, *extra):
    models = [str(m) for m in (model if isinstance(model, list) else [model])]
    return predict_main(["-i", str(inputs), "-o", str(out), "-m", *models, "--no-progress",
                         *extra])


def _read(path):
    return read_image(path)[0]


@pytest.fixture
def two_models(tmp_path, autosynth_env):
    """Two model folders of one translation: other weights, another patch (so another
    sliding-window tiling) in the second."""
    first = make_model_folder(autosynth_env / "results", seed=0)
    second = make_model_folder(tmp_path / "other", seed=5, plans=tiny_plan(patch=(24, 24)))
    write_cohort(tmp_path / "in", n_cases=2)
    return first, second


def test_predicting_with_two_model_folders_is_their_voxelwise_mean(tmp_path, two_models):
    first, second = two_models
    for name, model in (("a", first), ("b", second), ("ab", [first, second])):
        assert _predict(model, tmp_path / "in", tmp_path / name) == 0
    for case in ("sub00", "sub01"):
        a, b = (_read(tmp_path / n / f"{case}.nii.gz") for n in ("a", "b"))
        both = _read(tmp_path / "ab" / f"{case}.nii.gz")
        assert not np.array_equal(a, b)
        np.testing.assert_allclose(both, (a.astype(np.float64) + b) / 2, rtol=0, atol=1e-7)
    info = read_json(tmp_path / "ab" / "prediction_info.json")
    assert [m["folder"] for m in info["model"]["ensemble"]] == [str(first), str(second)]

    # autosynth_ensemble of the two finished folders gives the same bits
    assert ensemble_main(["-i", str(tmp_path / "a"), str(tmp_path / "b"), "-o",
                          str(tmp_path / "ens")]) == 0
    for case in ("sub00", "sub01"):
        assert np.array_equal(_read(tmp_path / "ens" / f"{case}.nii.gz"),
                              _read(tmp_path / "ab" / f"{case}.nii.gz"))
        assert read_image(tmp_path / "ens" / f"{case}.nii.gz")[1] == \
            read_image(tmp_path / "in" / f"{case}_0000.nii.gz")[1]


def test_the_ensemble_of_a_folder_with_itself_is_the_folder(tmp_path, two_models):
    first, _ = two_models
    assert _predict(first, tmp_path / "in", tmp_path / "a") == 0
    assert ensemble_main(["-i", str(tmp_path / "a"), str(tmp_path / "a"), "-o",
                          str(tmp_path / "aa")]) == 0
    for case in ("sub00", "sub01"):
        assert np.array_equal(_read(tmp_path / "aa" / f"{case}.nii.gz"),
                              _read(tmp_path / "a" / f"{case}.nii.gz"))
    assert read_json(tmp_path / "aa" / "prediction_info.json")["intensity_scale"] == \
        "normalised [0, 1]"
    # the same model folder twice in autosynth_predict: also the folder itself
    assert _predict([first, first], tmp_path / "in", tmp_path / "a2") == 0
    assert np.array_equal(_read(tmp_path / "a2" / "sub00.nii.gz"),
                          _read(tmp_path / "a" / "sub00.nii.gz"))


def test_ensemble_refuses_other_grids_cases_and_scales_in_one_line(tmp_path, two_models,
                                                                    capsys):
    first, _ = two_models
    assert _predict(first, tmp_path / "in", tmp_path / "a") == 0
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "a", moved)
    image, geometry = read_image(moved / "sub01.nii.gz")
    write_image(image, Geometry(geometry.size, (1.0, 1.2, 2.5), geometry.origin,
                                geometry.direction), moved / "sub01.nii.gz")
    capsys.readouterr()
    assert ensemble_main(["-i", str(tmp_path / "a"), str(moved), "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sub01.nii.gz: its grid differs" in err[0] and "spacing" in err[0]

    fewer = tmp_path / "fewer"
    shutil.copytree(tmp_path / "a", fewer)
    (fewer / "sub01.nii.gz").unlink()
    assert ensemble_main(["-i", str(tmp_path / "a"), str(fewer), "-o", str(tmp_path / "x")]) == 2
    assert "its cases differ" in capsys.readouterr().err

    other_scale = tmp_path / "scale"
    shutil.copytree(tmp_path / "a", other_scale)
    info = read_json(other_scale / "prediction_info.json")
    info["intensity_scale"] = "target contrast (denormalised)"
    write_json_atomic(other_scale / "prediction_info.json", info)
    assert ensemble_main(["-i", str(tmp_path / "a"), str(other_scale), "-o",
                          str(tmp_path / "x")]) == 2
    assert "different scales" in capsys.readouterr().err


def test_save_std_is_numpys_std_over_the_folds_and_zero_where_they_agree(tmp_path,
                                                                         autosynth_env):
    model = make_model_folder(autosynth_env / "results", folds=("0", "1", "2"), seed=3)
    write_cohort(tmp_path / "in", n_cases=1)
    for fold in ("0", "1", "2"):
        assert _predict(model, tmp_path / "in", tmp_path / f"f{fold}", "-f", fold) == 0
    assert _predict(model, tmp_path / "in", tmp_path / "all", "--save-std") == 0
    folds = np.stack([_read(tmp_path / f"f{k}" / "sub00.nii.gz") for k in "012"])
    std_file = tmp_path / "all" / "std" / "sub00.nii.gz"
    std, geometry = read_image(std_file)
    assert geometry == read_image(tmp_path / "in" / "sub00_0000.nii.gz")[1]
    np.testing.assert_allclose(std, np.std(folds.astype(np.float64), axis=0), rtol=0,
                               atol=1e-7)
    assert std.max() > 1e-3
    assert not (tmp_path / "f0" / "std").exists()   # only on request

    # three folds with one and the same network: the spread is 0 everywhere
    for fold in ("1", "2"):
        shutil.copyfile(model / "fold_0" / "checkpoint_best.pth",
                        model / f"fold_{fold}" / "checkpoint_best.pth")
    assert _predict(model, tmp_path / "in", tmp_path / "same", "--save-std", "--tta") == 0
    same = _read(tmp_path / "same" / "std" / "sub00.nii.gz")
    mirrored = _read(tmp_path / "same" / "sub00.nii.gz")
    assert mirrored.max() > 0
    assert same.max() > 0   # with --tta the mirrored passes differ from the plain ones
    assert _predict(model, tmp_path / "in", tmp_path / "same_plain", "--save-std") == 0
    assert np.all(_read(tmp_path / "same_plain" / "std" / "sub00.nii.gz") == 0)

import pytest

from autosynth import paths


def test_roots_default_under_home_and_are_created(tmp_path, monkeypatch):
    for var in ("AUTOSYNTH_RAW", "AUTOSYNTH_PREPROCESSED", "AUTOSYNTH_RESULTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AUTOSYNTH_HOME", str(tmp_path / "home"))
    assert paths.raw_root() == tmp_path / "home" / "raw"
    assert paths.preprocessed_root() == tmp_path / "home" / "preprocessed"
    assert paths.results_root() == tmp_path / "home" / "results"
    assert (tmp_path / "home" / "results").is_dir()


def test_explicit_variable_wins(autosynth_env, monkeypatch):
    monkeypatch.setenv("AUTOSYNTH_RAW", str(autosynth_env / "elsewhere"))
    assert paths.raw_root() == autosynth_env / "elsewhere"


@pytest.mark.parametrize("identifier", ["7", "007", 7, "Dataset007_Brain", "Brain"])
def test_lookup_by_id_or_name(autosynth_env, identifier):
    (autosynth_env / "raw" / "Dataset007_Brain").mkdir(parents=True)
    (autosynth_env / "raw" / "Dataset008_Other").mkdir()
    assert paths.find_dataset_name(identifier) == "Dataset007_Brain"
    assert paths.raw_dataset_folder(identifier) == autosynth_env / "raw" / "Dataset007_Brain"


def test_lookup_finds_datasets_that_exist_only_in_results(autosynth_env):
    (autosynth_env / "results" / "Dataset012_Trained").mkdir(parents=True)
    assert paths.find_dataset_name(12) == "Dataset012_Trained"


def test_unknown_dataset_lists_what_exists(autosynth_env):
    (autosynth_env / "raw" / "Dataset007_Brain").mkdir(parents=True)
    with pytest.raises(paths.DatasetNotFoundError) as err:
        paths.find_dataset_name("9")
    assert "'9'" in str(err.value) and "Dataset007_Brain" in str(err.value)


def test_ambiguous_id_is_refused(autosynth_env):
    (autosynth_env / "raw" / "Dataset007_A").mkdir(parents=True)
    (autosynth_env / "raw" / "Dataset007_B").mkdir()
    with pytest.raises(paths.DatasetNotFoundError, match="ambiguous"):
        paths.find_dataset_name("7")


def test_dataset_name_format():
    assert paths.dataset_name(1, "BraTS2018") == "Dataset001_BraTS2018"
    assert paths.parse_dataset_name("Dataset001_BraTS2018") == (1, "BraTS2018")
    assert paths.parse_dataset_name("BraTS2018") is None

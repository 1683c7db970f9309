import pytest

from tests.builders import write_tiny_dataset


@pytest.fixture
def autosynth_env(tmp_path, monkeypatch):
    """Point the three autosynth roots at a temporary folder."""
    for kind, var in (("raw", "AUTOSYNTH_RAW"), ("preprocessed", "AUTOSYNTH_PREPROCESSED"),
                      ("results", "AUTOSYNTH_RESULTS")):
        monkeypatch.setenv(var, str(tmp_path / kind))
    return tmp_path


@pytest.fixture
def tiny_dataset(autosynth_env):
    """A 3-case, 3-contrast 24x32x32 dataset registered as Dataset042_Tiny."""
    return write_tiny_dataset(autosynth_env / "raw" / "Dataset042_Tiny")
